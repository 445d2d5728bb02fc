// Runs table: display rows computed once per fetch, filtering, sorting, and remembered prefs.
import type { RunRow } from "./api-types";
import {
  absTime,
  duration,
  parseTime,
  relTime,
  runStatus,
  score,
  secondsBetween,
  shortPath,
  STATUS_LABEL,
  RUN_STATUSES,
  type RunStatus,
} from "./format";

export type SortKey =
  | "run_id"
  | "workspace"
  | "runner"
  | "status"
  | "iterations"
  | "best"
  | "duration"
  | "started"
  | "calls"
  | "errors";
export const SORT_KEYS: SortKey[] = [
  "run_id",
  "workspace",
  "runner",
  "status",
  "iterations",
  "best",
  "duration",
  "started",
  "calls",
  "errors",
];

export type RunsPrefs = {
  q: string;
  status: RunStatus[];
  sort: SortKey;
  dir: "asc" | "desc";
};
export const DEFAULT_PREFS: RunsPrefs = { q: "", status: [], sort: "started", dir: "desc" };

/** A run with every display string computed once (rows render without work). */
export type DisplayRun = {
  row: RunRow;
  key: string;
  status: RunStatus;
  statusLabel: string;
  wsShort: string;
  runner: string;
  iterations: string;
  best: string;
  durationSec: number | null;
  durationText: string;
  startedMs: number | null;
  startedRel: string;
  startedAbs: string;
  calls: number;
  errors: number;
  task: string;
  /** Lower-cased text the filter box matches. */
  haystack: string;
};

export function runKey(r: Pick<RunRow, "workspace" | "run_id">): string {
  return r.workspace + "\u0000" + r.run_id;
}

export function toDisplay(r: RunRow, now: number = Date.now()): DisplayRun {
  const status = runStatus(r);
  const durationSec = secondsBetween(r.started_at, r.last_activity_at);
  const task = r.task_path ?? "";
  const runner = r.runner ?? "";
  const bestVal = r.best_score ?? r.best_reported_score;
  return {
    row: r,
    key: runKey(r),
    status,
    statusLabel: STATUS_LABEL[status],
    wsShort: shortPath(r.workspace),
    runner: runner || "—",
    iterations:
      r.iterations_planned != null ? `${r.iteration_count}/${r.iterations_planned}` : String(r.iteration_count),
    best: score(bestVal),
    durationSec,
    durationText: duration(durationSec),
    startedMs: parseTime(r.started_at),
    startedRel: relTime(r.started_at, now),
    startedAbs: absTime(r.started_at),
    calls: r.mcp_call_count ?? 0,
    errors: (r.run_error_count ?? 0) + (r.index_error_count ?? 0),
    task,
    haystack: `${r.run_id} ${r.workspace} ${runner} ${task} ${STATUS_LABEL[status]}`.toLowerCase(),
  };
}

/** Every whitespace-separated word of `q` must occur in the run id, workspace, runner or task. */
export function filterRuns(rows: DisplayRun[], prefs: Pick<RunsPrefs, "q" | "status">): DisplayRun[] {
  const words = prefs.q.toLowerCase().split(/\s+/).filter(Boolean);
  const statuses = prefs.status.length ? new Set(prefs.status) : null;
  if (!words.length && !statuses) return rows;
  return rows.filter(
    (d) => (!statuses || statuses.has(d.status)) && words.every((w) => d.haystack.includes(w)),
  );
}

const STATUS_RANK: Record<RunStatus, number> = {
  running: 0,
  error: 1,
  interrupted: 2,
  not_solved: 3,
  solved: 4,
};

function sortValue(d: DisplayRun, key: SortKey): number | string | null {
  const r = d.row;
  switch (key) {
    case "run_id":
      return r.run_id;
    case "workspace":
      return d.wsShort.toLowerCase();
    case "runner":
      return r.runner?.toLowerCase() ?? null;
    case "status":
      return STATUS_RANK[d.status];
    case "iterations":
      return r.iteration_count;
    case "best":
      return r.best_score ?? r.best_reported_score ?? null;
    case "duration":
      return d.durationSec;
    case "started":
      return d.startedMs;
    case "calls":
      return d.calls;
    case "errors":
      return d.errors;
  }
}

/** Sorted copy; missing values always last; ties broken by run id (newest first). */
export function sortRuns(rows: DisplayRun[], key: SortKey, dir: "asc" | "desc"): DisplayRun[] {
  const sign = dir === "asc" ? 1 : -1;
  const keyed = rows.map((d) => ({ d, v: sortValue(d, key) }));
  keyed.sort((a, b) => {
    const av = a.v;
    const bv = b.v;
    if (av === null && bv !== null) return 1;
    if (bv === null && av !== null) return -1;
    let c = 0;
    if (av !== null && bv !== null) {
      c = typeof av === "number" && typeof bv === "number" ? av - bv : String(av).localeCompare(String(bv));
    }
    if (c !== 0) return c * sign;
    return b.d.row.run_id.localeCompare(a.d.row.run_id) || a.d.row.workspace.localeCompare(b.d.row.workspace);
  });
  return keyed.map((k) => k.d);
}

/** Status counts over `rows` (for the filter chips). */
export function statusCounts(rows: DisplayRun[]): Record<RunStatus, number> {
  const c: Record<RunStatus, number> = { solved: 0, not_solved: 0, running: 0, interrupted: 0, error: 0 };
  for (const d of rows) c[d.status]++;
  return c;
}

/** Prefs from anything (URL params or localStorage JSON); invalid parts fall back to defaults. */
export function normalizePrefs(p: Partial<Record<keyof RunsPrefs, unknown>> | null | undefined): RunsPrefs {
  const out: RunsPrefs = { ...DEFAULT_PREFS, status: [] };
  if (!p || typeof p !== "object") return out;
  if (typeof p.q === "string") out.q = p.q;
  if (Array.isArray(p.status))
    out.status = p.status.filter((s): s is RunStatus => RUN_STATUSES.includes(s as RunStatus));
  if (typeof p.sort === "string" && SORT_KEYS.includes(p.sort as SortKey)) out.sort = p.sort as SortKey;
  if (p.dir === "asc" || p.dir === "desc") out.dir = p.dir;
  return out;
}

export const PREFS_KEY = "harnessgym.runs.prefs";

export function loadPrefs(storage: Pick<Storage, "getItem"> | null): RunsPrefs {
  try {
    const raw = storage?.getItem(PREFS_KEY);
    return normalizePrefs(raw ? JSON.parse(raw) : null);
  } catch {
    return normalizePrefs(null);
  }
}

export function savePrefs(storage: Pick<Storage, "setItem"> | null, p: RunsPrefs): void {
  try {
    storage?.setItem(PREFS_KEY, JSON.stringify(p));
  } catch {
    /* storage full or disabled: the URL still carries the prefs */
  }
}

/** True when the route carries any runs prefs (then they win over the remembered ones). */
export function routeHasPrefs(r: { q?: string; status?: string[]; sort?: string; dir?: string }): boolean {
  return !!(r.q || (r.status && r.status.length) || r.sort || r.dir);
}
