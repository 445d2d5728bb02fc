// Hash routes. Every view has a deep link that works the same in the Tauri window and in a
// browser served from any path (only the part after `#` matters).
//
//   #/runs?q=…&status=solved,error&sort=started&dir=desc
//   #/run/<enc workspace>/<enc run_id>[/<iteration>[/<tab>]][?phase=…&line=N&file=…]
//   #/search?q=…

export const TABS = [
  "transcript",
  "prompt",
  "stdout",
  "stderr",
  "result",
  "activation",
  "artifacts",
  "calls",
  "files",
] as const;
export type Tab = (typeof TABS)[number];

export type RunsRoute = {
  name: "runs";
  q?: string;
  status?: string[];
  sort?: string;
  dir?: "asc" | "desc";
};
export type RunRoute = {
  name: "run";
  workspace: string;
  runId: string;
  iteration?: number;
  tab?: Tab;
  phase?: string;
  /** 0-based line to scroll to and highlight in the text viewer. */
  line?: number;
  /** A file of the iteration (relative name or absolute path), for the Files tab. */
  file?: string;
};
export type SearchRoute = { name: "search"; q: string };
export type Route = RunsRoute | RunRoute | SearchRoute;

export function isTab(s: string | undefined | null): s is Tab {
  return !!s && (TABS as readonly string[]).includes(s);
}

function dec(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function intOrUndef(s: string | null | undefined): number | undefined {
  if (s == null || s === "") return undefined;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Parses `location.hash` (with or without the leading `#`). Unknown routes give the runs view. */
export function parseHash(hash: string): Route {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!h.startsWith("/")) h = "/" + h;
  const qi = h.indexOf("?");
  const pathPart = qi >= 0 ? h.slice(0, qi) : h;
  const params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : "");
  const segs = pathPart.split("/").filter((s) => s !== "");
  const head = segs[0] ?? "runs";
  if (head === "run" && segs.length >= 3) {
    const r: RunRoute = { name: "run", workspace: dec(segs[1]), runId: dec(segs[2]) };
    const it = intOrUndef(segs[3]);
    if (it !== undefined) r.iteration = it;
    const tab = segs[4] ? dec(segs[4]) : undefined;
    if (isTab(tab)) r.tab = tab;
    const phase = params.get("phase");
    if (phase) r.phase = phase;
    const line = intOrUndef(params.get("line"));
    if (line !== undefined) r.line = line;
    const file = params.get("file");
    if (file) r.file = file;
    return r;
  }
  if (head === "search") {
    return { name: "search", q: params.get("q") ?? "" };
  }
  const r: RunsRoute = { name: "runs" };
  const q = params.get("q");
  if (q) r.q = q;
  const status = params.get("status");
  if (status) r.status = status.split(",").filter(Boolean);
  const sort = params.get("sort");
  if (sort) r.sort = sort;
  const dir = params.get("dir");
  if (dir === "asc" || dir === "desc") r.dir = dir;
  return r;
}

function qs(entries: [string, string | number | undefined | null][]): string {
  const p = new URLSearchParams();
  for (const [k, v] of entries) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? "?" + s : "";
}

/** The hash (starting with `#`) for a route. `parseHash(formatRoute(r))` gives `r` back. */
export function formatRoute(r: Route): string {
  switch (r.name) {
    case "runs":
      return (
        "#/runs" +
        qs([
          ["q", r.q],
          ["status", r.status && r.status.length ? r.status.join(",") : undefined],
          ["sort", r.sort],
          ["dir", r.dir],
        ])
      );
    case "search":
      return "#/search" + qs([["q", r.q]]);
    case "run": {
      let p = `#/run/${encodeURIComponent(r.workspace)}/${encodeURIComponent(r.runId)}`;
      if (r.iteration !== undefined) {
        p += `/${r.iteration}`;
        if (r.tab) p += `/${r.tab}`;
      }
      return (
        p +
        qs([
          ["phase", r.phase],
          ["line", r.line],
          ["file", r.file],
        ])
      );
    }
  }
}

/** A full URL for a route: the current page with its hash replaced. */
export function linkFor(r: Route, href: string): string {
  const i = href.indexOf("#");
  return (i >= 0 ? href.slice(0, i) : href) + formatRoute(r);
}

/** Goes to a route (adds a history entry). */
export function navigate(r: Route): void {
  const h = formatRoute(r);
  if (location.hash !== h) location.hash = h;
}

/** Replaces the current history entry (for state reflected in the URL, such as filters). */
export function replaceRoute(r: Route): void {
  const h = formatRoute(r);
  if (location.hash === h) return;
  history.replaceState(history.state, "", h);
  // replaceState fires no hashchange; tell listeners ourselves.
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** Where a search hit opens: the phase stream tab at the exact line, or the Files tab. */
export function hitRoute(h: {
  workspace: string;
  file: string;
  run_id: string | null;
  iteration: number | null;
  phase: string | null;
  stream: string | null;
  /** 1-based */
  line: number;
}): RunRoute | null {
  if (!h.run_id) return null;
  const r: RunRoute = { name: "run", workspace: h.workspace, runId: h.run_id };
  if (h.iteration === null) return r;
  r.iteration = h.iteration;
  const line = Math.max(0, h.line - 1);
  const phase = h.phase ? (h.phase.includes("/") ? h.phase.slice(0, h.phase.indexOf("/")) : h.phase) : undefined;
  if (phase && (h.stream === "stdout" || h.stream === "stderr" || h.stream === "prompt")) {
    r.tab = h.stream;
    r.phase = phase;
    r.line = line;
    return r;
  }
  r.tab = "files";
  if (phase) r.phase = phase;
  r.line = line;
  r.file = h.file;
  return r;
}
