//! The database: where it lives, how it is opened, and its numbered migrations.

use crate::IndexError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable that overrides the database path.
pub const DB_ENV: &str = "HARNESSGYM_DB";

/// The default database: `$HARNESSGYM_DB`, else `index.sqlite3` in the per-user data directory
/// (`$XDG_DATA_HOME/harnessgym` or `~/.local/share/harnessgym` on Linux,
/// `~/Library/Application Support/harnessgym` on macOS, `%LOCALAPPDATA%\harnessgym` on Windows).
pub fn default_db_path() -> Result<PathBuf, IndexError> {
    if let Some(p) = std::env::var_os(DB_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(data_dir()?.join("harnessgym").join("index.sqlite3"))
}

fn data_dir() -> Result<PathBuf, IndexError> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    };
    let found = if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Application Support"))
    } else if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty() && Path::new(p).is_absolute())
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".local/share")))
    };
    found.ok_or_else(|| {
        IndexError::Config(format!(
            "cannot find the data directory (HOME is not set); pass --db PATH or set {DB_ENV}"
        ))
    })
}

/// The schema, one migration per entry; `PRAGMA user_version` counts the applied ones.
/// Never edit an applied migration: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the whole first schema.
    r#"
CREATE TABLE workspaces(
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                -- 'workspace' | 'compare'
    parent_id INTEGER REFERENCES workspaces(id) ON DELETE SET NULL,
    present INTEGER NOT NULL DEFAULT 1,
    added_at TEXT NOT NULL,
    indexed_at TEXT
);
CREATE TABLE files(
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    rel TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    iteration INTEGER,
    phase TEXT,
    stream TEXT,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    tail_hash INTEGER,
    indexed_at TEXT NOT NULL
);
CREATE INDEX files_by_run ON files(workspace_id, run_id, iteration);
-- Covers the path + size + mtime comparison of a re-index without touching the table.
CREATE INDEX files_state ON files(workspace_id, path, size, mtime_ns);
CREATE TABLE runs(
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    run_id TEXT NOT NULL,
    dir TEXT NOT NULL,
    origin TEXT,
    runner TEXT,
    task_path TEXT,
    iterations_planned INTEGER,
    attempt_only INTEGER,
    optimization_mode INTEGER,
    score_key TEXT,
    has_config INTEGER NOT NULL DEFAULT 0,
    has_summary INTEGER NOT NULL DEFAULT 0,
    summary_state TEXT,
    final_status TEXT,
    solved INTEGER,
    best_score REAL,
    best_reported_score REAL,
    started_ms INTEGER,
    summary_updated_at TEXT,
    run_error_count INTEGER NOT NULL DEFAULT 0,
    run_errors_json TEXT,
    iteration_count INTEGER NOT NULL DEFAULT 0,
    last_activity_ns INTEGER,
    UNIQUE(workspace_id, run_id)
);
CREATE TABLE iterations(
    id INTEGER PRIMARY KEY,
    run_pk INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    dir TEXT NOT NULL,
    has_result INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    verified INTEGER,
    solved INTEGER,
    score REAL,
    summary TEXT,
    created_ms INTEGER,
    created_at TEXT,
    updated_at TEXT,
    mcp_call_count INTEGER,
    active_tool_count INTEGER,
    quality_gate TEXT,
    qualification_status TEXT,
    result_errors_json TEXT,
    file_count INTEGER NOT NULL DEFAULT 0,
    last_activity_ns INTEGER,
    UNIQUE(run_pk, iteration)
);
CREATE TABLE phases(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    iteration_pk INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    status TEXT,
    return_code INTEGER,
    timed_out INTEGER,
    duration_seconds REAL,
    session_id TEXT,
    message TEXT
);
CREATE INDEX phases_by_file ON phases(file_id);
CREATE INDEX phases_by_iteration ON phases(iteration_pk);
CREATE VIEW phase_files AS
    SELECT id AS file_id, workspace_id, run_id, iteration, phase, stream, path, size, lines, mtime_ns
    FROM files WHERE kind = 'phase_text';
CREATE TABLE artifacts(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    source TEXT NOT NULL,              -- 'registry' | 'activation'
    artifact_id TEXT,
    kind TEXT,
    path TEXT,
    name TEXT,
    description TEXT,
    iteration INTEGER,
    created_at TEXT,
    quarantined INTEGER,
    qualification_status TEXT,
    metadata_json TEXT
);
CREATE INDEX artifacts_by_file ON artifacts(file_id);
CREATE TABLE activations(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    run_id TEXT,
    iteration INTEGER,
    stage TEXT NOT NULL,               -- 'workspace' | 'pre_attempt' | 'post_build' | 'qualification'
    attempt INTEGER,
    status TEXT,
    gate_status TEXT,
    active_mcp_count INTEGER,
    inactive_mcp_count INTEGER,
    active_tool_count INTEGER,
    skill_count INTEGER,
    warnings_json TEXT
);
CREATE INDEX activations_by_file ON activations(file_id);
CREATE TABLE verdicts(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    run_id TEXT,
    iteration INTEGER,
    source TEXT NOT NULL,              -- 'activation' | 'qualification'
    stage TEXT,
    attempt INTEGER,
    subject TEXT NOT NULL,
    subject_kind TEXT,
    status TEXT,
    reason TEXT
);
CREATE INDEX verdicts_by_file ON verdicts(file_id);
CREATE TABLE compare_reports(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    created_at TEXT,
    workspace_template TEXT,
    artifact_source TEXT,
    trial_count INTEGER,
    summary_json TEXT
);
CREATE INDEX compare_reports_by_file ON compare_reports(file_id);
CREATE TABLE compare_trials(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    source TEXT NOT NULL,              -- 'report' | 'trial'
    grp TEXT,
    trial INTEGER,
    workspace TEXT,
    run_id TEXT,
    run_dir TEXT,
    status TEXT,
    solved INTEGER,
    error TEXT,
    duration_seconds REAL,
    attempt_duration_seconds REAL,
    iterations_completed INTEGER,
    score REAL,
    post_status TEXT,
    post_score REAL,
    post_valid INTEGER,
    comparison_valid INTEGER,
    invalid_reason TEXT,
    mcp_call_count INTEGER,
    called_tools_json TEXT
);
CREATE INDEX compare_trials_by_file ON compare_trials(file_id);
CREATE TABLE mcp_calls(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    ts_ms INTEGER,
    created_at TEXT,
    format TEXT NOT NULL,              -- 'original' | 'harnessgym'
    server TEXT,
    tool TEXT,
    status TEXT,
    ok INTEGER NOT NULL,
    duration_ms REAL,
    request_bytes INTEGER,
    response_bytes INTEGER,
    request_id TEXT,
    error_message TEXT,
    run_id TEXT,
    iteration INTEGER,
    phase TEXT,
    argument_keys TEXT
);
CREATE INDEX mcp_calls_by_file ON mcp_calls(file_id);
-- Covers call-stats: a scan of this index reads a fraction of the table's pages.
CREATE INDEX mcp_calls_stats ON mcp_calls(tool, server, status, ok, duration_ms, request_bytes,
    response_bytes);
CREATE TABLE errors(
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    file_id INTEGER REFERENCES files(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,               -- the file or directory the problem is about
    run_id TEXT,
    iteration INTEGER,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    line INTEGER,
    byte_offset INTEGER,
    detected_at TEXT NOT NULL
);
CREATE INDEX errors_by_file ON errors(file_id);
CREATE INDEX errors_by_scope ON errors(scope);
CREATE TABLE chunks(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    offset INTEGER NOT NULL,
    len INTEGER NOT NULL,
    first_line INTEGER NOT NULL
);
CREATE INDEX chunks_by_file ON chunks(file_id, offset);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    body, content='', contentless_delete=1, detail=none,
    tokenize='unicode61 remove_diacritics 0'
);
-- Larger in-memory term buffer: fewer, bigger segments (about 1.5x faster bulk indexing).
INSERT INTO chunks_fts(chunks_fts, rank) VALUES('hashsize', 16777216);
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.id;
END;
"#,
    // 2: per-run call counts for the runs list.
    r#"
CREATE INDEX mcp_calls_by_run ON mcp_calls(workspace_id, run_id);
"#,
];

/// Opens (creating if needed) the database and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, IndexError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
    }
    let conn = Connection::open(path).map_err(|e| IndexError::Db {
        path: path.to_path_buf(),
        source: e,
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=ON;
         PRAGMA temp_store=MEMORY;
         PRAGMA cache_size=-65536;",
    )?;
    migrate(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), IndexError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(IndexError::Config(format!(
            "the index database has schema version {version}, newer than this program knows ({known}); \
             use a newer harnessgym or another --db"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_fts5_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/index.sqlite3");
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        let conn = open(&path).unwrap();
        conn.execute(
            "INSERT INTO chunks_fts(rowid, body) VALUES (1, 'hello world')",
            [],
        )
        .unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'hello'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        drop(conn);
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
