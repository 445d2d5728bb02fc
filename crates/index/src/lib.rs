//! `harnessgym_index`: a SQLite index over HarnessGym run trees (ours and the original Python
//! tool's), kept live by a `notify` watcher, with list queries, call statistics and full-text
//! search.
//!
//! The files on disk are the truth; the database can always be rebuilt from them. Rows are keyed
//! by path + size + mtime, so a pass reads only what changed; append-only files (telemetry logs
//! and phase outputs) are read from the last indexed offset. Damage never stops a pass: each
//! problem becomes a row of the errors table.
//!
//! ```no_run
//! use harnessgym_index::{Filter, Index};
//! let mut index = Index::open_default()?;
//! index.index_paths(&["/path/to/workspace".into()], &mut |_| {})?;
//! for run in index.runs(&Filter::default())? {
//!     println!("{} {}", run.run_id, run.state);
//! }
//! # Ok::<(), harnessgym_index::IndexError>(())
//! ```

mod db;
mod indexer;
mod ingest;
mod model;
mod query;
mod scan;
mod watch;

pub use db::{default_db_path, DB_ENV, MIGRATIONS};
pub use indexer::Outcome;
pub use model::*;
pub use query::parse_time_arg;
pub use scan::{Scope, Target};
pub use watch::{WatchEvent, WatchOptions, Watcher};

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong, in one sentence each.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index database {}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("index database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no HarnessGym workspace or compare directory at {}", .0.join(", "))]
    NotFound(Vec<String>),
    #[error("file watcher: {0}")]
    Watch(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("the index pass was stopped")]
    Stopped,
}

impl IndexError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> IndexError {
        IndexError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Reader threads (and directory-walk threads).
    pub threads: usize,
    /// A run without a final summary whose newest file is younger than this is `running`;
    /// older, it is `interrupted`.
    pub active_window: Duration,
    /// When set and true, a running pass stops soon (within a file or two) with
    /// [`IndexError::Stopped`], rolling back what it had not committed yet (at most a couple
    /// of seconds of work; the next pass reads it again).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(2, 8),
            active_window: Duration::from_secs(15 * 60),
            stop: None,
        }
    }
}

/// An open index database.
pub struct Index {
    pub(crate) conn: rusqlite::Connection,
    path: PathBuf,
    pub options: IndexOptions,
}

impl Index {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Index, IndexError> {
        let path = path.as_ref().to_path_buf();
        let conn = db::open(&path)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Index {
            conn,
            path,
            options: IndexOptions::default(),
        })
    }

    /// Opens the per-user database (`$HARNESSGYM_DB` or the platform data directory).
    pub fn open_default() -> Result<Index, IndexError> {
        Index::open(default_db_path()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for callers that need a query this crate does not offer.
    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
}
