//! `harnessgym_api`: the one API the HarnessGym UI talks to. Both shells — the Tauri desktop app
//! and `harnessgym view` (HTTP + server-sent events) — hand a [`Request`] to [`Api::handle`] and
//! forward [`ApiEvent`]s; neither holds logic of its own.
//!
//! Lists, aggregates and search come from the SQLite index; bodies come from the files, in
//! windows ([`TextWindow`]), never whole. Files are read only inside open workspaces.

mod events;
mod files;
mod text;
mod types;
mod workspaces;

pub use events::Subscription;
pub use types::*;

use harnessgym_index::{
    Filter, GroupBy, Index, IndexError, Progress, WatchEvent, WatchOptions, Watcher, WorkspaceRow,
};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What went wrong, in one sentence; `kind` tells the UI how to show it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn body(&self) -> ApiErrorBody {
        let kind = match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Internal(_) => "internal",
        };
        ApiErrorBody {
            kind: kind.into(),
            message: self.to_string(),
        }
    }
}

impl From<IndexError> for ApiError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::NotFound(_) => ApiError::NotFound(e.to_string()),
            IndexError::BadQuery(_) | IndexError::Config(_) => ApiError::BadRequest(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(s)
    }
}

/// How an [`Api`] is set up.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The index database.
    pub db: PathBuf,
    /// Where the list of open workspaces is remembered (`None`: not remembered).
    pub state_file: Option<PathBuf>,
    /// Workspaces to open besides the remembered ones.
    pub workspaces: Vec<PathBuf>,
    /// `desktop` or `browser`, reported by `info`.
    pub shell: String,
    pub watch: WatchOptions,
}

/// The API: an index connection for queries, a watcher keeping the open workspaces live, and the
/// subscribers to change events.
pub struct Api {
    options: ApiOptions,
    problems: Vec<String>,
    index: Mutex<Index>,
    workspaces: Mutex<workspaces::Workspaces>,
    watcher: Mutex<Option<Watcher>>,
    events: events::Hub,
    text: text::TextCache,
    /// The running full pass's progress (see [`Info::indexing`]).
    indexing: Arc<Mutex<Option<Progress>>>,
}

impl Api {
    /// Opens the index and starts the watcher, whose first pass indexes the open workspaces on
    /// its thread: requests are answered at once, from what is indexed so far, while
    /// [`Info::indexing`] and [`ApiEvent::Progress`] say how far the pass has got.
    pub fn open(options: ApiOptions) -> Result<Api, ApiError> {
        let index = Index::open(&options.db)?;
        let mut ws = workspaces::Workspaces::load(options.state_file.as_deref());
        // A workspace that cannot be opened is a problem to show, not a reason to fail: the
        // desktop app still opens (and says so), `view` refuses to start on it.
        let mut problems = Vec::new();
        for p in &options.workspaces {
            let opened = workspaces::normalize(p).and_then(|p| {
                index.targets_for(std::slice::from_ref(&p))?;
                Ok(p)
            });
            match opened {
                Ok(p) => ws.add(p),
                Err(e) => problems.push(e.to_string()),
            }
        }
        ws.save()?;
        let api = Api {
            options,
            problems,
            index: Mutex::new(index),
            workspaces: Mutex::new(ws),
            watcher: Mutex::new(None),
            events: events::Hub::default(),
            text: text::TextCache::default(),
            indexing: Arc::default(),
        };
        api.restart_watcher()?;
        Ok(api)
    }

    /// The workspaces given at start that could not be opened, one sentence each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Receives every [`ApiEvent`] from now on, until dropped.
    pub fn subscribe(&self) -> Subscription {
        self.events.subscribe()
    }

    /// Answers one request with its JSON response, serialized once (both shells pass the text
    /// through as is).
    pub fn handle(&self, request: Request) -> Result<String, ApiError> {
        match request {
            Request::Info => json(Info {
                version: env!("CARGO_PKG_VERSION").into(),
                shell: self.options.shell.clone(),
                db_path: self.options.db.display().to_string(),
                problems: self.problems.clone(),
                indexing: *lock(&self.indexing),
            }),
            Request::Workspaces => json(self.workspaces()?),
            Request::AddWorkspace { path } => {
                let p = workspaces::normalize(Path::new(&path))?;
                // Not a workspace or compare directory: say so instead of watching nothing.
                lock(&self.index).targets_for(std::slice::from_ref(&p))?;
                lock(&self.workspaces).add(p);
                self.workspaces_changed()?;
                json(self.workspaces()?)
            }
            Request::RemoveWorkspace { path } => {
                let removed = lock(&self.workspaces).remove(Path::new(&path));
                if !removed {
                    return Err(ApiError::NotFound(format!("{path} is not open")));
                }
                self.workspaces_changed()?;
                json(self.workspaces()?)
            }
            Request::Runs(q) => {
                let filter = Filter {
                    workspace: q.workspace,
                    status: q.status,
                    limit: Some(q.limit.unwrap_or(100_000) as usize),
                    ..Filter::default()
                };
                let open = lock(&self.workspaces).paths();
                let mut runs = lock(&self.index).runs(&filter)?;
                runs.retain(|r| workspaces::is_open(&open, Path::new(&r.workspace)));
                json(runs)
            }
            Request::Run { workspace, run_id } => json(self.run(&workspace, &run_id)?),
            Request::Iteration {
                workspace,
                run_id,
                iteration,
            } => json(self.iteration(&workspace, &run_id, iteration)?),
            Request::ReadText(q) => {
                let path = self.readable(&q.path)?;
                let w = self
                    .text
                    .window(
                        &path,
                        q.start_line,
                        q.max_lines.unwrap_or(text::DEFAULT_LINES),
                    )
                    .map_err(|e| io_error(&path, e))?;
                json(w)
            }
            Request::Search { query, limit } => {
                if query.trim().is_empty() {
                    return Err(ApiError::BadRequest("the search is empty".into()));
                }
                let filter = Filter {
                    limit: Some(limit.unwrap_or(200) as usize),
                    ..Filter::default()
                };
                let open = lock(&self.workspaces).paths();
                let mut res = lock(&self.index).search(&query, &filter)?;
                res.hits
                    .retain(|h| workspaces::is_open(&open, Path::new(&h.workspace)));
                json(res)
            }
            Request::Errors(scope) => {
                let open = lock(&self.workspaces).paths();
                let mut rows = lock(&self.index).errors(&filter(scope))?;
                rows.retain(|e| workspaces::is_open(&open, Path::new(&e.workspace)));
                json(rows)
            }
            Request::Calls(scope) => {
                let open = lock(&self.workspaces).paths();
                let mut rows = lock(&self.index).calls(&filter(scope))?;
                rows.retain(|c| workspaces::is_open(&open, Path::new(&c.workspace)));
                json(rows)
            }
            Request::CallStats { group_by, scope } => {
                let g = match group_by.as_str() {
                    "tool" => GroupBy::Tool,
                    "server" => GroupBy::Server,
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "group_by must be tool or server, not {other:?}"
                        )))
                    }
                };
                json(lock(&self.index).call_stats(&filter(scope.unwrap_or_default()), g)?)
            }
        }
    }

    fn workspaces(&self) -> Result<Vec<WorkspaceInfo>, ApiError> {
        let rows = lock(&self.index).workspaces()?;
        let ws = lock(&self.workspaces);
        Ok(ws
            .paths()
            .into_iter()
            .map(|p| {
                // A directory holding workspaces is indexed as the workspaces inside it.
                let inside: Vec<&WorkspaceRow> = rows
                    .iter()
                    .filter(|r| Path::new(&r.path).starts_with(&p))
                    .collect();
                let indexed = match inside.as_slice() {
                    [] => None,
                    [one] if Path::new(&one.path) == p => Some((*one).clone()),
                    many => Some(WorkspaceRow {
                        path: p.to_string_lossy().into_owned(),
                        kind: "directory".into(),
                        present: many.iter().any(|r| r.present),
                        indexed_at: many.iter().filter_map(|r| r.indexed_at.clone()).max(),
                        run_count: many.iter().map(|r| r.run_count).sum(),
                    }),
                };
                WorkspaceInfo {
                    exists: p.is_dir(),
                    indexed,
                    path: p.to_string_lossy().into_owned(),
                }
            })
            .collect())
    }

    fn workspaces_changed(&self) -> Result<(), ApiError> {
        lock(&self.workspaces).save()?;
        self.restart_watcher()?;
        self.events.send(ApiEvent::Workspaces);
        Ok(())
    }

    /// (Re)starts the watcher over the open workspaces that exist; its first pass indexes them.
    fn restart_watcher(&self) -> Result<(), ApiError> {
        let mut slot = lock(&self.watcher);
        if let Some(old) = slot.take() {
            let _ = old.stop();
        }
        let paths = lock(&self.workspaces).present();
        if paths.is_empty() {
            return Ok(());
        }
        let hub = self.events.clone();
        let indexing = self.indexing.clone();
        // Set before the first request can ask: the pass starts now.
        *lock(&indexing) = Some(Progress {
            targets_total: paths.len() as u64,
            ..Progress::default()
        });
        let started = Watcher::start(
            &self.options.db,
            &paths,
            self.options.watch.clone(),
            move |ev| {
                let (state, ev) = match ev {
                    WatchEvent::Progress(progress) => {
                        (Some(Some(progress)), ApiEvent::Progress { progress })
                    }
                    WatchEvent::Indexed(report) => (Some(None), ApiEvent::Indexed { report }),
                    WatchEvent::PassFailed(message) => (Some(None), ApiEvent::Error { message }),
                    WatchEvent::Change(change) => (None, ApiEvent::Change { change }),
                    WatchEvent::Error(message) => (None, ApiEvent::Error { message }),
                };
                if let Some(state) = state {
                    *lock(&indexing) = state;
                }
                hub.send(ev)
            },
        );
        let w = started.inspect_err(|_| *lock(&self.indexing) = None)?;
        *slot = Some(w);
        Ok(())
    }

    fn run(&self, workspace: &str, run_id: &str) -> Result<RunDetail, ApiError> {
        let f = Filter {
            workspace: Some(workspace.into()),
            run: Some(run_id.into()),
            limit: Some(100_000),
            ..Filter::default()
        };
        let (run, iterations, errors) = {
            let index = lock(&self.index);
            let run = index
                .runs(&f)?
                .into_iter()
                .find(|r| r.workspace == workspace)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("no run {run_id} in {workspace} in the index"))
                })?;
            let mut iterations = index.iterations(&f)?;
            iterations.retain(|i| i.workspace == workspace);
            let mut errors = index.errors(&f)?;
            errors.retain(|e| e.workspace == workspace);
            (run, iterations, errors)
        };
        let dir = self.readable(&run.dir)?;
        Ok(RunDetail {
            config: files::read_json(&dir.join("run_config.json")),
            summary: files::read_json(&dir.join("summary.json")),
            run,
            iterations,
            errors,
        })
    }

    fn iteration(
        &self,
        workspace: &str,
        run_id: &str,
        n: i64,
    ) -> Result<IterationDetail, ApiError> {
        let f = Filter {
            workspace: Some(workspace.into()),
            run: Some(run_id.into()),
            iteration: Some(n),
            limit: Some(100_000),
            ..Filter::default()
        };
        let (row, errors) = {
            let index = lock(&self.index);
            let row = index
                .iterations(&f)?
                .into_iter()
                .find(|i| i.workspace == workspace)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no iteration {n} of run {run_id} in {workspace} in the index"
                    ))
                })?;
            let mut errors = index.errors(&f)?;
            errors.retain(|e| e.workspace == workspace);
            (row, errors)
        };
        let dir = self.readable(&row.dir)?;
        let registry = files::read_json(&Path::new(workspace).join(".harnessgym/registry.json"));
        Ok(IterationDetail {
            result: files::read_json(&dir.join("result.json")),
            activation: files::read_json(&dir.join("activation.json")),
            post_build_activation: files::read_json(&dir.join("post_build_activation.json")),
            files: files::list(&dir),
            artifacts: registry
                .and_then(|r| r.get("artifacts").cloned())
                .and_then(|a| match a {
                    Value::Array(v) => Some(v),
                    Value::Object(m) => Some(m.into_iter().map(|(_, v)| v).collect()),
                    _ => None,
                })
                .unwrap_or_default(),
            row,
            errors,
        })
    }

    /// `path` resolved, if it lies inside an open workspace (symlinks resolved first).
    fn readable(&self, path: &str) -> Result<PathBuf, ApiError> {
        let p = Path::new(path);
        if !p.is_absolute() {
            return Err(ApiError::BadRequest(format!(
                "{path} is not an absolute path"
            )));
        }
        let open = lock(&self.workspaces).paths();
        let forbidden = || ApiError::Forbidden(format!("{path} is outside the open workspaces"));
        // Checked before touching the file (so nothing outside is even probed), and again after
        // resolving symlinks.
        let lexical = workspaces::lexical(p);
        if !open.iter().any(|w| lexical.starts_with(w)) {
            return Err(forbidden());
        }
        let real = p.canonicalize().map_err(|e| io_error(p, e))?;
        let inside = open.iter().any(|w| {
            w.canonicalize()
                .map(|w| real.starts_with(w))
                .unwrap_or(false)
        });
        if inside {
            Ok(real)
        } else {
            Err(forbidden())
        }
    }
}

/// Locks `m`, also after a panic elsewhere poisoned it: the data behind every lock here stays
/// consistent (a connection, a list, a cache), and one failed request must not fail all later ones.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn filter(s: Scope) -> Filter {
    Filter {
        workspace: s.workspace,
        run: s.run_id,
        iteration: s.iteration,
        limit: s.limit.map(|n| n as usize),
        ..Filter::default()
    }
}

fn json(v: impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(&v).map_err(|e| ApiError::Internal(e.to_string()))
}

fn io_error(path: &Path, e: std::io::Error) -> ApiError {
    let msg = format!("{}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::NotFound => ApiError::NotFound(msg),
        std::io::ErrorKind::PermissionDenied => ApiError::Forbidden(msg),
        _ => ApiError::Internal(msg),
    }
}
