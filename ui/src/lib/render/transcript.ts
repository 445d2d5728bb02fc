// Turns a phase's stdout into transcript items: Codex `exec --json` events, Claude Code
// `stream-json --verbose` events, or plain text. Never throws on damaged input: anything that
// is not JSON or not understood becomes a `raw` item.

export type TranscriptFormat = "codex" | "claude" | "text";
export type ToolStatus = "ok" | "error" | "pending" | "declined";
export type TranscriptItem =
  | { kind: "message"; role: "user" | "assistant" | "system"; text: string; line: number }
  | { kind: "reasoning"; text: string; line: number }
  | {
      kind: "tool";
      id: string;
      name: string;
      server?: string;
      input: string;
      output?: string;
      status: ToolStatus;
      exitCode?: number;
      line: number;
      resultLine?: number;
    }
  | { kind: "file_change"; text: string; line: number }
  | { kind: "session"; text: string; line: number } // thread.started / system init: model, session id, tools, mcp servers
  | {
      kind: "result";
      text: string;
      isError: boolean;
      usage?: string;
      costUsd?: number;
      durationMs?: number;
      line: number;
    }
  | { kind: "error"; text: string; line: number }
  | { kind: "raw"; text: string; line: number }; // a line that is not JSON or not understood

type ToolItem = Extract<TranscriptItem, { kind: "tool" }>;
type Json = Record<string, unknown>;

/** Name given to a tool item whose call happened before the window (only its result is seen). */
export const EARLIER_CALL = "(earlier call)";

const CODEX_TYPES = new Set([
  "thread.started",
  "turn.started",
  "turn.completed",
  "turn.failed",
  "item.started",
  "item.updated",
  "item.completed",
]);
const CLAUDE_TYPES = new Set(["system", "assistant", "user", "result", "stream_event"]);

/** How many lines format detection looks at (the first ones that are not blank). */
const DETECT_LINES = 200;

// ---------------------------------------------------------------------------------------------
// small helpers

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
function pretty(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Parses a line as a JSON object, or undefined (not JSON, not an object, damaged). */
function parseLine(line: string): Json | undefined {
  let k = 0;
  while (k < line.length && (line.charCodeAt(k) === 0x20 || line.charCodeAt(k) === 0x09)) k++;
  if (line.charCodeAt(k) !== 0x7b /* { */) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function classify(obj: Json | undefined): "codex" | "claude" | undefined {
  if (!obj) return undefined;
  const t = obj.type;
  if (typeof t !== "string") return undefined;
  if (CODEX_TYPES.has(t)) return "codex";
  if (CLAUDE_TYPES.has(t)) return "claude";
  if (t === "error" && typeof obj.message === "string") return "codex";
  return undefined;
}

function detectParsed(lines: string[], parsed: (Json | undefined)[]): TranscriptFormat {
  let codex = 0;
  let claude = 0;
  let seen = 0;
  for (let i = 0; i < lines.length && seen < DETECT_LINES; i++) {
    if (lines[i].trim() === "") continue;
    seen++;
    const c = classify(parsed[i]);
    if (c === "codex") codex++;
    else if (c === "claude") claude++;
  }
  const known = codex + claude;
  // Enough recognised events: a JSON transcript (damaged or foreign lines in it become raw
  // items, just as in the text format). A stray JSON line in a text log is not enough.
  if (known === 0 || known * 4 < seen) return "text";
  return codex >= claude ? "codex" : "claude";
}

/** `lines` are consecutive lines of a phase's stdout, `firstLine` the 0-based line number of lines[0] in the file. */
export function detectFormat(lines: string[]): TranscriptFormat {
  const parsed: (Json | undefined)[] = [];
  let seen = 0;
  for (let i = 0; i < lines.length && seen < DETECT_LINES; i++) {
    if (lines[i].trim() !== "") seen++;
    parsed.push(parseLine(lines[i]));
  }
  return detectParsed(lines, parsed);
}

export function parseTranscript(
  lines: string[],
  firstLine = 0,
): { format: TranscriptFormat; items: TranscriptItem[] } {
  const parsed = lines.map(parseLine);
  const format = detectParsed(lines, parsed);
  if (format === "codex") return { format, items: parseCodex(lines, parsed, firstLine) };
  if (format === "claude") return { format, items: parseClaude(lines, parsed, firstLine) };
  return { format, items: lines.map((text, i) => ({ kind: "raw", text, line: firstLine + i })) };
}

/** Outputs longer than this many lines or chars are shown collapsed by the view. */
export function isLong(text: string, maxLines = 20, maxChars = 2000): boolean {
  if (text.length > maxChars) return true;
  // Count line breaks; a single trailing newline does not start another line.
  const body = text.endsWith("\n") ? text.length - 1 : text.length;
  let breaks = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < body; i = text.indexOf("\n", i + 1)) {
    if (++breaks >= maxLines) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Codex `exec --json`

function codexUsage(u: unknown): string | undefined {
  if (!isObj(u)) return undefined;
  const parts: string[] = [];
  const input = num(u.input_tokens);
  const cached = num(u.cached_input_tokens);
  const cacheWrite = num(u.cache_write_input_tokens);
  const output = num(u.output_tokens);
  const reasoning = num(u.reasoning_output_tokens);
  if (input !== undefined) {
    let s = `input ${fmtInt(input)}`;
    if (cached) s += ` (cached ${fmtInt(cached)})`;
    parts.push(s);
  }
  if (cacheWrite) parts.push(`cache write ${fmtInt(cacheWrite)}`);
  if (output !== undefined) {
    let s = `output ${fmtInt(output)}`;
    if (reasoning) s += ` (reasoning ${fmtInt(reasoning)})`;
    parts.push(s);
  }
  return parts.length ? parts.join(" · ") : undefined;
}

/** Text of MCP content blocks ([{type:"text",text}, {type:"image"}, …]). */
function contentText(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  const out: string[] = [];
  for (const block of content) {
    if (typeof block === "string") out.push(block);
    else if (isObj(block)) {
      if (typeof block.text === "string") out.push(block.text);
      else if (block.type === "image") out.push("[image]");
      else if (isObj(block.resource) && typeof block.resource.text === "string")
        out.push(block.resource.text);
      else if (typeof block.type === "string") out.push(`[${block.type}]`);
    }
  }
  return out.join("\n");
}

function codexStatus(status: unknown, fallback: ToolStatus): ToolStatus {
  switch (status) {
    case "in_progress":
      return "pending";
    case "completed":
      return "ok";
    case "failed":
      return "error";
    case "declined":
      return "declined";
    default:
      return fallback;
  }
}

/** The item for one Codex `item` object, or undefined when its type is not understood. */
function codexItem(item: Json, line: number, final: boolean): TranscriptItem | undefined {
  const id = str(item.id) ?? "";
  switch (item.type) {
    case "agent_message":
      return { kind: "message", role: "assistant", text: str(item.text) ?? "", line };
    case "reasoning": {
      let text = str(item.text);
      if (text === undefined && Array.isArray(item.summary)) text = contentText(item.summary);
      return { kind: "reasoning", text: text ?? "", line };
    }
    case "command_execution": {
      const exitCode = num(item.exit_code);
      let status = codexStatus(item.status, final ? "ok" : "pending");
      if (status === "ok" && exitCode !== undefined && exitCode !== 0) status = "error";
      const output = str(item.aggregated_output);
      const t: ToolItem = { kind: "tool", id, name: "shell", input: str(item.command) ?? "", status, line };
      if (output !== undefined && (output !== "" || status !== "pending")) t.output = output;
      if (exitCode !== undefined) t.exitCode = exitCode;
      return t;
    }
    case "mcp_tool_call": {
      let status = codexStatus(item.status, final ? "ok" : "pending");
      const t: ToolItem = {
        kind: "tool",
        id,
        name: str(item.tool) ?? "(unknown tool)",
        input: pretty(item.arguments),
        status,
        line,
      };
      const server = str(item.server);
      if (server !== undefined) t.server = server;
      const err = isObj(item.error) ? str(item.error.message) ?? pretty(item.error) : str(item.error);
      if (err) {
        t.output = err;
        if (status !== "pending") status = "error";
      } else if (isObj(item.result)) {
        const r = item.result;
        let text = contentText(r.content);
        if (!text && r.structured_content !== undefined && r.structured_content !== null)
          text = pretty(r.structured_content);
        t.output = text ?? "";
        if (r.is_error === true || r.isError === true) status = "error";
      }
      t.status = status;
      return t;
    }
    case "web_search": {
      const status = codexStatus(item.status, final ? "ok" : "pending");
      const t: ToolItem = { kind: "tool", id, name: "web_search", input: str(item.query) ?? pretty(item.action), status, line };
      return t;
    }
    case "collab_tool_call": {
      const { id: _id, type: _type, status: st, tool, ...rest } = item;
      return {
        kind: "tool",
        id,
        name: str(tool) ?? "collab_tool_call",
        input: pretty(rest),
        status: codexStatus(st, final ? "ok" : "pending"),
        line,
      };
    }
    case "file_change": {
      const changes = Array.isArray(item.changes) ? item.changes : [];
      const rows = changes.map((c) => {
        if (!isObj(c)) return pretty(c);
        const kind = isObj(c.kind) ? str(c.kind.type) ?? pretty(c.kind) : str(c.kind) ?? "change";
        const moved = isObj(c.kind) ? str(c.kind.move_path) : undefined;
        return `${kind} ${str(c.path) ?? "?"}${moved ? ` → ${moved}` : ""}`;
      });
      let text = rows.join("\n") || "(no changes listed)";
      if (item.status === "failed") text += "\n(failed)";
      else if (item.status === "declined") text += "\n(declined)";
      return { kind: "file_change", text, line };
    }
    case "todo_list": {
      const entries = Array.isArray(item.items) ? item.items : [];
      const rows = entries.map((e) =>
        isObj(e) ? `${e.completed === true ? "[x]" : "[ ]"} ${str(e.text) ?? pretty(e)}` : pretty(e),
      );
      return { kind: "message", role: "system", text: ["To-do list:", ...rows].join("\n"), line };
    }
    case "plan":
      return { kind: "message", role: "system", text: `Plan:\n${str(item.text) ?? pretty(item)}`, line };
    case "error":
      return { kind: "error", text: str(item.message) ?? pretty(item), line };
    default:
      return undefined;
  }
}

function parseCodex(lines: string[], parsed: (Json | undefined)[], firstLine: number): TranscriptItem[] {
  const items: TranscriptItem[] = [];
  // item id → index in `items` of the item that is still open (started, not completed)
  const open = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = firstLine + i;
    const obj = parsed[i];
    if (!obj) {
      if (lines[i].trim() !== "") items.push({ kind: "raw", text: lines[i], line });
      continue;
    }
    const type = obj.type;
    if (type === "thread.started") {
      open.clear();
      const id = str(obj.thread_id);
      items.push({ kind: "session", text: id ? `thread ${id}` : "thread started", line });
    } else if (type === "turn.started") {
      // nothing to show
    } else if (type === "turn.completed") {
      const usage = codexUsage(obj.usage);
      const r: TranscriptItem = { kind: "result", text: "Turn completed", isError: false, line };
      if (usage) r.usage = usage;
      items.push(r);
    } else if (type === "turn.failed") {
      const err = obj.error;
      const text = isObj(err) ? str(err.message) ?? pretty(err) : str(err) ?? "Turn failed";
      items.push({ kind: "result", text, isError: true, line });
    } else if (type === "error") {
      items.push({ kind: "error", text: str(obj.message) ?? pretty(obj), line });
    } else if (type === "item.started" || type === "item.updated" || type === "item.completed") {
      const item = obj.item;
      if (!isObj(item)) {
        items.push({ kind: "raw", text: lines[i], line });
        continue;
      }
      const final = type === "item.completed";
      const id = str(item.id);
      const prevIndex = id !== undefined ? open.get(id) : undefined;
      const prev = prevIndex !== undefined ? items[prevIndex] : undefined;
      const made = codexItem(item, prev ? prev.line : line, final);
      if (!made) {
        items.push({ kind: "raw", text: lines[i], line });
        continue;
      }
      if (made.kind === "tool" && prev && prev.kind === "tool") {
        if (final) made.resultLine = line;
        // A final event may omit what the started one had (e.g. the command).
        if (!made.input) made.input = prev.input;
        if (made.server === undefined && prev.server !== undefined) made.server = prev.server;
      } else if (made.kind === "tool" && final && !prev) {
        made.resultLine = line;
      }
      if (prevIndex !== undefined && prev && prev.kind === made.kind) {
        items[prevIndex] = made;
        if (final) open.delete(id!);
      } else {
        items.push(made);
        if (!final && id !== undefined) open.set(id, items.length - 1);
      }
    } else if (typeof type === "string" && type.endsWith(".delta")) {
      // streaming deltas (item.plan.delta, …): the completed item carries the full text
    } else {
      items.push({ kind: "raw", text: lines[i], line });
    }
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Claude Code `stream-json --verbose`

function splitMcpName(name: string): { server?: string; name: string } {
  if (name.startsWith("mcp__")) {
    const rest = name.slice(5);
    const k = rest.indexOf("__");
    if (k > 0 && k + 2 < rest.length) return { server: rest.slice(0, k), name: rest.slice(k + 2) };
  }
  return { name };
}

function claudeToolInput(name: string, input: unknown): string {
  // Shell-like tools: show the command itself rather than its JSON wrapper.
  if (isObj(input) && typeof input.command === "string" && (name === "Bash" || name === "PowerShell")) {
    return input.command;
  }
  return pretty(input);
}

function claudeUsage(u: unknown, turns: number | undefined): string | undefined {
  const parts: string[] = [];
  if (isObj(u)) {
    const input = num(u.input_tokens);
    const read = num(u.cache_read_input_tokens);
    const write = num(u.cache_creation_input_tokens);
    const output = num(u.output_tokens);
    if (input !== undefined) parts.push(`input ${fmtInt(input)}`);
    if (read) parts.push(`cache read ${fmtInt(read)}`);
    if (write) parts.push(`cache write ${fmtInt(write)}`);
    if (output !== undefined) parts.push(`output ${fmtInt(output)}`);
  }
  if (turns !== undefined) parts.push(`${turns} turn${turns === 1 ? "" : "s"}`);
  return parts.length ? parts.join(" · ") : undefined;
}

function claudeInit(obj: Json): string {
  const rows: string[] = [];
  const model = str(obj.model);
  if (model) rows.push(`model: ${model}`);
  const session = str(obj.session_id);
  if (session) rows.push(`session: ${session}`);
  const cwd = str(obj.cwd);
  if (cwd) rows.push(`cwd: ${cwd}`);
  const mode = str(obj.permissionMode);
  if (mode) rows.push(`permission mode: ${mode}`);
  if (Array.isArray(obj.tools)) {
    const names = obj.tools.map((t) => (typeof t === "string" ? t : isObj(t) ? str(t.name) ?? "?" : "?"));
    rows.push(`tools (${names.length}): ${names.join(", ")}`);
  }
  if (Array.isArray(obj.mcp_servers)) {
    const servers = obj.mcp_servers.map((s) =>
      isObj(s) ? `${str(s.name) ?? "?"} (${str(s.status) ?? "?"})` : pretty(s),
    );
    rows.push(`mcp servers: ${servers.length ? servers.join(", ") : "none"}`);
  }
  const version = str(obj.claude_code_version);
  if (version) rows.push(`claude code ${version}`);
  return rows.join("\n") || "session started";
}

function claudeSystem(obj: Json, line: number): TranscriptItem {
  const subtype = str(obj.subtype);
  if (subtype === "init") return { kind: "session", text: claudeInit(obj), line };
  if (subtype === "api_retry") {
    const attempt = num(obj.attempt);
    const max = num(obj.max_retries);
    const status = num(obj.error_status);
    const err = str(obj.error);
    let text = "API retry";
    if (attempt !== undefined) text += ` ${attempt}${max !== undefined ? `/${max}` : ""}`;
    const why = [status !== undefined ? String(status) : undefined, err].filter(Boolean).join(" ");
    if (why) text += `: ${why}`;
    return { kind: "message", role: "system", text, line };
  }
  const parts = [`system: ${subtype ?? "(no subtype)"}`];
  for (const key of ["message", "content", "text", "status"]) {
    const v = str(obj[key]);
    if (v) {
      parts.push(v);
      break;
    }
  }
  return { kind: "message", role: "system", text: parts.join("\n"), line };
}

function parseClaude(lines: string[], parsed: (Json | undefined)[], firstLine: number): TranscriptItem[] {
  const items: TranscriptItem[] = [];
  // tool_use id → index in `items`
  const tools = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = firstLine + i;
    const obj = parsed[i];
    if (!obj) {
      if (lines[i].trim() !== "") items.push({ kind: "raw", text: lines[i], line });
      continue;
    }
    const type = obj.type;
    if (type === "system") {
      items.push(claudeSystem(obj, line));
    } else if (type === "assistant") {
      const message = obj.message;
      const content = isObj(message) ? message.content : undefined;
      const isErrorMessage = typeof obj.error === "string" && obj.error !== "";
      if (typeof content === "string") {
        items.push(isErrorMessage ? { kind: "error", text: content, line } : { kind: "message", role: "assistant", text: content, line });
        continue;
      }
      if (!Array.isArray(content)) {
        items.push({ kind: "raw", text: lines[i], line });
        continue;
      }
      for (const block of content) {
        if (!isObj(block)) continue;
        const bt = block.type;
        if (bt === "text") {
          const text = str(block.text) ?? "";
          items.push(isErrorMessage ? { kind: "error", text, line } : { kind: "message", role: "assistant", text, line });
        } else if (bt === "thinking") {
          items.push({ kind: "reasoning", text: str(block.thinking) ?? "", line });
        } else if (bt === "redacted_thinking") {
          items.push({ kind: "reasoning", text: "(redacted thinking)", line });
        } else if (bt === "tool_use" || bt === "server_tool_use" || bt === "mcp_tool_use") {
          const id = str(block.id) ?? "";
          const full = str(block.name) ?? "(unknown tool)";
          const split = splitMcpName(full);
          const t: ToolItem = {
            kind: "tool",
            id,
            name: split.name,
            input: claudeToolInput(full, block.input),
            status: "pending",
            line,
          };
          const server = split.server ?? str(block.server_name);
          if (server !== undefined) t.server = server;
          const existing = id ? tools.get(id) : undefined;
          if (existing !== undefined && items[existing].kind === "tool") {
            // The same call repeated (e.g. a re-sent message): keep one item.
            const prev = items[existing] as ToolItem;
            prev.input = t.input;
          } else {
            items.push(t);
            if (id) tools.set(id, items.length - 1);
          }
        } else if (typeof bt === "string" && bt.endsWith("_tool_result")) {
          // server-side tool results (web search, …) arrive inside the assistant message
          fillResult(items, tools, block, line);
        }
      }
    } else if (type === "user") {
      const message = obj.message;
      const content = isObj(message) ? message.content : undefined;
      if (typeof content === "string") {
        items.push({ kind: "message", role: "user", text: content, line });
        continue;
      }
      if (!Array.isArray(content)) {
        items.push({ kind: "raw", text: lines[i], line });
        continue;
      }
      const texts: string[] = [];
      for (const block of content) {
        if (!isObj(block)) continue;
        if (block.type === "tool_result") fillResult(items, tools, block, line);
        else if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
        else if (block.type === "image") texts.push("[image]");
      }
      if (texts.length) items.push({ kind: "message", role: "user", text: texts.join("\n"), line });
    } else if (type === "result") {
      const subtype = str(obj.subtype);
      const isError = obj.is_error === true || subtype !== "success";
      const text = str(obj.result) ?? (Array.isArray(obj.errors) ? obj.errors.map(pretty).join("\n") : "");
      const r: Extract<TranscriptItem, { kind: "result" }> = {
        kind: "result",
        text: text || subtype || (isError ? "error" : "success"),
        isError,
        line,
      };
      const usage = claudeUsage(obj.usage, num(obj.num_turns));
      if (usage) r.usage = usage;
      const cost = num(obj.total_cost_usd);
      if (cost !== undefined) r.costUsd = cost;
      const duration = num(obj.duration_ms);
      if (duration !== undefined) r.durationMs = duration;
      items.push(r);
      // Calls the permission system refused never get a normal result.
      if (Array.isArray(obj.permission_denials)) {
        for (const d of obj.permission_denials) {
          const id = isObj(d) ? str(d.tool_use_id) : undefined;
          const k = id ? tools.get(id) : undefined;
          const t = k !== undefined ? items[k] : undefined;
          if (t && t.kind === "tool" && (t.status === "pending" || t.status === "error")) t.status = "declined";
        }
      }
    } else if (type === "stream_event") {
      // partial-message deltas (--include-partial-messages): the full messages follow
    } else {
      items.push({ kind: "raw", text: lines[i], line });
    }
  }
  return items;
}

function fillResult(items: TranscriptItem[], tools: Map<string, number>, block: Json, line: number): void {
  const id = str(block.tool_use_id) ?? "";
  const output = contentText(block.content) ?? pretty(block.content);
  const status: ToolStatus = block.is_error === true ? "error" : "ok";
  const k = id ? tools.get(id) : undefined;
  const t = k !== undefined ? items[k] : undefined;
  if (t && t.kind === "tool") {
    t.output = output;
    t.status = status;
    t.resultLine = line;
    return;
  }
  items.push({ kind: "tool", id, name: EARLIER_CALL, input: "", output, status, line, resultLine: line });
  if (id) tools.set(id, items.length - 1);
}
