// Pure helpers for the MCP calls tab (no DOM, no backend): status classes, filtering, sorting
// and the per-tool summary.
import type { CallRow, CallStats } from "./api-types";
import { parseTime } from "./format";

/** How a call ended, for colouring: statuses as written by either proxy map onto these. */
export type CallKind = "ok" | "error" | "timeout" | "cancelled";

/** ours: ok|tool_error|protocol_error|timeout|cancelled; the original: completed|error|timeout. */
export function callKind(c: Pick<CallRow, "status" | "ok">): CallKind {
  const s = (c.status ?? "").toLowerCase();
  if (s === "timeout" || s === "timed_out") return "timeout";
  if (s === "cancelled" || s === "canceled") return "cancelled";
  if (c.ok) return "ok";
  return "error";
}

/** Chip tone class (app.css `.tone-*`) for a call kind. */
export const KIND_TONE: Record<CallKind, "ok" | "bad" | "warn" | "muted"> = {
  ok: "ok",
  error: "bad",
  timeout: "warn",
  cancelled: "muted",
};

export type CallFilter = "all" | "errors";
export type CallSortKey = "time" | "duration";
export type SortDir = "asc" | "desc";

/** `errors`: every call that did not succeed (`ok` false: errors, timeouts, cancellations). */
export function filterCalls(rows: readonly CallRow[], f: CallFilter): CallRow[] {
  return f === "errors" ? rows.filter((r) => !r.ok) : [...rows];
}

function timeOf(r: CallRow): number | null {
  return parseTime(r.created_at);
}

/** Log order (file, then line) — the tie-breaker, and the order for calls without a time. */
function logOrder(a: CallRow, b: CallRow): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line;
}

/** Sorted copy. Missing values (no time / no duration) go last in either direction. */
export function sortCalls(rows: readonly CallRow[], key: CallSortKey, dir: SortDir): CallRow[] {
  const sign = dir === "asc" ? 1 : -1;
  const val = key === "time" ? timeOf : (r: CallRow) => r.duration_ms;
  return [...rows].sort((a, b) => {
    const va = val(a);
    const vb = val(b);
    if (va === null && vb === null) return sign * logOrder(a, b);
    if (va === null) return 1;
    if (vb === null) return -1;
    return sign * (va - vb || logOrder(a, b));
  });
}

/** Servers each tool was called on (sorted), from the call rows. */
export function serversByTool(rows: readonly CallRow[]): Map<string, string[]> {
  const m = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = r.tool ?? "";
    if (!m.has(k)) m.set(k, new Set());
    if (r.server) m.get(k)!.add(r.server);
  }
  return new Map([...m].map(([k, s]) => [k, [...s].sort()]));
}

export type ToolSummary = {
  tool: string;
  servers: string[];
  count: number;
  ok: number;
  errors: number;
  byStatus: Record<string, number>;
  p50: number | null;
  p95: number | null;
  max: number | null;
  requestBytes: number;
  responseBytes: number;
  /** p95 relative to the slowest tool's p95, 0…1. */
  p95Frac: number;
};

/** The per-tool rows of the summary: busiest tool first, with servers from the call rows. */
export function toolSummary(stats: CallStats | null, rows: readonly CallRow[]): ToolSummary[] {
  if (!stats) return [];
  const servers = serversByTool(rows);
  const slowest = Math.max(0, ...stats.groups.map((g) => g.duration_ms.p95 ?? 0));
  return stats.groups
    .map((g) => ({
      tool: g.key,
      servers: servers.get(g.key) ?? [],
      count: g.count,
      ok: g.ok,
      errors: g.errors,
      byStatus: { ...g.by_status },
      p50: g.duration_ms.p50,
      p95: g.duration_ms.p95,
      max: g.duration_ms.max,
      requestBytes: g.request_bytes.total,
      responseBytes: g.response_bytes.total,
      p95Frac: slowest > 0 && g.duration_ms.p95 !== null ? g.duration_ms.p95 / slowest : 0,
    }))
    .sort((a, b) => b.count - a.count || a.tool.localeCompare(b.tool));
}

/** "44 ms", "1.23 s", "12.3 s", "2m 05s"; "—" when unknown. */
export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return "—";
  if (n < 1000) return `${Math.round(n)} ms`;
  const s = n / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const t = Math.round(s);
  return `${Math.floor(t / 60)}m ${String(t % 60).padStart(2, "0")}s`;
}

/** "15:23:12" in local time (the date is in the title). */
export function clock(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return "—";
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "server · tool", leaving out what the log did not name. */
export function callName(c: Pick<CallRow, "server" | "tool">): string {
  return [c.server, c.tool].filter(Boolean).join(" · ") || "—";
}
