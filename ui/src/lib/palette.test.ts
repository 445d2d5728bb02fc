import { describe, expect, it } from "vitest";
import type { RunRow } from "./api-types";
import { bestScore, describeRoute, filterCommands, filterRuns, linkRoute, matchScore, snippetAround } from "./palette";
import { formatRoute, type RunRoute } from "./router";

describe("linkRoute", () => {
  const deep: RunRoute = { name: "run", workspace: "/w/demo", runId: "codex-transcript", iteration: 2, tab: "stdout", phase: "attempt", line: 41 };
  const hash = formatRoute(deep);

  it("reads a full http URL of the browser view", () => {
    expect(linkRoute(`http://127.0.0.1:4000/${hash}`)).toEqual(deep);
    expect(linkRoute(`http://127.0.0.1:4000/sub/index.html${hash}`)).toEqual(deep);
  });

  it("reads a tauri URL of the desktop app", () => {
    expect(linkRoute(`tauri://localhost/${hash}`)).toEqual(deep);
  });

  it("reads a bare hash, with surrounding blanks", () => {
    expect(linkRoute(hash)).toEqual(deep);
    expect(linkRoute(`  ${hash}\n`)).toEqual(deep);
    expect(linkRoute("#/search?q=cosine%20sim")).toEqual({ name: "search", q: "cosine sim" });
    expect(linkRoute("#/runs?status=solved")).toEqual({ name: "runs", status: ["solved"] });
  });

  it("decodes an encoded workspace path with spaces and #", () => {
    const r: RunRoute = { name: "run", workspace: "/tmp/my ws/a#b", runId: "r 1#x", iteration: 0, tab: "files", file: "a b.txt", line: 0 };
    const link = `http://h:1/${formatRoute(r)}`;
    expect(link).toContain("%20");
    expect(linkRoute(link)).toEqual(r);
  });

  it("gives null for junk", () => {
    for (const junk of ["", "codex", "http://example.com/", "#", "#/", "#/nope", "#/run/only-one", "tauri://localhost/", "a # / b"])
      expect(linkRoute(junk), JSON.stringify(junk)).toBeNull();
  });
});

describe("describeRoute", () => {
  it("names run, iteration, phase, tab, line (1-based) and workspace", () => {
    expect(describeRoute({ name: "run", workspace: "/x/demo", runId: "r", iteration: 2, tab: "stdout", phase: "attempt", line: 41 })).toBe(
      "Run r · iteration 2 · attempt stdout · line 42 — demo",
    );
    expect(describeRoute({ name: "run", workspace: "/x/demo", runId: "r" })).toBe("Run r — demo");
    expect(describeRoute({ name: "search", q: "foo" })).toBe("Search for “foo”");
    expect(describeRoute({ name: "runs" })).toBe("Runs");
  });
});

describe("matchScore", () => {
  it("ranks exact > prefix > word prefix > substring > subsequence", () => {
    const exact = matchScore("codex", "codex")!;
    const prefix = matchScore("codex", "codex-transcript")!;
    const word = matchScore("trans", "codex-transcript")!;
    const sub = matchScore("ranscr", "codex-transcript")!;
    const subseq = matchScore("cdxtr", "codex-transcript")!;
    expect(exact).toBeGreaterThan(prefix);
    expect(prefix).toBeGreaterThan(word);
    expect(word).toBeGreaterThan(sub);
    expect(sub).toBeGreaterThan(subseq);
    expect(subseq).toBeGreaterThan(0);
  });

  it("is case-insensitive", () => {
    expect(matchScore("CODEX", "codex-transcript")).toBe(matchScore("codex", "codex-transcript"));
    expect(matchScore("go", "Go to runs")).toBe(matchScore("GO", "go to runs"));
  });

  it("prefers tighter subsequences and shorter texts among prefixes", () => {
    expect(matchScore("gr", "go runs")!).toBeLessThan(matchScore("gr", "grand")!);
    expect(matchScore("gtr", "go to runs")!).toBeGreaterThan(matchScore("gtr", "go to the other runs")!);
    expect(matchScore("solved", "solved-in-2")!).toBeGreaterThan(matchScore("solved", "solved-in-2-long-suffix")!);
  });

  it("lets query words skip the text between them", () => {
    expect(matchScore("go runs", "Go to runs")).not.toBeNull();
  });

  it("excludes texts that do not match", () => {
    expect(matchScore("xyz", "codex-transcript")).toBeNull();
    expect(matchScore("tc", "c")).toBeNull();
    expect(matchScore("zebra", "")).toBeNull();
    expect(matchScore("ba", "ab")).toBeNull(); // order matters
  });

  it("matches everything with an empty query", () => {
    expect(matchScore("", "anything")).toBe(0);
    expect(matchScore("   ", "anything")).toBe(0);
  });

  it("takes the best of several texts", () => {
    expect(bestScore("demo", ["never-solved", "demo", null])).toBe(100);
    expect(bestScore("zzz", ["a", undefined, "b"])).toBeNull();
  });
});

describe("filterCommands", () => {
  const cmds = [
    { id: "runs", label: "Go to runs", keys: ["g", "r"] },
    { id: "ws", label: "Open workspace…", keys: ["Ctrl", "O"] },
    { id: "copy", label: "Copy link to this view", keys: [] },
    { id: "keys", label: "Keyboard shortcuts", keys: ["?"] },
  ];
  it("keeps every command, in order, for an empty text", () => {
    expect(filterCommands(cmds, "").map((c) => c.id)).toEqual(["runs", "ws", "copy", "keys"]);
  });
  it("filters and ranks", () => {
    expect(filterCommands(cmds, "copy").map((c) => c.id)).toEqual(["copy"]);
    expect(filterCommands(cmds, "key")[0].id).toBe("keys");
    expect(filterCommands(cmds, "qqq")).toEqual([]);
  });
});

describe("filterRuns", () => {
  const row = (run_id: string, started_at: string | null, extra: Partial<RunRow> = {}): RunRow =>
    ({ workspace: "/tmp/x/demo", run_id, runner: "fake", started_at, state: "finished", final_status: null, solved: null, iteration_count: 1, ...extra }) as RunRow;
  const runs = [
    row("old", "2026-01-01T00:00:00Z"),
    row("codex-transcript", "2026-01-03T00:00:00Z", { runner: "codex" }),
    row("new", "2026-01-05T00:00:00Z"),
    row("undated", null),
    row("codex-2", "2026-01-04T00:00:00Z", { runner: "codex", workspace: "/tmp/other" }),
  ];

  it("lists the most recent runs for an empty text, up to the limit", () => {
    expect(filterRuns(runs, "").map((r) => r.run_id)).toEqual(["new", "codex-2", "codex-transcript", "old", "undated"]);
    expect(filterRuns(runs, "", 2).map((r) => r.run_id)).toEqual(["new", "codex-2"]);
  });

  it("keeps the given order when no run has a start time", () => {
    const undated = ["b", "a", "c"].map((id) => row(id, null));
    expect(filterRuns(undated, "").map((r) => r.run_id)).toEqual(["b", "a", "c"]);
  });

  it("puts the exact run id first, then by score", () => {
    const ids = filterRuns(runs, "codex-transcript").map((r) => r.run_id);
    expect(ids[0]).toBe("codex-transcript");
    expect(ids).not.toContain("old");
  });

  it("matches the runner and the workspace's name", () => {
    expect(filterRuns(runs, "codex").map((r) => r.run_id).sort()).toEqual(["codex-2", "codex-transcript"]);
    expect(filterRuns(runs, "other").map((r) => r.run_id)).toEqual(["codex-2"]);
    expect(filterRuns(runs, "demo").length).toBe(4);
    expect(filterRuns(runs, "nomatchhere")).toEqual([]);
  });
});

describe("snippetAround", () => {
  const text = (p: { text: string }[]) => p.map((x) => x.text).join("");
  it("keeps short lead-ins and marks the match", () => {
    const p = snippetAround("Marker: zebra here", ["zebra"]);
    expect(text(p)).toBe("Marker: zebra here");
    expect(p.filter((x) => x.hit).map((x) => x.text)).toEqual(["zebra"]);
  });
  it("starts shortly before a far match, at a word boundary, with an ellipsis", () => {
    const long = "word ".repeat(40) + "the ZEBRA is here";
    const p = snippetAround(long, ["zebra"], 10);
    const s = text(p);
    expect(s.startsWith("…")).toBe(true);
    expect(s.length).toBeLessThan(40);
    expect(s).toMatch(/^…(word )+the ZEBRA is here$/);
    expect(p.find((x) => x.hit)?.text).toBe("ZEBRA");
  });
  it("collapses blanks and leaves texts without a match alone", () => {
    expect(text(snippetAround("  a\t\tb  ", ["zz"]))).toBe("a b");
  });
});
