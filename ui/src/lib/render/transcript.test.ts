import { describe, expect, it } from "vitest";
import { detectFormat, isLong, parseTranscript, type TranscriptItem } from "./transcript";
// Real captures (see fixtures/README.md): `harnessgym run` driving codex 0.169.0 and
// claude 2.1.197 against the offline mock model, attempt phase stdout.
import codexOk from "./fixtures/codex.stdout.jsonl?raw";
import codexErr from "./fixtures/codex.error.stdout.jsonl?raw";
import claudeOk from "./fixtures/claude.stdout.jsonl?raw";
import claudeErr from "./fixtures/claude.error.stdout.jsonl?raw";
import claudeTranscript from "./fixtures/claude.transcript.txt?raw";
import fakeStdout from "./fixtures/fake.stdout.txt?raw";

type Tool = Extract<TranscriptItem, { kind: "tool" }>;
type Result = Extract<TranscriptItem, { kind: "result" }>;

/** File lines as the view gets them (no trailing empty line). */
function lines(text: string): string[] {
  const l = text.split("\n");
  if (l[l.length - 1] === "") l.pop();
  return l;
}
function tools(items: TranscriptItem[]): Tool[] {
  return items.filter((i): i is Tool => i.kind === "tool");
}
function only<K extends TranscriptItem["kind"]>(items: TranscriptItem[], kind: K) {
  return items.filter((i): i is Extract<TranscriptItem, { kind: K }> => i.kind === kind);
}

describe("detectFormat", () => {
  it("recognises the real captures and plain text", () => {
    expect(detectFormat(lines(codexOk))).toBe("codex");
    expect(detectFormat(lines(codexErr))).toBe("codex");
    expect(detectFormat(lines(claudeOk))).toBe("claude");
    expect(detectFormat(lines(claudeErr))).toBe("claude");
    expect(detectFormat(lines(claudeTranscript))).toBe("text");
    expect(detectFormat(lines(fakeStdout))).toBe("text");
    expect(detectFormat([])).toBe("text");
    expect(detectFormat(['{"some":"json"}', '{"type":"unknown"}'])).toBe("text");
    // one stray event among many text lines is still text
    expect(detectFormat(["a", "b", "c", "d", '{"type":"result","subtype":"success"}'])).toBe("text");
  });

  it("recognises a window that starts mid-file", () => {
    expect(detectFormat(lines(codexOk).slice(9))).toBe("codex");
    expect(detectFormat(lines(claudeOk).slice(7))).toBe("claude");
  });
});

describe("codex exec --json (real capture)", () => {
  const { format, items } = parseTranscript(lines(codexOk));

  it("produces the expected sequence of items", () => {
    expect(format).toBe("codex");
    expect(items.map((i) => i.kind)).toEqual([
      "session",
      "error",
      "message",
      "tool",
      "tool",
      "tool",
      "tool",
      "tool",
      "message",
      "result",
    ]);
    expect(items[0]).toEqual({ kind: "session", text: "thread 01a21317-735a-7f50-ba7e-409dacb3e55f", line: 0 });
    expect(items[1]).toMatchObject({ kind: "error", line: 1 });
    expect((items[1] as { text: string }).text).toContain("Model metadata for `mock-model` not found");
    expect(items[2]).toEqual({ kind: "message", role: "assistant", text: "Let me look around first.", line: 3 });
    expect(items[8]).toEqual({ kind: "message", role: "assistant", text: "Done.", line: 14 });
  });

  it("pairs item.started and item.completed of a command into one tool item", () => {
    const [ls, fail] = tools(items);
    expect(ls).toEqual({
      kind: "tool",
      id: "item_2",
      name: "shell",
      input: `/bin/bash -lc "ls && printf '\\\\033[31mred\\\\033[0m plain\\\\n'"`,
      output: "task.md\n\x1b[31mred\x1b[0m plain\n",
      status: "ok",
      exitCode: 0,
      line: 4,
      resultLine: 5,
    });
    expect(fail).toMatchObject({
      id: "item_3",
      name: "shell",
      input: "/bin/bash -lc 'echo failing >&2; exit 3'",
      output: "failing\n",
      status: "error",
      exitCode: 3,
      line: 6,
      resultLine: 7,
    });
  });

  it("parses mcp_tool_call with a result, with an error, and with a failed status", () => {
    const [, , probe, boom, failed] = tools(items);
    expect(probe).toEqual({
      kind: "tool",
      id: "item_4",
      name: "probe",
      server: "good",
      input: '{\n  "x": "through the runner"\n}',
      output: '{"tool": "probe", "arguments": {"x": "through the runner"}}',
      status: "ok",
      line: 8,
      resultLine: 9,
    });
    expect(boom).toMatchObject({ name: "boom", server: "good", status: "error", line: 10, resultLine: 11 });
    expect(boom.output).toContain("Mcp error: -32000: boom: the probe exploded");
    expect(failed).toMatchObject({ name: "fail", server: "good", status: "error", output: "fail: bad input" });
  });

  it("turns turn.completed into a result with a usage string", () => {
    const result = items[items.length - 1] as Result;
    expect(result.kind).toBe("result");
    expect(result.isError).toBe(false);
    expect(result.line).toBe(15);
    expect(result.usage).toBe("input 71,718 · output 336");
  });

  it("updates an item in place on item.updated and only completes it on item.completed", () => {
    const { items: u } = parseTranscript([
      '{"type":"item.started","item":{"id":"i","type":"command_execution","command":"make","aggregated_output":"","exit_code":null,"status":"in_progress"}}',
      '{"type":"item.updated","item":{"id":"i","type":"command_execution","command":"make","aggregated_output":"building","exit_code":null,"status":"in_progress"}}',
    ]);
    expect(u).toEqual([
      { kind: "tool", id: "i", name: "shell", input: "make", output: "building", status: "pending", line: 0 },
    ]);
  });

  it("keeps a started-only item pending", () => {
    const window = lines(codexOk).slice(0, 5); // ends right after item_2 started
    const t = tools(parseTranscript(window).items);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ id: "item_2", status: "pending", line: 4 });
    expect(t[0].resultLine).toBeUndefined();
    expect(t[0].exitCode).toBeUndefined();
  });

  it("handles a window that starts between started and completed", () => {
    const { items: w } = parseTranscript(lines(codexOk).slice(9), 9);
    const t = tools(w);
    expect(t[0]).toMatchObject({ id: "item_4", name: "probe", status: "ok", line: 9, resultLine: 9 });
    expect(t.map((x) => x.name)).toEqual(["probe", "boom", "fail"]);
    expect(w[w.length - 1]).toMatchObject({ kind: "result", line: 15 });
  });
});

describe("codex exec --json failures (real capture)", () => {
  it("reports retries as errors and turn.failed as an error result", () => {
    const { format, items } = parseTranscript(lines(codexErr));
    expect(format).toBe("codex");
    const errors = only(items, "error");
    expect(errors).toHaveLength(7); // metadata warning, 5 retries, final error
    expect(errors[1].text).toMatch(/^Reconnecting\.\.\. 1\/5 \(unexpected status 401/);
    const result = items[items.length - 1] as Result;
    expect(result).toMatchObject({ kind: "result", isError: true, line: 9 });
    expect(result.text).toContain("401 Unauthorized");
  });
});

describe("codex item types (from the documented shapes)", () => {
  const ev = (type: string, item: object) => JSON.stringify({ type, item });

  it("maps reasoning, file_change, todo_list, web_search, plan, declined commands and error items", () => {
    const { items } = parseTranscript([
      ev("item.completed", { id: "r1", type: "reasoning", text: "**Thinking** about it" }),
      ev("item.completed", {
        id: "f1",
        type: "file_change",
        changes: [
          { path: "src/a.rs", kind: "update" },
          { path: "b.txt", kind: "add" },
        ],
        status: "completed",
      }),
      ev("item.started", { id: "t1", type: "todo_list", items: [{ text: "one", completed: false }] }),
      ev("item.updated", {
        id: "t1",
        type: "todo_list",
        items: [
          { text: "one", completed: true },
          { text: "two", completed: false },
        ],
      }),
      ev("item.started", { id: "w1", type: "web_search", query: "vitest raw import" }),
      ev("item.completed", { id: "w1", type: "web_search", query: "vitest raw import" }),
      ev("item.completed", { id: "p1", type: "plan", text: "1. do it" }),
      ev("item.completed", {
        id: "c1",
        type: "command_execution",
        command: "rm -rf /",
        aggregated_output: "",
        exit_code: null,
        status: "declined",
      }),
      ev("item.completed", { id: "e1", type: "error", message: "something broke" }),
      JSON.stringify({ type: "error", message: "Reconnecting... 2/5" }),
      JSON.stringify({ type: "turn.started" }),
      JSON.stringify({ type: "turn.failed", error: { message: "stream disconnected" } }),
    ]);
    expect(items).toEqual([
      { kind: "reasoning", text: "**Thinking** about it", line: 0 },
      { kind: "file_change", text: "update src/a.rs\nadd b.txt", line: 1 },
      { kind: "message", role: "system", text: "To-do list:\n[x] one\n[ ] two", line: 2 },
      { kind: "tool", id: "w1", name: "web_search", input: "vitest raw import", status: "ok", line: 4, resultLine: 5 },
      { kind: "message", role: "system", text: "Plan:\n1. do it", line: 6 },
      {
        kind: "tool",
        id: "c1",
        name: "shell",
        input: "rm -rf /",
        output: "",
        status: "declined",
        line: 7,
        resultLine: 7,
      },
      { kind: "error", text: "something broke", line: 8 },
      { kind: "error", text: "Reconnecting... 2/5", line: 9 },
      { kind: "result", text: "stream disconnected", isError: true, line: 11 },
    ]);
  });

  it("reports cached and reasoning tokens in the usage", () => {
    const { items } = parseTranscript([
      '{"type":"thread.started","thread_id":"t"}',
      '{"type":"turn.completed","usage":{"input_tokens":1200,"cached_input_tokens":1000,"output_tokens":30,"reasoning_output_tokens":20}}',
    ]);
    expect(items[1]).toEqual({
      kind: "result",
      text: "Turn completed",
      isError: false,
      usage: "input 1,200 (cached 1,000) · output 30 (reasoning 20)",
      line: 1,
    });
  });
});

describe("claude stream-json (real capture)", () => {
  const { format, items } = parseTranscript(lines(claudeOk));

  it("produces session, messages, tools and result", () => {
    expect(format).toBe("claude");
    expect(items.map((i) => i.kind)).toEqual([
      "session",
      "message",
      "tool",
      "tool",
      "tool",
      "tool",
      "tool",
      "message",
      "result",
    ]);
    const session = items[0] as { text: string; line: number };
    expect(session.line).toBe(0);
    expect(session.text).toContain("model: claude-opus-4-8");
    expect(session.text).toContain("session: 9d79586f-8c10-4b9a-81ca-e58c27e7c7ea");
    expect(session.text).toContain("mcp servers: good (connected)");
    expect(session.text).toMatch(/tools \(\d+\): .*Bash.*mcp__good__probe/);
    expect(items[1]).toEqual({ kind: "message", role: "assistant", text: "Let me look around first.", line: 1 });
  });

  it("pairs tool_use with tool_result, including is_error", () => {
    const [ls, fail] = tools(items);
    expect(ls).toEqual({
      kind: "tool",
      id: "toolu_mock_18eb4fd0f75f0a720000",
      name: "Bash",
      input: "ls && printf '\\033[31mred\\033[0m plain\\n'",
      output: "task.md\n\x1b[31mred\x1b[0m plain",
      status: "ok",
      line: 2,
      resultLine: 3,
    });
    expect(fail).toMatchObject({
      name: "Bash",
      input: "echo failing >&2; exit 3",
      output: "Exit code 3\nfailing",
      status: "error",
      line: 4,
      resultLine: 5,
    });
  });

  it("splits mcp__server__tool names and reads array tool_result content", () => {
    const [, , probe, boom, failed] = tools(items);
    expect(probe).toEqual({
      kind: "tool",
      id: "toolu_mock_18eb4fd0f75f0a720004",
      name: "probe",
      server: "good",
      input: '{\n  "x": "through the runner"\n}',
      output: '{"tool": "probe", "arguments": {"x": "through the runner"}}',
      status: "ok",
      line: 6,
      resultLine: 7,
    });
    expect(boom).toMatchObject({
      name: "boom",
      server: "good",
      status: "error",
      output: "MCP error -32000: boom: the probe exploded",
    });
    expect(failed).toMatchObject({ name: "fail", server: "good", status: "error", output: "fail: bad input" });
  });

  it("reads the result event's fields", () => {
    const result = items[items.length - 1] as Result;
    expect(result).toMatchObject({ kind: "result", text: "Done.", isError: false, line: 13 });
    expect(result.costUsd).toBeCloseTo(0.6, 1);
    expect(typeof result.durationMs).toBe("number");
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.usage).toMatch(/^input [\d,]+ · output \d+ · 6 turns$/);
  });

  it("makes a tool_result without its tool_use (window mid-file) an earlier call", () => {
    const { items: w } = parseTranscript(lines(claudeOk).slice(7), 7);
    expect(w[0]).toEqual({
      kind: "tool",
      id: "toolu_mock_18eb4fd0f75f0a720004",
      name: "(earlier call)",
      input: "",
      output: '{"tool": "probe", "arguments": {"x": "through the runner"}}',
      status: "ok",
      line: 7,
      resultLine: 7,
    });
    expect(tools(w).map((t) => t.name)).toEqual(["(earlier call)", "boom", "fail"]);
  });

  it("leaves a tool_use without a result pending", () => {
    const t = tools(parseTranscript(lines(claudeOk).slice(0, 3)).items);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ name: "Bash", status: "pending", line: 2 });
    expect(t[0].output).toBeUndefined();
  });
});

describe("claude stream-json failures (real capture)", () => {
  it("shows retries, the synthetic error message and an error result", () => {
    const { format, items } = parseTranscript(lines(claudeErr));
    expect(format).toBe("claude");
    expect(items.map((i) => i.kind)).toEqual(["session", "message", "message", "error", "result"]);
    expect(items[1]).toEqual({ kind: "message", role: "system", text: "API retry 1/2: 401 authentication_failed", line: 1 });
    expect(items[3]).toEqual({ kind: "error", text: "Failed to authenticate. API Error: 401 mock: invalid API key", line: 3 });
    // subtype "success" but is_error true → an error result
    expect(items[4]).toMatchObject({ kind: "result", isError: true, costUsd: 0, line: 4 });
    expect((items[4] as Result).text).toContain("Failed to authenticate");
  });
});

describe("claude shapes (from the documented format)", () => {
  it("handles thinking, user text, subtype errors and permission denials", () => {
    const { items } = parseTranscript([
      JSON.stringify({ type: "user", message: { role: "user", content: "Fix the bug" } }),
      JSON.stringify({
        type: "assistant",
        message: {
          content: [
            { type: "thinking", thinking: "Let me think." },
            { type: "text", text: "On it." },
            { type: "tool_use", id: "tu1", name: "Write", input: { file_path: "a.txt", content: "x" } },
          ],
        },
      }),
      JSON.stringify({
        type: "user",
        message: { content: [{ type: "text", text: "also this" }] },
      }),
      JSON.stringify({
        type: "result",
        subtype: "error_max_turns",
        is_error: false,
        duration_ms: 1500,
        total_cost_usd: 0.25,
        num_turns: 1,
        usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 2 },
        permission_denials: [{ tool_name: "Write", tool_use_id: "tu1", tool_input: {} }],
      }),
    ]);
    expect(items).toEqual([
      { kind: "message", role: "user", text: "Fix the bug", line: 0 },
      { kind: "reasoning", text: "Let me think.", line: 1 },
      { kind: "message", role: "assistant", text: "On it.", line: 1 },
      {
        kind: "tool",
        id: "tu1",
        name: "Write",
        input: '{\n  "file_path": "a.txt",\n  "content": "x"\n}',
        status: "declined",
        line: 1,
      },
      { kind: "message", role: "user", text: "also this", line: 2 },
      {
        kind: "result",
        text: "error_max_turns",
        isError: true,
        usage: "input 10 · cache read 5 · output 2 · 1 turn",
        costUsd: 0.25,
        durationMs: 1500,
        line: 3,
      },
    ]);
  });
});

describe("damaged input", () => {
  it("turns damaged or unknown lines into raw items and never throws", () => {
    const l = lines(claudeOk);
    const damaged = [
      l[0],
      l[2].slice(0, 80), // truncated JSON
      "not json at all",
      '{"type":"assistant","message":null}',
      '{"type":"mystery"}',
      "[1,2,3]",
      "",
      l[3],
      "{",
    ];
    const { format, items } = parseTranscript(damaged, 100);
    expect(format).toBe("claude");
    expect(items.map((i) => [i.kind, i.line])).toEqual([
      ["session", 100],
      ["raw", 101],
      ["raw", 102],
      ["raw", 103],
      ["raw", 104],
      ["raw", 105],
      ["tool", 107], // the result whose tool_use line was damaged
      ["raw", 108],
    ]);
    expect(items[1]).toEqual({ kind: "raw", text: l[2].slice(0, 80), line: 101 });
    expect((items[6] as Tool).name).toBe("(earlier call)");
  });

  it("survives odd values inside well-formed events", () => {
    const weird = [
      '{"type":"thread.started"}',
      '{"type":"item.completed","item":{"id":"x","type":"mcp_tool_call","arguments":null,"result":{"content":"oops"},"error":null}}',
      '{"type":"item.completed","item":{"id":"y","type":"command_execution"}}',
      '{"type":"item.completed","item":{"id":"z","type":"brand_new_type"}}',
      '{"type":"item.completed","item":"not an object"}',
      '{"type":"turn.completed","usage":"?"}',
      '{"type":"turn.failed"}',
    ];
    const { items } = parseTranscript(weird);
    expect(items.map((i) => i.kind)).toEqual(["session", "tool", "tool", "raw", "raw", "result", "result"]);
    expect(items[1]).toMatchObject({ name: "(unknown tool)", input: "", output: "oops", status: "ok" });
    expect(items[2]).toMatchObject({ name: "shell", input: "", status: "ok" });
    expect(items[6]).toMatchObject({ isError: true });
  });
});

describe("text format", () => {
  it("returns one raw item per line with file line numbers", () => {
    const l = lines(claudeTranscript);
    const { format, items } = parseTranscript(l, 40);
    expect(format).toBe("text");
    expect(items).toHaveLength(l.length);
    expect(items[0]).toEqual({ kind: "raw", text: l[0], line: 40 });
    expect(items.every((i, k) => i.kind === "raw" && i.line === 40 + k && i.text === l[k])).toBe(true);
    expect(parseTranscript(lines(fakeStdout)).items).toEqual([
      { kind: "raw", text: "Fake attempt 1 stops on purpose and records missing tooling.", line: 0 },
    ]);
  });
});

describe("performance", () => {
  it("parses 5,000 lines quickly", () => {
    const base = lines(codexOk);
    const big: string[] = [];
    while (big.length < 5000) {
      // renumber item ids so pairing has to work across the whole file
      const n = big.length;
      for (const l of base) big.push(l.replace(/"item_(\d+)"/g, (_, d) => `"item_${n}_${d}"`));
    }
    const t0 = performance.now();
    const { format, items } = parseTranscript(big);
    const ms = performance.now() - t0;
    expect(format).toBe("codex");
    expect(tools(items).every((t) => t.status !== "pending")).toBe(true);
    expect(tools(items).length).toBe(5 * Math.ceil(5000 / base.length));
    expect(ms).toBeLessThan(200);

    const claude = lines(claudeOk);
    const bigClaude: string[] = [];
    while (bigClaude.length < 5000) bigClaude.push(...claude);
    const t1 = performance.now();
    parseTranscript(bigClaude);
    expect(performance.now() - t1).toBeLessThan(300);
  });
});

describe("isLong", () => {
  it("uses line and character limits", () => {
    expect(isLong("short")).toBe(false);
    expect(isLong("a\n".repeat(20))).toBe(false); // 20 lines with a trailing newline
    expect(isLong("a\n".repeat(21))).toBe(true);
    expect(isLong("x".repeat(2001))).toBe(true);
    expect(isLong("a\nb\nc\nd", 3)).toBe(true);
    expect(isLong("a\nb\nc", 3)).toBe(false);
    expect(isLong("abcdef", 10, 5)).toBe(true);
  });
});
