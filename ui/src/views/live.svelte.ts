// Shared live state: one backend event subscription fanned out to views, and the
// "backend not reachable" banner state.
import { api, ApiError, onEvent, type ApiEvent, type Progress } from "../lib/api";

type Listener = (ev: ApiEvent) => void;
const listeners = new Set<Listener>();
let stop: (() => void) | null = null;

export const conn = $state({ unreachable: false, message: "", retries: 0 });

/** Subscribes to backend events; returns the unsubscribe function. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  if (!stop) {
    try {
      stop = onEvent((ev) => {
        for (const f of [...listeners]) {
          try {
            f(ev);
          } catch (e) {
            console.error(e);
          }
        }
      });
    } catch (e) {
      console.error("event stream unavailable", e);
    }
  }
  return () => {
    listeners.delete(l);
  };
}

/** The running full index pass (the first one after start, or a rescan); null when none runs. */
export const indexing = $state<{ progress: Progress | null }>({ progress: null });
let tracking = false;

/** Follows the index pass: its state at load (`info`), then its progress events. */
export function trackIndexing(): void {
  if (tracking) return;
  tracking = true;
  let heard = false;
  subscribe((ev) => {
    if (ev.type === "progress") indexing.progress = ev.progress;
    else if (ev.type === "indexed" || ev.type === "error") indexing.progress = null;
    else return;
    heard = true;
  });
  api
    .info()
    .then((i) => {
      if (!heard) indexing.progress = i.indexing;
    })
    .catch(() => {});
}

/** Notes an error: unreachable backends raise the banner; everything else is the view's. */
export function noteError(e: unknown): void {
  if (e instanceof ApiError && e.kind === "unreachable") {
    conn.unreachable = true;
    conn.message = e.message;
  }
}

export function noteOk(): void {
  if (conn.unreachable) conn.unreachable = false;
}

/** Asks every view to reload (the banner's Retry). */
export function retryAll(): void {
  conn.retries++;
}

/** True when an index pass changed rows (a pass that found nothing new needs no refetch). */
export function changedSomething(r: { files_indexed: number; files_removed: number }): boolean {
  return r.files_indexed > 0 || r.files_removed > 0;
}
