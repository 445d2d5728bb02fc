// ANSI/VT escape handling for captured terminal output: SGR colours and attributes become
// styled spans; every other escape sequence and control character (except tab) is dropped.
// A single linear scan per line (no regular expressions over the input), so long lines and
// damaged or truncated sequences cost nothing special and never throw.

export type AnsiStyle = {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
};
export type AnsiSpan = { text: string; style: AnsiStyle }; // style {} for plain text

const ESC = 0x1b;
const BEL = 0x07;
const TAB = 0x09;
const CR = 0x0d;
const C1_CSI = 0x9b;
const C1_OSC = 0x9d;
const C1_ST = 0x9c;

const EMPTY: AnsiStyle = Object.freeze({}) as AnsiStyle;
const CUBE_LEVELS = [0, 95, 135, 175, 215, 255];

function basic(n: number): string {
  return `var(--ansi-${n})`;
}

/** The CSS colour of xterm 256-colour index `n` (0–255). */
function color256(n: number): string {
  if (n < 16) return basic(n);
  if (n < 232) {
    const i = n - 16;
    const r = CUBE_LEVELS[Math.floor(i / 36)];
    const g = CUBE_LEVELS[Math.floor(i / 6) % 6];
    const b = CUBE_LEVELS[i % 6];
    return `rgb(${r},${g},${b})`;
  }
  const v = 8 + 10 * (n - 232);
  return `rgb(${v},${v},${v})`;
}

function byte(n: number): number {
  return n < 0 ? 0 : n > 255 ? 255 : n;
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return (
    a === b ||
    (a.fg === b.fg &&
      a.bg === b.bg &&
      !a.bold === !b.bold &&
      !a.dim === !b.dim &&
      !a.italic === !b.italic &&
      !a.underline === !b.underline &&
      !a.inverse === !b.inverse)
  );
}

/** A fresh style object holding only the set fields (so plain text is exactly `{}`). */
function compact(s: AnsiStyle): AnsiStyle {
  const out: AnsiStyle = {};
  if (s.fg !== undefined) out.fg = s.fg;
  if (s.bg !== undefined) out.bg = s.bg;
  if (s.bold) out.bold = true;
  if (s.dim) out.dim = true;
  if (s.italic) out.italic = true;
  if (s.underline) out.underline = true;
  if (s.inverse) out.inverse = true;
  return out;
}

/** Parses an SGR parameter string (between `ESC[` and `m`) into a list of groups; a group
 * holds one parameter and its `:` sub-parameters. Missing numbers are NaN. */
function sgrGroups(params: string): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let num = NaN;
  for (let i = 0; i <= params.length; i++) {
    const c = i < params.length ? params.charCodeAt(i) : 0x3b;
    if (c >= 0x30 && c <= 0x39) {
      const d = c - 0x30;
      num = Number.isNaN(num) ? d : Math.min(num * 10 + d, 1e6);
    } else if (c === 0x3a) {
      group.push(num);
      num = NaN;
    } else if (c === 0x3b) {
      group.push(num);
      groups.push(group);
      group = [];
      num = NaN;
    }
    // other parameter bytes (`<=>?`) are ignored here; callers reject private sequences
  }
  return groups;
}

/** Reads an extended colour (after 38/48): from sub-parameters `rest` (colon form) or from the
 * following groups (semicolon form). Returns the colour (or undefined) and how many extra
 * groups were consumed. */
function extendedColor(
  rest: number[],
  groups: number[][],
  at: number,
): { color: string | undefined; used: number } {
  if (rest.length > 0) {
    // Colon form: 38:5:n, 38:2:r:g:b or 38:2:<colourspace>:r:g:b
    const mode = rest[0];
    if (mode === 5) {
      const n = rest[1];
      return { color: n >= 0 && n <= 255 ? color256(n) : undefined, used: 0 };
    }
    if (mode === 2) {
      const rgb = rest.length >= 5 ? rest.slice(2, 5) : rest.slice(1, 4);
      if (rgb.length === 3 && rgb.every((v) => !Number.isNaN(v))) {
        return { color: `rgb(${byte(rgb[0])},${byte(rgb[1])},${byte(rgb[2])})`, used: 0 };
      }
    }
    return { color: undefined, used: 0 };
  }
  const mode = groups[at + 1]?.[0];
  if (mode === 5) {
    const n = groups[at + 2]?.[0];
    if (n === undefined) return { color: undefined, used: groups.length - at - 1 };
    return { color: n >= 0 && n <= 255 ? color256(n) : undefined, used: 2 };
  }
  if (mode === 2) {
    if (at + 4 >= groups.length) return { color: undefined, used: groups.length - at - 1 };
    const r = groups[at + 2][0];
    const g = groups[at + 3][0];
    const b = groups[at + 4][0];
    const ok = !Number.isNaN(r) && !Number.isNaN(g) && !Number.isNaN(b);
    return { color: ok ? `rgb(${byte(r)},${byte(g)},${byte(b)})` : undefined, used: 4 };
  }
  // Unknown or missing mode: skip the mode parameter only.
  return { color: undefined, used: groups.length > at + 1 ? 1 : 0 };
}

/** Applies an SGR parameter string to `style`, returning a new (compact) style. */
function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  if (params === "" || params === "0") return EMPTY;
  const s: AnsiStyle = { ...style };
  const groups = sgrGroups(params);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    const code = Number.isNaN(g[0]) ? 0 : g[0];
    if (code === 0) {
      delete s.fg;
      delete s.bg;
      delete s.bold;
      delete s.dim;
      delete s.italic;
      delete s.underline;
      delete s.inverse;
    } else if (code === 1) s.bold = true;
    else if (code === 2) s.dim = true;
    else if (code === 3) s.italic = true;
    else if (code === 4) {
      // 4:0 turns underline off; 4:1..4:5 are underline styles
      s.underline = !(g.length > 1 && g[1] === 0);
    } else if (code === 7) s.inverse = true;
    else if (code === 21) s.underline = true; // double underline
    else if (code === 22) {
      s.bold = false;
      s.dim = false;
    } else if (code === 23) s.italic = false;
    else if (code === 24) s.underline = false;
    else if (code === 27) s.inverse = false;
    else if (code >= 30 && code <= 37) s.fg = basic(code - 30);
    else if (code === 39) delete s.fg;
    else if (code >= 40 && code <= 47) s.bg = basic(code - 40);
    else if (code === 49) delete s.bg;
    else if (code >= 90 && code <= 97) s.fg = basic(code - 90 + 8);
    else if (code >= 100 && code <= 107) s.bg = basic(code - 100 + 8);
    else if (code === 38 || code === 48 || code === 58) {
      const { color, used } = extendedColor(g.slice(1), groups, i);
      i += used;
      if (color !== undefined) {
        if (code === 38) s.fg = color;
        else if (code === 48) s.bg = color;
        // 58 is the underline colour: consumed, not rendered
      }
    }
    // everything else (blink, conceal, strike, fonts, …) is ignored
  }
  return compact(s);
}

/** Parses one line. `state` is the style carried over from previous lines (SGR state persists
 * across lines in terminal output); returns the spans and the style at the end of the line. */
export function parseAnsi(
  line: string,
  state?: AnsiStyle,
): { spans: AnsiSpan[]; state: AnsiStyle } {
  let style: AnsiStyle = state ? compact(state) : EMPTY;
  const n = line.length;
  // A trailing run of `\r` (e.g. CRLF endings) does not overwrite anything.
  let end = n;
  while (end > 0 && line.charCodeAt(end - 1) === CR) end--;

  let spans: AnsiSpan[] = [];
  let last: AnsiSpan | undefined;
  const push = (text: string) => {
    if (last !== undefined && (last.style === style || sameStyle(last.style, style))) last.text += text;
    else spans.push((last = { text, style }));
  };
  // Styles are immutable: remember the result of each (style, SGR parameters) pair seen in
  // this line, so repeated colour changes cost a map lookup.
  let memo: Map<AnsiStyle, Map<string, AnsiStyle>> | undefined;
  const sgr = (params: string) => {
    if (params === "" || params === "0") {
      style = EMPTY;
      return;
    }
    memo ??= new Map();
    let m = memo.get(style);
    if (m === undefined) memo.set(style, (m = new Map()));
    let next = m.get(params);
    if (next === undefined) m.set(params, (next = applySgr(style, params)));
    style = next;
  };

  let i = 0;
  let runStart = 0;
  while (i < end) {
    const c = line.charCodeAt(i);
    if (c >= 0x20 && c !== 0x7f && (c < 0x80 || c > 0x9f)) {
      i++;
      continue;
    }
    if (c === TAB) {
      i++;
      continue;
    }
    // A control character or the start of an escape sequence: flush the plain run.
    if (i > runStart) push(line.slice(runStart, i));
    if (c === CR) {
      // Carriage return: what follows overwrites the line; the style persists.
      spans = [];
      last = undefined;
      i++;
    } else if (c === ESC || c === C1_CSI || c === C1_OSC) {
      i = skipEscape(line, i, end, sgr);
    } else {
      i++; // other C0/C1 controls and DEL are dropped
    }
    runStart = i;
  }
  if (end > runStart) push(line.slice(runStart, end));
  return { spans, state: style };
}

/** Skips the escape sequence starting at `i` (ESC, or a C1 CSI/OSC introducer) and returns the
 * index after it. Calls `onSgr` with the parameters of an SGR (`CSI … m`) sequence. Truncated
 * sequences run to `end`; a sequence broken by an unexpected character ends before it. */
function skipEscape(line: string, i: number, end: number, onSgr: (params: string) => void): number {
  const c0 = line.charCodeAt(i);
  let j: number;
  let kind: "csi" | "str" | "other";
  if (c0 === C1_CSI) {
    kind = "csi";
    j = i + 1;
  } else if (c0 === C1_OSC) {
    kind = "str";
    j = i + 1;
  } else {
    if (i + 1 >= end) return end; // lone ESC at end of line
    const c1 = line.charCodeAt(i + 1);
    if (c1 === 0x5b /* [ */) {
      kind = "csi";
      j = i + 2;
    } else if (
      c1 === 0x5d /* ] OSC */ ||
      c1 === 0x50 /* P DCS */ ||
      c1 === 0x58 /* X SOS */ ||
      c1 === 0x5e /* ^ PM */ ||
      c1 === 0x5f /* _ APC */
    ) {
      kind = "str";
      j = i + 2;
    } else {
      kind = "other";
      j = i + 1;
    }
  }

  if (kind === "csi") {
    const paramStart = j;
    while (j < end) {
      const c = line.charCodeAt(j);
      if (c >= 0x30 && c <= 0x3f) j++;
      else break;
    }
    const paramEnd = j;
    while (j < end) {
      const c = line.charCodeAt(j);
      if (c >= 0x20 && c <= 0x2f) j++;
      else break;
    }
    if (j >= end) return end; // truncated
    const fin = line.charCodeAt(j);
    if (fin < 0x40 || fin > 0x7e) return j; // broken: drop the introducer, keep what follows
    if (fin === 0x6d /* m */ && paramEnd === j) {
      const params = line.slice(paramStart, paramEnd);
      const p0 = params.charCodeAt(0);
      // Private sequences (`CSI ? … m`, `CSI > … m`) are not SGR.
      if (!(p0 >= 0x3c && p0 <= 0x3f)) onSgr(params);
    }
    return j + 1;
  }

  if (kind === "str") {
    // Runs to BEL, ESC \ (ST) or C1 ST; unterminated strings swallow the rest of the line.
    while (j < end) {
      const c = line.charCodeAt(j);
      if (c === BEL || c === C1_ST) return j + 1;
      if (c === ESC) {
        if (j + 1 < end && line.charCodeAt(j + 1) === 0x5c /* \ */) return j + 2;
        return j; // a new escape sequence starts: end the string here
      }
      j++;
    }
    return end;
  }

  // ESC followed by intermediates (0x20–0x2F) and a final (0x30–0x7E), e.g. `ESC ( B`, `ESC 7`.
  while (j < end) {
    const c = line.charCodeAt(j);
    if (c >= 0x20 && c <= 0x2f) j++;
    else break;
  }
  if (j >= end) return end;
  const fin = line.charCodeAt(j);
  if (fin >= 0x30 && fin <= 0x7e) return j + 1;
  return j; // ESC before something unexpected: drop only the ESC (and intermediates)
}

/** `text` (any number of lines) without escape sequences or control characters other than
 * tab and newline; `\r` overwrite is applied per line as in {@link parseAnsi}. */
export function stripAnsi(text: string): string {
  if (!NEEDS_WORK.test(text)) return text;
  const lines = text.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k];
    if (!NEEDS_WORK.test(l)) continue;
    const { spans } = parseAnsi(l);
    let s = "";
    for (const span of spans) s += span.text;
    lines[k] = s;
  }
  return lines.join("\n");
}

// eslint-disable-next-line no-control-regex
const NEEDS_WORK = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
// eslint-disable-next-line no-control-regex
const HAS_ESCAPE = /[\x1b\x9b\x9d]/;

/** Whether `text` contains an escape sequence introducer (ESC, or a C1 CSI/OSC). */
export function hasAnsi(text: string): boolean {
  return HAS_ESCAPE.test(text);
}
