//! Requests, responses and events of the API. The UI's TypeScript types are generated from these
//! (see `tests/typescript.rs`); change them here only.

use harnessgym_index::{
    ChangeEvent, ErrorRow, IndexReport, IterationRow, Progress, RunRow, WorkspaceRow,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Every call the UI can make. Serialized as `{ "cmd": "runs", "args": { … } }`.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(tag = "cmd", content = "args", rename_all = "snake_case")]
pub enum Request {
    /// → [`Info`]
    Info,
    /// → `WorkspaceInfo[]`
    Workspaces,
    /// Opens a workspace (or compare directory) and starts watching it. → `WorkspaceInfo[]`
    AddWorkspace { path: String },
    /// Closes a workspace (its files are untouched). → `WorkspaceInfo[]`
    RemoveWorkspace { path: String },
    /// → `RunRow[]`, newest first.
    Runs(RunsQuery),
    /// → [`RunDetail`]
    Run { workspace: String, run_id: String },
    /// → [`IterationDetail`]
    Iteration {
        workspace: String,
        run_id: String,
        iteration: i64,
    },
    /// A window of lines of a file inside an open workspace. → [`TextWindow`]
    ReadText(TextQuery),
    /// Full-text search over every open workspace. → `SearchResult`
    Search {
        query: String,
        #[ts(optional)]
        limit: Option<u32>,
    },
    /// → `ErrorRow[]`
    Errors(Scope),
    /// → `CallRow[]`
    Calls(Scope),
    /// → `CallStats`
    CallStats {
        /// `tool` or `server`.
        group_by: String,
        #[ts(optional)]
        scope: Option<Scope>,
    },
}

/// Narrows a list to a workspace, a run, an iteration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, TS)]
pub struct Scope {
    #[ts(optional)]
    pub workspace: Option<String>,
    #[ts(optional)]
    pub run_id: Option<String>,
    #[ts(optional)]
    pub iteration: Option<i64>,
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, TS)]
pub struct RunsQuery {
    #[ts(optional)]
    pub workspace: Option<String>,
    /// A run state (`running`, `finished`, `interrupted`, `error`) or final status.
    #[ts(optional)]
    pub status: Option<String>,
    /// At most this many (default 100,000).
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// Which lines of a file to read. Lines are 0-based.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct TextQuery {
    /// Absolute path of a file inside an open workspace.
    pub path: String,
    #[serde(default)]
    pub start_line: u64,
    /// At most this many lines (default 500, at most 5,000).
    #[ts(optional)]
    pub max_lines: Option<u32>,
}

/// What the backend is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Info {
    pub version: String,
    /// `desktop` or `browser`.
    pub shell: String,
    pub db_path: String,
    /// Workspaces given at start that could not be opened, one sentence each.
    pub problems: Vec<String>,
    /// How far the running full index pass has got (the first one after start or after the
    /// open workspaces changed, or a rescan); null when none runs.
    pub indexing: Option<Progress>,
}

/// An open workspace: what the user added, and what the index knows of it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WorkspaceInfo {
    pub path: String,
    /// False when the directory is gone.
    pub exists: bool,
    /// Null until the first index pass over it finished. For a directory holding workspaces,
    /// their sum (`kind` = `directory`).
    pub indexed: Option<WorkspaceRow>,
}

/// A run with its config, summary and iterations.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RunDetail {
    pub run: RunRow,
    /// `run_config.json`, or null when absent or damaged (see `errors`).
    pub config: Option<serde_json::Value>,
    /// `summary.json`, or null when absent or damaged.
    pub summary: Option<serde_json::Value>,
    pub iterations: Vec<IterationRow>,
    /// What is wrong with the run's files.
    pub errors: Vec<ErrorRow>,
}

/// One iteration with everything the Run view shows for it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct IterationDetail {
    pub row: IterationRow,
    /// `result.json`, or null when absent or damaged.
    pub result: Option<serde_json::Value>,
    /// `activation.json` of the iteration (the pre-attempt activation report).
    pub activation: Option<serde_json::Value>,
    /// `post_build_activation.json`, when a build ran.
    pub post_build_activation: Option<serde_json::Value>,
    /// Every file of the iteration directory (recursively, `repair_<k>/` too), sorted by path.
    pub files: Vec<FileEntry>,
    /// The workspace's harness artifacts (`registry.json` `artifacts`), as recorded now.
    pub artifacts: Vec<serde_json::Value>,
    pub errors: Vec<ErrorRow>,
}

/// A file of an iteration directory.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FileEntry {
    /// Relative to the iteration directory, `/`-separated.
    pub name: String,
    pub path: String,
    pub size: u64,
    /// `attempt`, `reflection`, `build`, `repair_1/build`… for phase files.
    pub phase: Option<String>,
    /// `prompt`, `stdout`, `stderr` or `transcript` for phase files.
    pub stream: Option<String>,
}

/// A window of lines of a text file. Invalid UTF-8 is replaced (U+FFFD).
#[derive(Debug, Clone, Serialize, TS)]
pub struct TextWindow {
    pub path: String,
    /// Size of the file in bytes when read.
    pub size: u64,
    /// Lines in the file (a last line without a newline counts).
    pub total_lines: u64,
    pub start_line: u64,
    pub lines: Vec<String>,
    /// Indexes (into `lines`) of lines cut at 16 KiB.
    pub cut_lines: Vec<u32>,
    /// The same while the file only grows; another number when it was read from the start
    /// again (rewritten, or its line index evicted): lines of windows with another version may
    /// be stale.
    pub version: u64,
}

/// Pushed to the UI: Tauri event `harnessgym://event`, or the `/api/events` SSE stream.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApiEvent {
    /// Something in the index changed.
    Change { change: ChangeEvent },
    /// How far a full index pass has got, about every 200 ms while it runs; rows appear as it
    /// goes (runs and iterations of a workspace before its text and telemetry).
    Progress { progress: Progress },
    /// An index pass finished.
    Indexed { report: IndexReport },
    /// The set of open workspaces changed.
    Workspaces,
    /// A problem that did not stop the backend.
    Error { message: String },
}

/// An error as the UI receives it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ApiErrorBody {
    /// `not_found`, `forbidden`, `bad_request` or `internal`.
    pub kind: String,
    pub message: String,
}
