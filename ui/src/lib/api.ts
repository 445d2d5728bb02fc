// The only module that talks to a backend. In the desktop app the calls go through Tauri's IPC
// (one command, `api`); in a browser they go to `harnessgym view` over HTTP (`POST /api`) and
// server-sent events (`GET /api/events`). Nothing else in the UI knows which.
import type {
  ApiErrorBody,
  ApiEvent,
  CallRow,
  CallStats,
  ErrorRow,
  Info,
  IterationDetail,
  Request,
  RunDetail,
  RunRow,
  RunsQuery,
  Scope,
  SearchResult,
  TextQuery,
  TextWindow,
  WorkspaceInfo,
} from "./api-types";

export type * from "./api-types";

/** True inside the Tauri window. */
export const isDesktop: boolean =
  typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;

/** An error the backend reported (`kind`: not_found, forbidden, bad_request, internal) or a
 *  transport failure (`kind`: unreachable). */
export class ApiError extends Error {
  kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** Where `harnessgym view` serves the API; same origin as the page unless overridden. */
function base(): string {
  const w = window as unknown as { HARNESSGYM_API?: string };
  return w.HARNESSGYM_API ?? "";
}

async function call<T>(request: Request): Promise<T> {
  if (isDesktop) {
    const { invoke } = await import("@tauri-apps/api/core");
    try {
      return (await invoke("api", { request })) as T;
    } catch (e) {
      const b = e as Partial<ApiErrorBody>;
      throw new ApiError(b?.kind ?? "internal", b?.message ?? String(e));
    }
  }
  let res: Response;
  try {
    res = await fetch(`${base()}/api`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
  } catch (e) {
    throw new ApiError("unreachable", `The HarnessGym backend is not reachable: ${e}`);
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const b = (body ?? {}) as Partial<ApiErrorBody>;
    throw new ApiError(b.kind ?? "internal", b.message ?? `HTTP ${res.status}`);
  }
  return body as T;
}

export const api = {
  info: () => call<Info>({ cmd: "info" }),
  workspaces: () => call<WorkspaceInfo[]>({ cmd: "workspaces" }),
  addWorkspace: (path: string) => call<WorkspaceInfo[]>({ cmd: "add_workspace", args: { path } }),
  removeWorkspace: (path: string) =>
    call<WorkspaceInfo[]>({ cmd: "remove_workspace", args: { path } }),
  runs: (q: RunsQuery = {}) => call<RunRow[]>({ cmd: "runs", args: q }),
  run: (workspace: string, run_id: string) =>
    call<RunDetail>({ cmd: "run", args: { workspace, run_id } }),
  iteration: (workspace: string, run_id: string, iteration: number) =>
    call<IterationDetail>({ cmd: "iteration", args: { workspace, run_id, iteration } }),
  readText: (q: TextQuery) => call<TextWindow>({ cmd: "read_text", args: q }),
  search: (query: string, limit?: number) =>
    call<SearchResult>({ cmd: "search", args: { query, limit } }),
  errors: (scope: Scope = {}) => call<ErrorRow[]>({ cmd: "errors", args: scope }),
  calls: (scope: Scope = {}) => call<CallRow[]>({ cmd: "calls", args: scope }),
  callStats: (group_by: "tool" | "server", scope?: Scope) =>
    call<CallStats>({ cmd: "call_stats", args: { group_by, scope } }),
};

/** Calls `handler` for every backend event until the returned function is called. */
export function onEvent(handler: (ev: ApiEvent) => void): () => void {
  if (isDesktop) return listenDesktop("harnessgym://event", handler);
  const source = new EventSource(`${base()}/api/events`);
  source.onmessage = (m) => handler(JSON.parse(m.data) as ApiEvent);
  return () => source.close();
}

/** Calls `handler` with the id of each native menu command (desktop only; e.g. `open-workspace`). */
export function onMenu(handler: (id: string) => void): () => void {
  return isDesktop ? listenDesktop("harnessgym://menu", handler) : () => {};
}

/** Listens to a Tauri event; the returned function stops, even before listening began. */
function listenDesktop<T>(event: string, handler: (payload: T) => void): () => void {
  let unlisten: (() => void) | null = null;
  let stopped = false;
  import("@tauri-apps/api/event").then(({ listen }) =>
    listen<T>(event, (e) => handler(e.payload)).then((u) => {
      if (stopped) u();
      else unlisten = u;
    }),
  );
  return () => {
    stopped = true;
    unlisten?.();
  };
}

/** A native directory picker in the desktop app; `null` in a browser (the UI asks for a typed
 *  path instead) or when the user cancels. */
export async function pickDirectory(): Promise<string | null> {
  if (!isDesktop) return null;
  const { open } = await import("@tauri-apps/plugin-dialog");
  const picked = await open({ directory: true, multiple: false, title: "Open Workspace" });
  return typeof picked === "string" ? picked : null;
}

/** Sets the window title (the desktop window's, or the tab's). */
export async function setTitle(title: string): Promise<void> {
  document.title = title;
  if (isDesktop) {
    const { getCurrentWindow } = await import("@tauri-apps/api/window");
    await getCurrentWindow().setTitle(title);
  }
}
