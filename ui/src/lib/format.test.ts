import { describe, expect, it } from "vitest";
import { bytes, duration, highlight, phaseKey, phaseOrder, relTime, runStatus, score, shortPath, statusTone } from "./format";

describe("format", () => {
  it("derives one status per run", () => {
    expect(runStatus({ state: "running", final_status: null, solved: null })).toBe("running");
    expect(runStatus({ state: "finished", final_status: "solved", solved: true })).toBe("solved");
    expect(runStatus({ state: "finished", final_status: "improved", solved: false })).toBe("not_solved");
    expect(runStatus({ state: "interrupted", final_status: null, solved: null })).toBe("interrupted");
    expect(runStatus({ state: "error", final_status: "solved", solved: true })).toBe("error");
    expect(runStatus({ state: "finished", final_status: "error", solved: null })).toBe("error");
  });
  it("formats durations", () => {
    expect(duration(null)).toBe("—");
    expect(duration(0.25)).toBe("250ms");
    expect(duration(4.21)).toBe("4.2s");
    expect(duration(42)).toBe("42s");
    expect(duration(245)).toBe("4m 05s");
    expect(duration(7380)).toBe("2h 03m");
  });
  it("formats relative times", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relTime("2026-01-01T11:59:50Z", now)).toBe("10s ago");
    expect(relTime("2026-01-01T11:00:00Z", now)).toBe("1h ago");
    expect(relTime("2025-12-30T12:00:00Z", now)).toBe("2d ago");
    expect(relTime(null, now)).toBe("—");
    expect(relTime("garbage", now)).toBe("—");
  });
  it("formats sizes and scores", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(2048)).toBe("2.0 KB");
    expect(bytes(100 * 1024 * 1024)).toBe("100 MB");
    expect(score(null)).toBe("—");
    expect(score(3)).toBe("3");
    expect(score(0.123456)).toBe("0.123");
  });
  it("highlights terms case-insensitively and ignores prefix stars", () => {
    expect(highlight("The Verifier ran verif", ["verif*"])).toEqual([
      { text: "The ", hit: false },
      { text: "Verif", hit: true },
      { text: "ier ran ", hit: false },
      { text: "verif", hit: true },
    ]);
    expect(highlight("a.b", ["."])).toEqual([
      { text: "a", hit: false },
      { text: ".", hit: true },
      { text: "b", hit: false },
    ]);
    expect(highlight("abc", [])).toEqual([{ text: "abc", hit: false }]);
  });
  it("orders and names phases", () => {
    expect(phaseKey("repair_2/build")).toBe("repair_2");
    expect(["repair_2", "build", "attempt", "repair_10", "reflection", "post_attempt"].sort(phaseOrder)).toEqual([
      "attempt", "post_attempt", "reflection", "build", "repair_2", "repair_10",
    ]);
    expect(shortPath("/a/b/ws/")).toBe("ws");
    expect(statusTone("timeout")).toBe("bad");
    expect(statusTone("completed")).toBe("ok");
  });
});
