// Reading loosely-typed run JSON (summary.json, result.json, activation, registry entries) for display.
import type { JsonValue } from "./api";

export function asArray(v: JsonValue | null | undefined): JsonValue[] {
  return Array.isArray(v) ? v : [];
}

/** One recorded error as a line of text: its message (with phase/iteration/kind) or its JSON. */
export function errText(v: JsonValue): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, JsonValue>;
    const msg = o.message ?? o.error ?? o.detail;
    const where = o.phase ?? o.iteration ?? o.kind;
    if (typeof msg === "string") return (where !== undefined ? `[${String(where)}] ` : "") + msg;
  }
  return JSON.stringify(v);
}

export function str(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The value at `path` inside nested objects, or undefined. */
export function get(o: JsonValue, ...path: string[]): JsonValue | undefined {
  let cur: JsonValue | undefined = o;
  for (const p of path) {
    if (!cur || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, JsonValue>)[p];
  }
  return cur;
}
