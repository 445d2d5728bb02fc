// Pure logic of the command palette (Ctrl+K): pasted links, fuzzy matching, run ranking.
import type { RunRow } from "./api-types";
import { parseHash, type Route } from "./router";
import { highlight, parseTime, shortPath } from "./format";

const ROUTE_HEADS = ["runs", "run", "search"];

/**
 * The route of a link pasted into the palette: a full URL of the browser view
 * (`http://127.0.0.1:4000/#/run/…`), of the desktop app (`tauri://localhost/#/run/…`) or a bare
 * hash (`#/run/…`). Only the part from `#/` on matters. Null when there is no app route in it
 * (parseHash itself falls back to the runs view for anything, which is no link).
 */
export function linkRoute(text: string): Route | null {
  const i = text.indexOf("#/");
  if (i < 0) return null;
  const hash = text.slice(i).trim();
  const head = hash.slice(2).split(/[/?]/, 1)[0];
  if (!ROUTE_HEADS.includes(head)) return null;
  const r = parseHash(hash);
  // `#/run/only-one` parses as the runs view: a truncated run link, not a runs link.
  return r.name === head ? r : null;
}

/** One line saying where a route goes, for the "Open link" item. */
export function describeRoute(r: Route): string {
  switch (r.name) {
    case "runs":
      return r.q ? `Runs matching “${r.q}”` : "Runs";
    case "search":
      return r.q ? `Search for “${r.q}”` : "Search";
    case "run": {
      const parts = [`Run ${r.runId}`];
      if (r.iteration !== undefined) parts.push(`iteration ${r.iteration}`);
      if (r.tab) parts.push(r.phase ? `${r.phase} ${r.tab}` : r.tab);
      if (r.file) parts.push(r.file.split(/[\\/]/).pop() ?? r.file);
      if (r.line !== undefined) parts.push(`line ${r.line + 1}`);
      return `${parts.join(" · ")} — ${shortPath(r.workspace)}`;
    }
  }
}

/**
 * How well `query` matches `text` (case-insensitive), or null for no match. Bands, best first:
 * exact (100), prefix (90–91), word prefix (80–81), substring (70–71), subsequence (≤ 50).
 * Within a band, a match covering more of the text scores higher. Empty queries match all (0).
 */
export function matchScore(query: string, text: string): number | null {
  const q = query.trim().toLowerCase();
  if (!q) return 0;
  const t = text.toLowerCase();
  if (!t) return null;
  const cover = q.length / t.length; // in (0, 1) unless exact
  if (t === q) return 100;
  if (t.startsWith(q)) return 90 + cover;
  const at = t.indexOf(q);
  if (at >= 0) {
    // a word prefix: the match starts after a separator (`-`, `_`, `/`, space, …)
    const wordStart = wordStarts(t).some((i) => t.startsWith(q, i));
    return (wordStart ? 80 : 70) + cover;
  }
  return subsequence(q, t);
}

function wordStarts(t: string): number[] {
  const out: number[] = [];
  for (let i = 1; i < t.length; i++) if (!/[\p{L}\p{N}]/u.test(t[i - 1]) && /[\p{L}\p{N}]/u.test(t[i])) out.push(i);
  return out;
}

/** Subsequence score: 50 when the letters are adjacent, less the more they are spread out. */
function subsequence(q: string, t: string): number | null {
  let ti = 0;
  let first = -1;
  for (const ch of q) {
    if (ch === " ") continue; // spaces only separate words of the query
    const i = t.indexOf(ch, ti);
    if (i < 0) return null;
    if (first < 0) first = i;
    ti = i + 1;
  }
  if (first < 0) return null;
  const span = ti - first;
  const letters = q.replace(/ /g, "").length;
  return 10 + 40 * (letters / span);
}

/** The best score of `query` over several texts (null when none matches). */
export function bestScore(query: string, texts: (string | null | undefined)[]): number | null {
  let best: number | null = null;
  for (const t of texts) {
    if (!t) continue;
    const s = matchScore(query, t);
    if (s !== null && (best === null || s > best)) best = s;
  }
  return best;
}

/** A command of the palette; `keys` is its shortcut as shown (one `<kbd>` each). */
export type Command = { id: string; label: string; keys: string[] };

/** The commands matching `text`, best first; all of them in their order for an empty text. */
export function filterCommands<C extends Command>(commands: C[], text: string): C[] {
  return rank(commands, text, (c) => [c.label]).map((x) => x.item);
}

/**
 * Up to `limit` runs matching `text` by run id, workspace name or runner, best first (newer
 * first among equals). For an empty text, the most recent runs (by start time when known,
 * else in the order given).
 */
export function filterRuns(runs: RunRow[], text: string, limit = 8): RunRow[] {
  const ranked = rank(runs, text, (r) => [r.run_id, shortPath(r.workspace), r.runner]);
  const t = (r: RunRow) => parseTime(r.started_at) ?? -Infinity;
  ranked.sort((a, b) => b.score - a.score || t(b.item) - t(a.item) || a.index - b.index);
  return ranked.slice(0, limit).map((x) => x.item);
}

/** Items whose texts match, with their score and original position, sorted best first (stable). */
function rank<T>(items: T[], text: string, texts: (item: T) => (string | null | undefined)[]) {
  const out: { item: T; score: number; index: number }[] = [];
  items.forEach((item, index) => {
    const score = bestScore(text, texts(item));
    if (score !== null) out.push({ item, score, index });
  });
  return out.sort((a, b) => b.score - a.score || a.index - b.index);
}

/**
 * A one-line snippet with its matches marked, starting shortly before the first match: the
 * backend's snippets run to ~240 characters and the palette shows far fewer, so the match
 * must not be cut off at the right.
 */
export function snippetAround(text: string, terms: string[], lead = 24): { text: string; hit: boolean }[] {
  const t = text.replace(/\s+/g, " ").trim();
  const pieces = highlight(t, terms);
  let at = 0;
  for (const p of pieces) {
    if (p.hit) break;
    at += p.text.length;
  }
  if (at >= t.length || at <= lead) return pieces;
  // cut at a space near `at - lead` when there is one, so no word is cut in half
  let from = at - lead;
  const sp = t.indexOf(" ", from);
  if (sp >= 0 && sp < at) from = sp + 1;
  return highlight("…" + t.slice(from), terms);
}
