import { describe, expect, it } from "vitest";
import { hasAnsi, parseAnsi, stripAnsi, type AnsiSpan } from "./ansi";
import codexStdout from "./fixtures/codex.stdout.jsonl?raw";
import codexTranscript from "./fixtures/codex.transcript.txt?raw";

const E = "\x1b";

function text(spans: AnsiSpan[]): string {
  return spans.map((s) => s.text).join("");
}

describe("parseAnsi", () => {
  it("returns plain text as one span with an empty style", () => {
    const r = parseAnsi("hello world");
    expect(r.spans).toEqual([{ text: "hello world", style: {} }]);
    expect(r.state).toEqual({});
  });

  it("returns no spans for an empty line", () => {
    expect(parseAnsi("").spans).toEqual([]);
  });

  it("maps the basic and bright foreground/background colours to CSS variables", () => {
    const r = parseAnsi(`${E}[31mred${E}[0m ${E}[92mgreen${E}[0m ${E}[44mblue-bg${E}[0m ${E}[107mwhite-bg`);
    expect(r.spans).toEqual([
      { text: "red", style: { fg: "var(--ansi-1)" } },
      { text: " ", style: {} },
      { text: "green", style: { fg: "var(--ansi-10)" } },
      { text: " ", style: {} },
      { text: "blue-bg", style: { bg: "var(--ansi-4)" } },
      { text: " ", style: {} },
      { text: "white-bg", style: { bg: "var(--ansi-15)" } },
    ]);
    expect(r.state).toEqual({ bg: "var(--ansi-15)" });
  });

  it("handles 256-colour indexes: basic, cube and greys", () => {
    const fg = (n: number) => parseAnsi(`${E}[38;5;${n}mx`).spans[0].style.fg;
    expect(fg(1)).toBe("var(--ansi-1)");
    expect(fg(9)).toBe("var(--ansi-9)");
    expect(fg(16)).toBe("rgb(0,0,0)");
    expect(fg(196)).toBe("rgb(255,0,0)");
    expect(fg(21)).toBe("rgb(0,0,255)");
    expect(fg(110)).toBe("rgb(135,175,215)"); // 110-16=94 → 2,3,4
    expect(fg(231)).toBe("rgb(255,255,255)");
    expect(fg(232)).toBe("rgb(8,8,8)");
    expect(fg(255)).toBe("rgb(238,238,238)");
    expect(parseAnsi(`${E}[48;5;208mx`).spans[0].style).toEqual({ bg: "rgb(255,135,0)" });
  });

  it("handles truecolour in semicolon and colon forms", () => {
    expect(parseAnsi(`${E}[38;2;10;20;30mx`).spans[0].style).toEqual({ fg: "rgb(10,20,30)" });
    expect(parseAnsi(`${E}[48;2;1;2;3;1mx`).spans[0].style).toEqual({ bg: "rgb(1,2,3)", bold: true });
    expect(parseAnsi(`${E}[38:2::40:50:60mx`).spans[0].style).toEqual({ fg: "rgb(40,50,60)" });
    expect(parseAnsi(`${E}[38:5:196mx`).spans[0].style).toEqual({ fg: "rgb(255,0,0)" });
  });

  it("handles attributes and their resets", () => {
    const r = parseAnsi(`${E}[1;2;3;4;7mA${E}[22mB${E}[23;24mC${E}[27mD`);
    expect(r.spans).toEqual([
      { text: "A", style: { bold: true, dim: true, italic: true, underline: true, inverse: true } },
      { text: "B", style: { italic: true, underline: true, inverse: true } },
      { text: "C", style: { inverse: true } },
      { text: "D", style: {} },
    ]);
  });

  it("resets with 0, empty ESC[m, 39 and 49", () => {
    const r = parseAnsi(`${E}[1;31;42mA${E}[39mB${E}[49mC${E}[mD${E}[33mE${E}[0mF`);
    expect(r.spans).toEqual([
      { text: "A", style: { bold: true, fg: "var(--ansi-1)", bg: "var(--ansi-2)" } },
      { text: "B", style: { bold: true, bg: "var(--ansi-2)" } },
      { text: "C", style: { bold: true } },
      { text: "D", style: {} },
      { text: "E", style: { fg: "var(--ansi-3)" } },
      { text: "F", style: {} },
    ]);
  });

  it("merges adjacent runs with the same style", () => {
    const r = parseAnsi(`${E}[31mab${E}[31mcd${E}[Kef`);
    expect(r.spans).toEqual([{ text: "abcdef", style: { fg: "var(--ansi-1)" } }]);
  });

  it("carries the style across lines", () => {
    const a = parseAnsi(`plain ${E}[1;34mstart`);
    expect(a.state).toEqual({ bold: true, fg: "var(--ansi-4)" });
    const b = parseAnsi("continued", a.state);
    expect(b.spans).toEqual([{ text: "continued", style: { bold: true, fg: "var(--ansi-4)" } }]);
    const c = parseAnsi(`more${E}[0m done`, b.state);
    expect(c.spans).toEqual([
      { text: "more", style: { bold: true, fg: "var(--ansi-4)" } },
      { text: " done", style: {} },
    ]);
    expect(c.state).toEqual({});
    // the caller's state object is not mutated
    expect(a.state).toEqual({ bold: true, fg: "var(--ansi-4)" });
  });

  it("removes cursor movement, erase and other non-SGR CSI sequences", () => {
    const r = parseAnsi(`${E}[2J${E}[H${E}[1;1Hab${E}[Kc${E}[3Ad${E}[?25l${E}[?1049he${E}[>4;2mf${E}[6n`);
    expect(text(r.spans)).toBe("abcdef");
    expect(r.spans).toHaveLength(1);
    expect(r.spans[0].style).toEqual({});
  });

  it("removes OSC sequences but keeps hyperlink text", () => {
    const link = `${E}]8;;https://example.com${E}\\the link${E}]8;;${E}\\`;
    expect(text(parseAnsi(`see ${link} here`).spans)).toBe("see the link here");
    const title = `${E}]0;window title\x07after`;
    expect(text(parseAnsi(title).spans)).toBe("after");
    // an unterminated OSC swallows the rest of the line, never shows garbage
    expect(text(parseAnsi(`ok ${E}]8;;http://x`).spans)).toBe("ok ");
  });

  it("removes other escapes and control characters but keeps tabs", () => {
    const r = parseAnsi(`a${E}(Bb${E}7c${E}8d\x07e\x08f\x00g\th${E}=i\x7fj`);
    expect(text(r.spans)).toBe("abcdefg\thij");
  });

  it("applies carriage-return overwrite: only the text after the last \\r", () => {
    expect(text(parseAnsi("progress 10%\rprogress 55%\rprogress 100%").spans)).toBe("progress 100%");
    // a line that only ends with \r (CRLF) keeps its text
    expect(text(parseAnsi("windows line\r").spans)).toBe("windows line");
    expect(text(parseAnsi("10%\r20%\r").spans)).toBe("20%");
    // the style set before the \r still applies after it
    const r = parseAnsi(`${E}[32mold\rnew`);
    expect(r.spans).toEqual([{ text: "new", style: { fg: "var(--ansi-2)" } }]);
  });

  it("does not throw on truncated or invalid sequences at the end of a line", () => {
    for (const tail of [E, `${E}[`, `${E}[31`, `${E}[38;5`, `${E}[38;2;1;2`, `${E}]`, `${E}]8;;`, `${E}(`, "\x9b", "\x9b3"]) {
      const r = parseAnsi(`text${tail}`);
      expect(text(r.spans)).toBe("text");
    }
    // incomplete extended colours are ignored without eating later parameters' meaning
    expect(parseAnsi(`${E}[38;5mx`).spans[0].style).toEqual({});
    expect(parseAnsi(`${E}[38;5;999mx`).spans[0].style).toEqual({});
    // an escape broken by another escape: the second one still works
    const r = parseAnsi(`${E}[3${E}[31mred`);
    expect(r.spans).toEqual([{ text: "red", style: { fg: "var(--ansi-1)" } }]);
  });

  it("parses a 16 KiB line quickly", () => {
    let line = "";
    let k = 0;
    while (line.length < 16 * 1024) {
      line += `${E}[3${k % 8}mword${k} ${E}[0m${E}[K`;
      k++;
    }
    expect(k).toBeGreaterThan(800); // ~1,600 SGR and 800 erase sequences
    for (let n = 0; n < 10; n++) parseAnsi(line); // let the JIT settle
    const times: number[] = [];
    let r = parseAnsi(line);
    for (let n = 0; n < 21; n++) {
      const t0 = performance.now();
      r = parseAnsi(line);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    expect(text(r.spans)).toBe(stripAnsi(line));
    expect(text(r.spans)).toContain(`word${k - 1} `);
    expect(r.spans).toHaveLength(k); // one coloured span per word
    expect(times[10]).toBeLessThan(1); // median
  });

  it("is linear on pathological input (many unterminated introducers)", () => {
    const line = `${E}[`.repeat(8000) + "x" + `${E}]`.repeat(100);
    const t0 = performance.now();
    parseAnsi(line);
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

describe("stripAnsi / hasAnsi", () => {
  it("strips sequences over several lines and keeps newlines", () => {
    expect(stripAnsi(`${E}[1mtitle${E}[0m\n${E}[31mred${E}[0m plain\r\nbar 1\rbar 2\n`)).toBe(
      "title\nred plain\nbar 2\n",
    );
    expect(stripAnsi("no escapes\there")).toBe("no escapes\there");
  });

  it("detects escape sequences", () => {
    expect(hasAnsi(`a${E}[31mb`)).toBe(true);
    expect(hasAnsi("plain\ttext\n")).toBe(false);
  });

  it("handles the colours in a real Codex capture", () => {
    // The shell command in the capture printed a red word; its output is JSON-escaped.
    const out = codexStdout
      .split("\n")
      .filter((l) => l.includes('"item.completed"') && l.includes("command_execution"))
      .map((l) => JSON.parse(l).item.aggregated_output as string)
      .find((o) => hasAnsi(o));
    expect(out).toBeDefined();
    const line = out!.split("\n")[1];
    expect(parseAnsi(line).spans).toEqual([
      { text: "red", style: { fg: "var(--ansi-1)" } },
      { text: " plain", style: {} },
    ]);
    // the harness's own transcript writes the same output raw
    expect(hasAnsi(codexTranscript)).toBe(true);
    expect(stripAnsi(codexTranscript)).toContain("  red plain\n");
  });
});
