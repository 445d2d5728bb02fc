//! The typed rows, filters, reports and events of the index (all `serde::Serialize`).

use serde::Serialize;
use std::collections::BTreeMap;
use ts_rs::TS;

/// A workspace (a directory with `.harnessgym/`) or a compare output directory.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct WorkspaceRow {
    pub path: String,
    /// `workspace` or `compare`.
    pub kind: String,
    /// False when the directory was gone at the last index (its rows are removed).
    pub present: bool,
    pub indexed_at: Option<String>,
    pub run_count: i64,
}

/// A run directory `.harnessgym/runs/<run_id>`.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct RunRow {
    pub workspace: String,
    pub run_id: String,
    pub dir: String,
    /// `harnessgym-rs` (this tool), `harnessgym-py` (the original), or null when unknown.
    pub origin: Option<String>,
    /// `running`, `finished`, `interrupted` or `error`.
    pub state: String,
    /// `summary` when `summary.json` says so, `inferred` when derived from the files (no summary,
    /// or a summary still saying `running` whose files stopped changing).
    pub state_source: String,
    pub final_status: Option<String>,
    pub solved: Option<bool>,
    pub best_score: Option<f64>,
    pub best_reported_score: Option<f64>,
    pub runner: Option<String>,
    pub task_path: Option<String>,
    pub iterations_planned: Option<i64>,
    pub iteration_count: i64,
    pub started_at: Option<String>,
    pub last_activity_at: Option<String>,
    pub has_summary: bool,
    pub has_config: bool,
    /// Problems the run recorded itself (`summary.json` `errors`).
    pub run_error_count: i64,
    /// Rows in the errors table for this run (damaged files, empty iterations…).
    pub index_error_count: i64,
    /// MCP `tools/call`s in the workspace's telemetry logs that name this run.
    pub mcp_call_count: i64,
}

/// One phase as recorded in `result.json.phases`.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct PhaseRow {
    pub phase: String,
    pub status: Option<String>,
    pub return_code: Option<i64>,
    pub timed_out: Option<bool>,
    pub duration_seconds: Option<f64>,
    pub session_id: Option<String>,
}

/// A phase file (`<phase>.<stream>.txt`) of an iteration.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct PhaseFileRow {
    pub phase: String,
    pub stream: String,
    pub path: String,
    pub size: i64,
    pub lines: i64,
}

/// An iteration directory `runs/<run_id>/iterations/<n>`.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct IterationRow {
    pub workspace: String,
    pub run_id: String,
    pub iteration: i64,
    pub dir: String,
    pub has_result: bool,
    pub status: Option<String>,
    pub verified: Option<bool>,
    pub solved: Option<bool>,
    pub score: Option<f64>,
    pub summary: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub mcp_call_count: Option<i64>,
    pub active_tool_count: Option<i64>,
    pub quality_gate: Option<String>,
    pub qualification_status: Option<String>,
    pub file_count: i64,
    pub phases: Vec<PhaseRow>,
    pub phase_files: Vec<PhaseFileRow>,
    /// `harnessgym_errors` of result.json (problems the loop recorded).
    pub result_errors: Option<serde_json::Value>,
    pub index_error_count: i64,
}

/// One MCP `tools/call`, from either telemetry format.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct CallRow {
    pub workspace: String,
    pub file: String,
    pub line: i64,
    pub created_at: Option<String>,
    /// `original` (PyPI harnessgym 0.1.1 proxy/bridge) or `harnessgym` (ours).
    pub format: String,
    pub server: Option<String>,
    pub tool: Option<String>,
    /// As written: `completed|error|timeout` (original), `ok|tool_error|protocol_error|timeout|cancelled` (ours).
    pub status: Option<String>,
    /// True for `completed` and `ok`.
    pub ok: bool,
    pub duration_ms: Option<f64>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
    pub request_id: Option<String>,
    pub error_message: Option<String>,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    pub phase: Option<String>,
}

/// A trial of a compare report (`compare_report.json` `trials[]`, or a lone `trial.json`).
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct CompareTrialRow {
    /// The compare output directory.
    pub compare_dir: String,
    /// `report` (from compare_report.json) or `trial` (from a trial.json).
    pub source: String,
    pub group: Option<String>,
    pub trial: Option<i64>,
    pub workspace: Option<String>,
    pub run_id: Option<String>,
    pub status: Option<String>,
    pub solved: Option<bool>,
    pub error: Option<String>,
    pub duration_seconds: Option<f64>,
    pub iterations_completed: Option<i64>,
    pub score: Option<f64>,
    pub post_status: Option<String>,
    pub post_score: Option<f64>,
    pub post_valid: Option<bool>,
    pub comparison_valid: Option<bool>,
    pub invalid_reason: Option<String>,
    pub mcp_call_count: Option<i64>,
}

/// A problem found while indexing: the file or directory and what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct ErrorRow {
    pub workspace: String,
    pub path: String,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    /// `invalid_json`, `truncated_json`, `not_object`, `invalid_utf8`, `empty_file`,
    /// `empty_iteration`, `missing_summary`, `bad_line`, `incomplete_line`, `changed_while_reading`,
    /// `too_large`, `unreadable`, `workspace_missing`.
    pub kind: String,
    pub message: String,
    pub line: Option<i64>,
    pub byte_offset: Option<i64>,
    pub detected_at: String,
}

/// Percentiles and bytes of one call-stats group.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct DurationStats {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct ByteStats {
    pub total: i64,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct CallStatsGroup {
    /// The tool or server name (`""` when the log had none).
    pub key: String,
    pub count: i64,
    pub ok: i64,
    pub errors: i64,
    /// Every status as written, with its count (errors and successes alike).
    pub by_status: BTreeMap<String, i64>,
    pub duration_ms: DurationStats,
    pub request_bytes: ByteStats,
    pub response_bytes: ByteStats,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct CallStats {
    pub group_by: String,
    pub total: CallStatsGroup,
    pub groups: Vec<CallStatsGroup>,
}

/// One line that matched a search.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct SearchHit {
    pub workspace: String,
    pub file: String,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    pub phase: Option<String>,
    pub stream: Option<String>,
    /// 1-based line number in the file.
    pub line: i64,
    /// The matching line, cut to about 240 characters around the first match.
    pub snippet: String,
    /// Byte offset of the line in the file.
    pub byte_offset: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS)]
pub struct SearchResult {
    pub query: String,
    pub terms: Vec<String>,
    /// Indexed chunks (≤ 64 KiB pieces of files) containing every term.
    pub matching_chunks: i64,
    pub hits: Vec<SearchHit>,
    /// True when more hits exist than `limit`.
    pub truncated: bool,
}

/// What `index` did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, TS)]
pub struct IndexReport {
    pub workspaces: Vec<String>,
    pub missing_workspaces: Vec<String>,
    pub files_seen: u64,
    pub files_indexed: u64,
    pub files_unchanged: u64,
    pub files_removed: u64,
    pub bytes_read: u64,
    pub runs: i64,
    pub iterations: i64,
    pub calls: i64,
    pub chunks: i64,
    pub errors: i64,
    pub new_errors: u64,
    pub seconds: f64,
}

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Workspace,
    Run,
    Iteration,
    Calls,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Added,
    Updated,
    Removed,
}

/// A change the index saw, for live views.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, TS)]
pub struct ChangeEvent {
    pub kind: ChangeKind,
    pub action: ChangeAction,
    pub workspace: String,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    /// For `calls`: how many call rows were added by this change.
    pub calls_added: Option<u64>,
}

/// Progress of a long index, for bars and logs. A pass scans one target (workspace or compare
/// directory) at a time, so the file and byte totals grow as targets are started; `fraction`
/// is the estimate that does not go backwards.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, TS)]
pub struct Progress {
    /// Files and bytes of the targets started so far.
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub targets_done: u64,
    pub targets_total: u64,
    /// Of the whole pass, 0 to 1: finished targets plus the share of the current one's bytes.
    pub fraction: f64,
}

/// Filters shared by the list queries. Empty means "no filter".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A workspace path (exact, after resolving) or a path prefix.
    pub workspace: Option<String>,
    pub run: Option<String>,
    pub iteration: Option<i64>,
    /// Run state, iteration status, call status, or error kind, depending on the query.
    pub status: Option<String>,
    pub tool: Option<String>,
    pub server: Option<String>,
    pub phase: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
    pub limit: Option<usize>,
}

/// How `call-stats` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Tool,
    Server,
}

impl GroupBy {
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Tool => "tool",
            GroupBy::Server => "server",
        }
    }
}
