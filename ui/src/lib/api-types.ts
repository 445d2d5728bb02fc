// Generated from the Rust API types (crates/api, crates/index) by
// `UPDATE_TS=1 cargo test -p harnessgym_api --test typescript`. Do not edit.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

/**
 * Every call the UI can make. Serialized as `{ "cmd": "runs", "args": { … } }`.
 */
export type Request = { "cmd": "info" } | { "cmd": "workspaces" } | { "cmd": "add_workspace", "args": { path: string, } } | { "cmd": "remove_workspace", "args": { path: string, } } | { "cmd": "runs", "args": RunsQuery } | { "cmd": "run", "args": { workspace: string, run_id: string, } } | { "cmd": "iteration", "args": { workspace: string, run_id: string, iteration: number, } } | { "cmd": "read_text", "args": TextQuery } | { "cmd": "search", "args": { query: string, limit?: number, } } | { "cmd": "errors", "args": Scope } | { "cmd": "calls", "args": Scope } | { "cmd": "call_stats", "args": { 
/**
 * `tool` or `server`.
 */
group_by: string, scope?: Scope, } };

/**
 * Narrows a list to a workspace, a run, an iteration.
 */
export type Scope = { workspace?: string, run_id?: string, iteration?: number, limit?: number, };

export type RunsQuery = { workspace?: string, 
/**
 * A run state (`running`, `finished`, `interrupted`, `error`) or final status.
 */
status?: string, 
/**
 * At most this many (default 100,000).
 */
limit?: number, };

/**
 * Which lines of a file to read. Lines are 0-based.
 */
export type TextQuery = { 
/**
 * Absolute path of a file inside an open workspace.
 */
path: string, start_line: number, 
/**
 * At most this many lines (default 500, at most 5,000).
 */
max_lines?: number, };

/**
 * What the backend is.
 */
export type Info = { version: string, 
/**
 * `desktop` or `browser`.
 */
shell: string, db_path: string, 
/**
 * Workspaces given at start that could not be opened, one sentence each.
 */
problems: Array<string>, 
/**
 * How far the running full index pass has got (the first one after start or after the
 * open workspaces changed, or a rescan); null when none runs.
 */
indexing: Progress | null, };

/**
 * An open workspace: what the user added, and what the index knows of it.
 */
export type WorkspaceInfo = { path: string, 
/**
 * False when the directory is gone.
 */
exists: boolean, 
/**
 * Null until the first index pass over it finished. For a directory holding workspaces,
 * their sum (`kind` = `directory`).
 */
indexed: WorkspaceRow | null, };

/**
 * A run with its config, summary and iterations.
 */
export type RunDetail = { run: RunRow, 
/**
 * `run_config.json`, or null when absent or damaged (see `errors`).
 */
config: JsonValue | null, 
/**
 * `summary.json`, or null when absent or damaged.
 */
summary: JsonValue | null, iterations: Array<IterationRow>, 
/**
 * What is wrong with the run's files.
 */
errors: Array<ErrorRow>, };

/**
 * One iteration with everything the Run view shows for it.
 */
export type IterationDetail = { row: IterationRow, 
/**
 * `result.json`, or null when absent or damaged.
 */
result: JsonValue | null, 
/**
 * `activation.json` of the iteration (the pre-attempt activation report).
 */
activation: JsonValue | null, 
/**
 * `post_build_activation.json`, when a build ran.
 */
post_build_activation: JsonValue | null, 
/**
 * Every file of the iteration directory (recursively, `repair_<k>/` too), sorted by path.
 */
files: Array<FileEntry>, 
/**
 * The workspace's harness artifacts (`registry.json` `artifacts`), as recorded now.
 */
artifacts: Array<JsonValue>, errors: Array<ErrorRow>, };

/**
 * A file of an iteration directory.
 */
export type FileEntry = { 
/**
 * Relative to the iteration directory, `/`-separated.
 */
name: string, path: string, size: number, 
/**
 * `attempt`, `reflection`, `build`, `repair_1/build`… for phase files.
 */
phase: string | null, 
/**
 * `prompt`, `stdout`, `stderr` or `transcript` for phase files.
 */
stream: string | null, };

/**
 * A window of lines of a text file. Invalid UTF-8 is replaced (U+FFFD).
 */
export type TextWindow = { path: string, 
/**
 * Size of the file in bytes when read.
 */
size: number, 
/**
 * Lines in the file (a last line without a newline counts).
 */
total_lines: number, start_line: number, lines: Array<string>, 
/**
 * Indexes (into `lines`) of lines cut at 16 KiB.
 */
cut_lines: Array<number>, 
/**
 * The same while the file only grows; another number when it was read from the start
 * again (rewritten, or its line index evicted): lines of windows with another version may
 * be stale.
 */
version: number, };

/**
 * Pushed to the UI: Tauri event `harnessgym://event`, or the `/api/events` SSE stream.
 */
export type ApiEvent = { "type": "change", change: ChangeEvent, } | { "type": "progress", progress: Progress, } | { "type": "indexed", report: IndexReport, } | { "type": "workspaces" } | { "type": "error", message: string, };

/**
 * An error as the UI receives it.
 */
export type ApiErrorBody = { 
/**
 * `not_found`, `forbidden`, `bad_request` or `internal`.
 */
kind: string, message: string, };

/**
 * A workspace (a directory with `.harnessgym/`) or a compare output directory.
 */
export type WorkspaceRow = { path: string, 
/**
 * `workspace` or `compare`.
 */
kind: string, 
/**
 * False when the directory was gone at the last index (its rows are removed).
 */
present: boolean, indexed_at: string | null, run_count: number, };

/**
 * A run directory `.harnessgym/runs/<run_id>`.
 */
export type RunRow = { workspace: string, run_id: string, dir: string, 
/**
 * `harnessgym-rs` (this tool), `harnessgym-py` (the original), or null when unknown.
 */
origin: string | null, 
/**
 * `running`, `finished`, `interrupted` or `error`.
 */
state: string, 
/**
 * `summary` when `summary.json` says so, `inferred` when derived from the files (no summary,
 * or a summary still saying `running` whose files stopped changing).
 */
state_source: string, final_status: string | null, solved: boolean | null, best_score: number | null, best_reported_score: number | null, runner: string | null, task_path: string | null, iterations_planned: number | null, iteration_count: number, started_at: string | null, last_activity_at: string | null, has_summary: boolean, has_config: boolean, 
/**
 * Problems the run recorded itself (`summary.json` `errors`).
 */
run_error_count: number, 
/**
 * Rows in the errors table for this run (damaged files, empty iterations…).
 */
index_error_count: number, 
/**
 * MCP `tools/call`s in the workspace's telemetry logs that name this run.
 */
mcp_call_count: number, };

/**
 * One phase as recorded in `result.json.phases`.
 */
export type PhaseRow = { phase: string, status: string | null, return_code: number | null, timed_out: boolean | null, duration_seconds: number | null, session_id: string | null, };

/**
 * A phase file (`<phase>.<stream>.txt`) of an iteration.
 */
export type PhaseFileRow = { phase: string, stream: string, path: string, size: number, lines: number, };

/**
 * An iteration directory `runs/<run_id>/iterations/<n>`.
 */
export type IterationRow = { workspace: string, run_id: string, iteration: number, dir: string, has_result: boolean, status: string | null, verified: boolean | null, solved: boolean | null, score: number | null, summary: string | null, created_at: string | null, updated_at: string | null, mcp_call_count: number | null, active_tool_count: number | null, quality_gate: string | null, qualification_status: string | null, file_count: number, phases: Array<PhaseRow>, phase_files: Array<PhaseFileRow>, 
/**
 * `harnessgym_errors` of result.json (problems the loop recorded).
 */
result_errors: JsonValue | null, index_error_count: number, };

/**
 * One MCP `tools/call`, from either telemetry format.
 */
export type CallRow = { workspace: string, file: string, line: number, created_at: string | null, 
/**
 * `original` (PyPI harnessgym 0.1.1 proxy/bridge) or `harnessgym` (ours).
 */
format: string, server: string | null, tool: string | null, 
/**
 * As written: `completed|error|timeout` (original), `ok|tool_error|protocol_error|timeout|cancelled` (ours).
 */
status: string | null, 
/**
 * True for `completed` and `ok`.
 */
ok: boolean, duration_ms: number | null, request_bytes: number | null, response_bytes: number | null, request_id: string | null, error_message: string | null, run_id: string | null, iteration: number | null, phase: string | null, };

/**
 * A trial of a compare report (`compare_report.json` `trials[]`, or a lone `trial.json`).
 */
export type CompareTrialRow = { 
/**
 * The compare output directory.
 */
compare_dir: string, 
/**
 * `report` (from compare_report.json) or `trial` (from a trial.json).
 */
source: string, group: string | null, trial: number | null, workspace: string | null, run_id: string | null, status: string | null, solved: boolean | null, error: string | null, duration_seconds: number | null, iterations_completed: number | null, score: number | null, post_status: string | null, post_score: number | null, post_valid: boolean | null, comparison_valid: boolean | null, invalid_reason: string | null, mcp_call_count: number | null, };

/**
 * A problem found while indexing: the file or directory and what is wrong.
 */
export type ErrorRow = { workspace: string, path: string, run_id: string | null, iteration: number | null, 
/**
 * `invalid_json`, `truncated_json`, `not_object`, `invalid_utf8`, `empty_file`,
 * `empty_iteration`, `missing_summary`, `bad_line`, `incomplete_line`, `changed_while_reading`,
 * `too_large`, `unreadable`, `workspace_missing`.
 */
kind: string, message: string, line: number | null, byte_offset: number | null, detected_at: string, };

/**
 * Percentiles and bytes of one call-stats group.
 */
export type DurationStats = { p50: number | null, p95: number | null, max: number | null, mean: number | null, };

export type ByteStats = { total: number, max: number | null, };

export type CallStatsGroup = { 
/**
 * The tool or server name (`""` when the log had none).
 */
key: string, count: number, ok: number, errors: number, 
/**
 * Every status as written, with its count (errors and successes alike).
 */
by_status: { [key in string]: number }, duration_ms: DurationStats, request_bytes: ByteStats, response_bytes: ByteStats, };

export type CallStats = { group_by: string, total: CallStatsGroup, groups: Array<CallStatsGroup>, };

/**
 * One line that matched a search.
 */
export type SearchHit = { workspace: string, file: string, run_id: string | null, iteration: number | null, phase: string | null, stream: string | null, 
/**
 * 1-based line number in the file.
 */
line: number, 
/**
 * The matching line, cut to about 240 characters around the first match.
 */
snippet: string, 
/**
 * Byte offset of the line in the file.
 */
byte_offset: number, };

export type SearchResult = { query: string, terms: Array<string>, 
/**
 * Indexed chunks (≤ 64 KiB pieces of files) containing every term.
 */
matching_chunks: number, hits: Array<SearchHit>, 
/**
 * True when more hits exist than `limit`.
 */
truncated: boolean, };

/**
 * What `index` did.
 */
export type IndexReport = { workspaces: Array<string>, missing_workspaces: Array<string>, files_seen: number, files_indexed: number, files_unchanged: number, files_removed: number, bytes_read: number, runs: number, iterations: number, calls: number, chunks: number, errors: number, new_errors: number, seconds: number, };

/**
 * Progress of a long index, for bars and logs. A pass scans one target (workspace or compare
 * directory) at a time, so the file and byte totals grow as targets are started; `fraction`
 * is the estimate that does not go backwards.
 */
export type Progress = { 
/**
 * Files and bytes of the targets started so far.
 */
files_done: number, files_total: number, bytes_done: number, bytes_total: number, targets_done: number, targets_total: number, 
/**
 * Of the whole pass, 0 to 1: finished targets plus the share of the current one's bytes.
 */
fraction: number, };

/**
 * What kind of thing changed.
 */
export type ChangeKind = "workspace" | "run" | "iteration" | "calls";

export type ChangeAction = "added" | "updated" | "removed";

/**
 * A change the index saw, for live views.
 */
export type ChangeEvent = { kind: ChangeKind, action: ChangeAction, workspace: string, run_id: string | null, iteration: number | null, 
/**
 * For `calls`: how many call rows were added by this change.
 */
calls_added: number | null, };
