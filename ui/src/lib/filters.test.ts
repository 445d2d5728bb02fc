import { describe, expect, it } from "vitest";
import type { RunRow } from "./api-types";
import { filterRuns, loadPrefs, normalizePrefs, PREFS_KEY, savePrefs, sortRuns, statusCounts, toDisplay } from "./filters";

function run(p: Partial<RunRow>): RunRow {
  return {
    workspace: "/w/alpha", run_id: "r", dir: "", origin: null, state: "finished", state_source: "summary",
    final_status: "solved", solved: true, best_score: null, best_reported_score: null, runner: "codex",
    task_path: "/w/alpha/task.md", iterations_planned: 3, iteration_count: 1, started_at: null,
    last_activity_at: null, has_summary: true, has_config: true, run_error_count: 0, index_error_count: 0,
    mcp_call_count: 0, ...p,
  };
}

const now = Date.parse("2026-01-01T12:00:00Z");
const rows = [
  run({ run_id: "a-1", best_score: 5, started_at: "2026-01-01T10:00:00Z", last_activity_at: "2026-01-01T10:05:00Z" }),
  run({ run_id: "b-2", runner: "claude", final_status: "improved", solved: false, best_score: 9, started_at: "2026-01-01T11:00:00Z", index_error_count: 2, mcp_call_count: 7 }),
  run({ run_id: "c-3", workspace: "/x/beta", task_path: "/x/beta/task.md", state: "running", final_status: null, solved: null, started_at: null }),
].map((r) => toDisplay(r, now));

describe("filters", () => {
  it("precomputes display strings", () => {
    expect(rows[0].iterations).toBe("1/3");
    expect(rows[0].durationText).toBe("5m 00s");
    expect(rows[0].startedRel).toBe("2h ago");
    expect(rows[1].errors).toBe(2);
    expect(rows[2].wsShort).toBe("beta");
    expect(rows[2].status).toBe("running");
  });
  it("filters by words and statuses", () => {
    expect(filterRuns(rows, { q: "claude", status: [] }).map((d) => d.row.run_id)).toEqual(["b-2"]);
    expect(filterRuns(rows, { q: "ALPHA codex", status: [] }).map((d) => d.row.run_id)).toEqual(["a-1"]);
    expect(filterRuns(rows, { q: "", status: ["running", "not_solved"] }).map((d) => d.row.run_id)).toEqual(["b-2", "c-3"]);
    expect(statusCounts(rows)).toEqual({ solved: 1, not_solved: 1, running: 1, interrupted: 0, error: 0 });
  });
  it("sorts with missing values last in both directions", () => {
    expect(sortRuns(rows, "started", "desc").map((d) => d.row.run_id)).toEqual(["b-2", "a-1", "c-3"]);
    expect(sortRuns(rows, "started", "asc").map((d) => d.row.run_id)).toEqual(["a-1", "b-2", "c-3"]);
    expect(sortRuns(rows, "best", "desc").map((d) => d.row.run_id)).toEqual(["b-2", "a-1", "c-3"]);
    expect(sortRuns(rows, "run_id", "asc").map((d) => d.row.run_id)).toEqual(["a-1", "b-2", "c-3"]);
    expect(sortRuns(rows, "calls", "desc")[0].row.run_id).toBe("b-2");
    expect(rows.find((d) => d.row.run_id === "b-2")!.calls).toBe(7);
  });
  it("sorts 10,000 rows quickly", () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      toDisplay(run({ run_id: `run-${i}`, best_score: (i * 7919) % 101, started_at: new Date(now - i * 1000).toISOString() }), now),
    );
    const t = performance.now();
    sortRuns(filterRuns(many, { q: "run-1", status: [] }), "best", "desc");
    sortRuns(many, "started", "asc");
    expect(performance.now() - t).toBeLessThan(500);
  });
  it("normalizes and persists prefs", () => {
    expect(normalizePrefs({ q: 3, status: ["solved", "bogus"], sort: "nope", dir: "up" })).toEqual({
      q: "", status: ["solved"], sort: "started", dir: "desc",
    });
    const mem = new Map<string, string>();
    const st = { getItem: (k: string) => mem.get(k) ?? null, setItem: (k: string, v: string) => void mem.set(k, v) };
    savePrefs(st, { q: "x", status: ["error"], sort: "best", dir: "asc" });
    expect(mem.has(PREFS_KEY)).toBe(true);
    expect(loadPrefs(st)).toEqual({ q: "x", status: ["error"], sort: "best", dir: "asc" });
    mem.set(PREFS_KEY, "{not json");
    expect(loadPrefs(st).sort).toBe("started");
  });
});
