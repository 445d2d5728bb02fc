import { describe, expect, it } from "vitest";
import { formatRoute, hitRoute, linkFor, parseHash, TABS, type Route } from "./router";

describe("router", () => {
  const cases: Route[] = [
    { name: "runs" },
    { name: "runs", q: "bulk 12", status: ["solved", "error"], sort: "best", dir: "asc" },
    { name: "search", q: "cosine similarity & co/?#" },
    { name: "run", workspace: "/tmp/my ws/a#b", runId: "2026T-1c19" },
    { name: "run", workspace: "/w", runId: "r", iteration: 2 },
    { name: "run", workspace: "/w", runId: "r", iteration: 2, tab: "stdout", phase: "repair_1", line: 41 },
    { name: "run", workspace: "/w", runId: "r", iteration: 3, tab: "calls" },
    { name: "run", workspace: "C:\\ws\\x", runId: "r/1", iteration: 0, tab: "files", file: "repair_1/build.stdout.txt", line: 0 },
  ];
  for (const r of cases) {
    it(`round-trips ${formatRoute(r)}`, () => {
      expect(parseHash(formatRoute(r))).toEqual(r);
    });
  }

  it("falls back to runs for unknown or empty hashes", () => {
    expect(parseHash("")).toEqual({ name: "runs" });
    expect(parseHash("#/nope")).toEqual({ name: "runs" });
    expect(parseHash("#/run/only-one")).toEqual({ name: "runs" });
  });

  it("ignores bad tabs, iterations and lines", () => {
    expect(parseHash("#/run/w/r/x/bogus?line=-3")).toEqual({ name: "run", workspace: "w", runId: "r" });
    expect(parseHash("#/run/w/r/3/bogus?line=abc")).toEqual({ name: "run", workspace: "w", runId: "r", iteration: 3 });
  });

  it("knows every tab, the MCP calls tab after artifacts", () => {
    expect(TABS).toEqual(["transcript", "prompt", "stdout", "stderr", "result", "activation", "artifacts", "calls", "files"]);
    expect(parseHash("#/run/w/r/3/calls")).toEqual({ name: "run", workspace: "w", runId: "r", iteration: 3, tab: "calls" });
  });

  it("keeps the page path when building links", () => {
    expect(linkFor({ name: "search", q: "x" }, "http://h:1/sub/dir/index.html#/runs")).toBe(
      "http://h:1/sub/dir/index.html#/search?q=x",
    );
    expect(linkFor({ name: "runs" }, "tauri://localhost/")).toBe("tauri://localhost/#/runs");
  });

  it("sends search hits to the stream tab at the 0-based line", () => {
    const base = { workspace: "/w", file: "/w/.harnessgym/runs/r/iterations/2/repair_1/build.stdout.txt", run_id: "r", iteration: 2 };
    expect(hitRoute({ ...base, phase: "repair_1/build", stream: "stdout", line: 10 })).toEqual({
      name: "run", workspace: "/w", runId: "r", iteration: 2, tab: "stdout", phase: "repair_1", line: 9,
    });
    expect(hitRoute({ ...base, phase: "attempt", stream: "transcript", line: 1 })).toEqual({
      name: "run", workspace: "/w", runId: "r", iteration: 2, tab: "files", phase: "attempt", line: 0, file: base.file,
    });
    expect(hitRoute({ ...base, run_id: null, phase: null, stream: null, line: 1 })).toBeNull();
  });
});
