// Pure display helpers (no DOM, no backend): statuses, times, durations, sizes, scores.
import type { RunRow } from "./api-types";

export type RunStatus = "solved" | "not_solved" | "running" | "interrupted" | "error";
export const RUN_STATUSES: RunStatus[] = ["solved", "not_solved", "running", "interrupted", "error"];
export const STATUS_LABEL: Record<RunStatus, string> = {
  solved: "solved",
  not_solved: "not solved",
  running: "running",
  interrupted: "interrupted",
  error: "error",
};

/** One status per run, from its state, final status and solved flag. */
export function runStatus(r: Pick<RunRow, "state" | "final_status" | "solved">): RunStatus {
  if (r.state === "running") return "running";
  if (r.state === "interrupted") return "interrupted";
  if (r.state === "error") return "error";
  const fs = (r.final_status ?? "").toLowerCase();
  if (r.solved === true || fs === "solved") return "solved";
  if (fs === "error" || fs === "failed") return "error";
  if (fs === "interrupted" || fs === "cancelled") return "interrupted";
  if (fs === "running") return "running";
  return "not_solved";
}

/** Chip class for an iteration / phase status string as written in result.json. */
export function statusTone(s: string | null | undefined): "ok" | "bad" | "warn" | "run" | "muted" {
  const v = (s ?? "").toLowerCase();
  if (!v) return "muted";
  if (["solved", "passed", "ok", "success", "succeeded", "completed", "done", "verified"].includes(v))
    return "ok";
  if (["running", "pending", "in_progress", "started"].includes(v)) return "run";
  if (["error", "failed", "failure", "timeout", "timed_out", "crashed", "invalid"].includes(v))
    return "bad";
  if (["blocked", "interrupted", "cancelled", "skipped", "warning", "partial", "not_solved", "unsolved"].includes(v))
    return "warn";
  return "muted";
}

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "3s ago", "5m ago", "2h ago", "4d ago", or a date for older times. */
export function relTime(iso: string | null | undefined, now: number = Date.now()): string {
  const t = parseTime(iso);
  if (t === null) return "—";
  const s = Math.round((now - t) / 1000);
  if (s < 0) return "just now";
  if (s < 45) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 36) return `${h}h ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d}d ago`;
  return new Date(t).toISOString().slice(0, 10);
}

/** "2026-11-25 14:23:50" in local time. */
export function absTime(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return "";
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(
    d.getMinutes(),
  )}:${p(d.getSeconds())}`;
}

/** "850ms", "12.3s", "4m 05s", "2h 03m". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s).padStart(2, "0")}s`;
}

/** Seconds between two ISO times, or null. */
export function secondsBetween(a: string | null | undefined, b: string | null | undefined): number | null {
  const ta = parseTime(a);
  const tb = parseTime(b);
  if (ta === null || tb === null) return null;
  return Math.max(0, (tb - ta) / 1000);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Scores with at most 3 decimals, trailing zeros dropped. */
export function score(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toFixed(3)));
}

/** Last path component of a workspace path. */
export function shortPath(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

export function plural(n: number, word: string, many = word + "s"): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Splits `text` into pieces, marking those that match one of `terms` (case-insensitive).
 *  A trailing `*` on a term (a prefix term) is ignored. */
export function highlight(text: string, terms: string[]): { text: string; hit: boolean }[] {
  const clean = terms
    .map((t) => t.replace(/\*+$/, "").replace(/^"|"$/g, "").trim())
    .filter((t) => t.length > 0);
  if (!clean.length || !text) return [{ text, hit: false }];
  const esc = clean.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(${esc.join("|")})`, "gi");
  const out: { text: string; hit: boolean }[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const i = m.index ?? 0;
    if (m[0].length === 0) continue;
    if (i > last) out.push({ text: text.slice(last, i), hit: false });
    out.push({ text: m[0], hit: true });
    last = i + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), hit: false });
  return out.length ? out : [{ text, hit: false }];
}

/** Phase key of a phase file's phase (`repair_1/build` → `repair_1`). */
export function phaseKey(filePhase: string): string {
  const i = filePhase.indexOf("/");
  return i >= 0 ? filePhase.slice(0, i) : filePhase;
}

const PHASE_ORDER = ["attempt", "post_attempt", "reflection", "build"];
/** Orders phases as they run: attempt, post_attempt, reflection, build, repair_1, repair_2… */
export function phaseOrder(a: string, b: string): number {
  const rank = (p: string) => {
    const i = PHASE_ORDER.indexOf(p);
    if (i >= 0) return i * 1000;
    const m = /^repair_(\d+)$/.exec(p);
    if (m) return 4000 + Number(m[1]);
    return 9000;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}
