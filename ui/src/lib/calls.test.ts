import { describe, expect, it } from "vitest";
import type { CallRow, CallStats, CallStatsGroup } from "./api-types";
import { callKind, callName, clock, filterCalls, ms, serversByTool, sortCalls, toolSummary } from "./calls";

function call(p: Partial<CallRow>): CallRow {
  return {
    workspace: "/w", file: "/w/.harnessgym/mcp_calls.jsonl", line: 1, created_at: null, format: "harnessgym",
    server: "kernel", tool: "run", status: "ok", ok: true, duration_ms: null, request_bytes: null,
    response_bytes: null, request_id: null, error_message: null, run_id: "r", iteration: 1, phase: "attempt", ...p,
  };
}

function group(key: string, count: number, p95: number | null, p: Partial<CallStatsGroup> = {}): CallStatsGroup {
  return {
    key, count, ok: count, errors: 0, by_status: { ok: count },
    duration_ms: { p50: p95 === null ? null : p95 / 2, p95, max: p95, mean: null },
    request_bytes: { total: 10 * count, max: 10 }, response_bytes: { total: 100 * count, max: 100 }, ...p,
  };
}

describe("calls", () => {
  it("classifies statuses of both proxies", () => {
    expect(callKind({ status: "ok", ok: true })).toBe("ok");
    expect(callKind({ status: "completed", ok: true })).toBe("ok");
    expect(callKind({ status: "tool_error", ok: false })).toBe("error");
    expect(callKind({ status: "protocol_error", ok: false })).toBe("error");
    expect(callKind({ status: "error", ok: false })).toBe("error");
    expect(callKind({ status: "timeout", ok: false })).toBe("timeout");
    expect(callKind({ status: "cancelled", ok: false })).toBe("cancelled");
    expect(callKind({ status: null, ok: false })).toBe("error");
  });

  it("filters to the calls that did not succeed", () => {
    const rows = [call({ line: 1 }), call({ line: 2, status: "timeout", ok: false }), call({ line: 3, status: "tool_error", ok: false })];
    expect(filterCalls(rows, "all")).toHaveLength(3);
    expect(filterCalls(rows, "errors").map((r) => r.line)).toEqual([2, 3]);
  });

  it("sorts by time and duration, unknowns last, log order breaking ties", () => {
    const rows = [
      call({ line: 1, created_at: "2026-01-01T10:00:02Z", duration_ms: 50 }),
      call({ line: 2, created_at: "2026-01-01T10:00:01Z", duration_ms: null }),
      call({ line: 3, created_at: null, duration_ms: 900 }),
      call({ line: 4, created_at: "2026-01-01T10:00:01Z", duration_ms: 50 }),
    ];
    expect(sortCalls(rows, "time", "desc").map((r) => r.line)).toEqual([1, 4, 2, 3]);
    expect(sortCalls(rows, "time", "asc").map((r) => r.line)).toEqual([2, 4, 1, 3]);
    expect(sortCalls(rows, "duration", "desc").map((r) => r.line)).toEqual([3, 4, 1, 2]);
    expect(sortCalls(rows, "duration", "asc").map((r) => r.line)).toEqual([1, 4, 3, 2]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4]); // not in place
  });

  it("builds the per-tool summary from call-stats, with servers from the rows", () => {
    const stats: CallStats = {
      group_by: "tool",
      total: group("*", 6, 400),
      groups: [group("b", 2, 400), group("a", 3, 100), group("c", 1, null)],
    };
    const rows = [call({ tool: "a", server: "s2" }), call({ tool: "a", server: "s1" }), call({ tool: "b", server: null })];
    expect(serversByTool(rows).get("a")).toEqual(["s1", "s2"]);
    const s = toolSummary(stats, rows);
    expect(s.map((t) => [t.tool, t.count, t.p95Frac])).toEqual([
      ["a", 3, 0.25],
      ["b", 2, 1],
      ["c", 1, 0],
    ]);
    expect(s[0].servers).toEqual(["s1", "s2"]);
    expect(s[1].servers).toEqual([]);
    expect(s[0].requestBytes).toBe(30);
    expect(toolSummary(null, rows)).toEqual([]);
  });

  it("formats durations, times and names", () => {
    expect(ms(null)).toBe("—");
    expect(ms(44)).toBe("44 ms");
    expect(ms(2196)).toBe("2.20 s");
    expect(ms(12_340)).toBe("12.3 s");
    expect(ms(125_000)).toBe("2m 05s");
    expect(clock(null)).toBe("—");
    expect(clock("2026-01-01T10:00:02Z")).toMatch(/^\d\d:\d\d:02$/);
    expect(callName({ server: "kernel", tool: "run" })).toBe("kernel · run");
    expect(callName({ server: null, tool: "run" })).toBe("run");
    expect(callName({ server: null, tool: null })).toBe("—");
  });
});
