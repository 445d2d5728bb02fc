// Shared live state: one backend event subscription fanned out to views, and the
// "backend not reachable" banner state.
import { ApiError, onEvent, type ApiEvent } from "../lib/api";

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

/** Calls `f` at most once per `ms`, after the last call. */
export function debounce(f: () => void, ms: number): (() => void) & { cancel: () => void } {
  let t: ReturnType<typeof setTimeout> | null = null;
  const d = () => {
    if (t) clearTimeout(t);
    t = setTimeout(() => {
      t = null;
      f();
    }, ms);
  };
  d.cancel = () => {
    if (t) clearTimeout(t);
    t = null;
  };
  return d;
}

/** True when an index pass changed rows (a pass that found nothing new needs no refetch). */
export function changedSomething(r: { files_indexed: number; files_removed: number }): boolean {
  return r.files_indexed > 0 || r.files_removed > 0;
}
