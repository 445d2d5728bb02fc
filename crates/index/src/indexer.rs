//! One indexing pass: scan the targets, compare with what the database knows (path + size +
//! mtime), read the changed files on reader threads, and write the rows on this thread.

use crate::ingest::{self, Job, Msg, Parsed, Prev};
use crate::model::{ChangeAction, ChangeEvent, ChangeKind, IndexReport, Progress};
use crate::scan::{self, FileKind, RunDir, Scope, Target};
use crate::{Index, IndexError};
use rusqlite::{params, OptionalExtension};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The outcome of a pass: the report and the change events for live views.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub report: IndexReport,
    pub events: Vec<ChangeEvent>,
}

type EventKey = (ChangeKind, String, Option<String>, Option<i64>);

#[derive(Default)]
struct Events(BTreeMap<EventKey, (ChangeAction, u64)>);

impl Events {
    fn add(
        &mut self,
        kind: ChangeKind,
        action: ChangeAction,
        ws: &str,
        run: Option<&str>,
        iteration: Option<i64>,
    ) {
        let key = (kind, ws.to_string(), run.map(str::to_string), iteration);
        let e = self.0.entry(key).or_insert((action, 0));
        if e.0 == ChangeAction::Updated {
            e.0 = action;
        }
    }
    fn calls(&mut self, ws: &str, n: u64) {
        let e = self
            .0
            .entry((ChangeKind::Calls, ws.to_string(), None, None))
            .or_insert((ChangeAction::Added, 0));
        e.1 += n;
    }
    fn into_vec(self) -> Vec<ChangeEvent> {
        self.0
            .into_iter()
            .map(
                |((kind, workspace, run_id, iteration), (action, n))| ChangeEvent {
                    kind,
                    action,
                    workspace,
                    run_id,
                    iteration,
                    calls_added: (kind == ChangeKind::Calls).then_some(n),
                },
            )
            .collect()
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `YYYYMMDDTHHMMSSZ-xxxxxxxx` run ids carry their start time.
fn run_id_time_ms(id: &str) -> Option<i64> {
    let stamp = id.get(..16)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

struct PrevRow {
    id: i64,
    size: i64,
    mtime_ns: i64,
    consumed: i64,
    lines: i64,
    tail_hash: Option<i64>,
    kind: String,
    run_id: Option<String>,
    iteration: Option<i64>,
}

/// Per-pass state of the writer.
struct Pass<'a, 'c> {
    idx: &'a Index,
    /// Where the events of work committed during the pass go (else they wait for its end).
    committed: Option<&'c mut dyn FnMut(Vec<ChangeEvent>)>,
    events: Events,
    report: IndexReport,
    run_pks: HashMap<(i64, String), i64>,
    iter_pks: HashMap<(i64, i64), i64>,
    touched_runs: HashSet<(i64, String)>,
    prog: Progress,
    /// `prog`'s bytes done and total when the current target started.
    target_base: (u64, u64),
    /// In the first sweep of a pass over several targets (see `run`).
    sweeping_json: bool,
    /// JSON files indexed by that sweep in targets it deferred.
    json_swept: u64,
    text_bytes: u64,
    bulk: bool,
    /// The scanned run dirs of touched runs (for the empty-iteration and missing-summary checks).
    run_dirs: HashMap<(i64, String), RunDir>,
    ws_paths: HashMap<i64, String>,
    now: String,
}

impl Index {
    /// Indexes the given paths (workspaces, `.harnessgym` dirs, compare output dirs, or parents
    /// of any of these). A path that no longer exists but was indexed before has its rows removed.
    pub fn index_paths(
        &mut self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Outcome, IndexError> {
        let targets = self.targets_for(paths)?;
        let work: Vec<(Target, Scope)> = targets.into_iter().map(|t| (t, Scope::Full)).collect();
        self.refresh(&work, progress)
    }

    /// Resolves user paths into targets; unknown missing paths are an error naming them.
    pub fn targets_for(&self, paths: &[PathBuf]) -> Result<Vec<Target>, IndexError> {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for p in paths {
            match scan::resolve(p) {
                Some(ts) => out.extend(ts),
                None => {
                    let abs = scan::absolute(p);
                    let abs = if abs.file_name().is_some_and(|n| n == ".harnessgym") {
                        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
                    } else {
                        abs
                    };
                    let known: Option<String> = self
                        .conn
                        .query_row(
                            "SELECT kind FROM workspaces WHERE path = ?1",
                            [abs.to_string_lossy()],
                            |r| r.get(0),
                        )
                        .optional()?;
                    match known.as_deref() {
                        Some("compare") => out.push(Target::Compare(abs)),
                        Some(_) => out.push(Target::Workspace(abs)),
                        None => missing.push(p.display().to_string()),
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(IndexError::NotFound(missing));
        }
        let mut seen = HashSet::new();
        out.retain(|t| seen.insert(t.clone()));
        Ok(out)
    }

    /// Re-indexes parts of targets. This is what the watcher calls with narrow scopes.
    pub fn refresh(
        &mut self,
        work: &[(Target, Scope)],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Outcome, IndexError> {
        self.refresh_with(work, progress, None)
    }

    /// [`Index::refresh`], handing the change events to `committed` each time a long pass
    /// commits part of its work (so readers can follow it); the outcome holds the rest.
    pub fn refresh_live(
        &mut self,
        work: &[(Target, Scope)],
        progress: &mut dyn FnMut(Progress),
        committed: &mut dyn FnMut(Vec<ChangeEvent>),
    ) -> Result<Outcome, IndexError> {
        self.refresh_with(work, progress, Some(committed))
    }

    fn refresh_with(
        &mut self,
        work: &[(Target, Scope)],
        progress: &mut dyn FnMut(Progress),
        committed: Option<&mut dyn FnMut(Vec<ChangeEvent>)>,
    ) -> Result<Outcome, IndexError> {
        let started = Instant::now();
        let mut pass = Pass {
            idx: self,
            committed,
            events: Events::default(),
            report: IndexReport::default(),
            run_pks: HashMap::new(),
            iter_pks: HashMap::new(),
            touched_runs: HashSet::new(),
            prog: Progress::default(),
            target_base: (0, 0),
            sweeping_json: false,
            json_swept: 0,
            text_bytes: 0,
            bulk: false,
            run_dirs: HashMap::new(),
            ws_paths: HashMap::new(),
            now: now_text(),
        };
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = pass.run(work, progress);
        match result {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        let mut report = pass.report;
        let events = pass.events.into_vec();
        let count = |sql: &str| -> Result<i64, IndexError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        report.runs = count("SELECT count(*) FROM runs")?;
        report.iterations = count("SELECT count(*) FROM iterations")?;
        report.calls = count("SELECT count(*) FROM mcp_calls")?;
        report.chunks = count("SELECT count(*) FROM chunks")?;
        report.errors = count("SELECT count(*) FROM errors")?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(Outcome { report, events })
    }
}

impl Pass<'_, '_> {
    fn conn(&self) -> &rusqlite::Connection {
        &self.idx.conn
    }

    fn run(
        &mut self,
        work: &[(Target, Scope)],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), IndexError> {
        self.prog.targets_total = work.len() as u64;
        // Several whole targets (the first pass over the open workspaces, a rescan): a first
        // sweep indexes each one's JSON files, and its text and telemetry too when they are
        // small; the big ones follow in a second sweep, so every run is listed within seconds.
        let mut deferred: Vec<&(Target, Scope)> = Vec::new();
        if work.len() > 1 && work.iter().all(|(_, s)| *s == Scope::Full) {
            self.sweeping_json = true;
            for w in work {
                self.check_stop()?;
                if !self.target(&w.0, &w.1, progress)? {
                    deferred.push(w);
                }
            }
            self.sweeping_json = false;
            self.commit()?;
        } else {
            deferred.extend(work);
        }
        for (target, scope) in deferred {
            self.check_stop()?;
            self.target(target, scope, progress)?;
        }
        // The second sweep found the JSON files of the first one unchanged.
        self.report.files_unchanged = self.report.files_unchanged.saturating_sub(self.json_swept);
        if self.bulk {
            self.conn().execute(
                "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('automerge', 4)",
                [],
            )?;
        }
        Ok(())
    }

    /// Indexes one target. Returns false when, in the first sweep, only its JSON files were
    /// indexed (the rest is big: it comes in the second sweep, which scans the target again).
    fn target(
        &mut self,
        target: &Target,
        scope: &Scope,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<bool, IndexError> {
        // One target at a time: the file list of one workspace is in memory, not all of them.
        let mut jobs: Vec<Job> = Vec::new();
        let mut job_ws: Vec<i64> = Vec::new();
        let ws_id = self.ensure_workspace(target)?;
        let path_text = target.path().to_string_lossy().into_owned();
        self.ws_paths.insert(ws_id, path_text.clone());
        let exists = match target {
            Target::Workspace(p) => p.join(".harnessgym").is_dir(),
            Target::Compare(p) => p.is_dir(),
        };
        if !exists {
            self.remove_workspace(ws_id, &path_text)?;
            self.report.missing_workspaces.push(path_text);
            return Ok(true);
        }
        if !self.report.workspaces.contains(&path_text) {
            self.report.workspaces.push(path_text.clone());
        }
        let came_back = self.conn().execute(
            "UPDATE workspaces SET present = 1 WHERE id = ?1 AND present = 0",
            [ws_id],
        )? > 0;
        if came_back {
            self.events.add(
                ChangeKind::Workspace,
                ChangeAction::Added,
                &path_text,
                None,
                None,
            );
        }
        self.conn().execute(
            "UPDATE workspaces SET indexed_at = ?2 WHERE id = ?1",
            params![ws_id, self.now],
        )?;
        let scan = match target {
            Target::Workspace(p) => scan::scan_workspace(p, scope, self.idx.options.threads),
            Target::Compare(p) => {
                let mut s = scan::Scan::default();
                scan::scan_compare(p, &mut s.files);
                s
            }
        };
        let is_ws = matches!(target, Target::Workspace(_));
        let counted = (self.report.files_seen, self.report.files_unchanged);
        self.diff(
            ws_id,
            &path_text,
            scope,
            is_ws,
            scan,
            &mut jobs,
            &mut job_ws,
        )?;
        let rest_bytes: u64 = jobs
            .iter()
            .filter(|j| !j.found.kind.is_json())
            .map(|j| j.found.size)
            .sum();
        let defer = self.sweeping_json && rest_bytes > DEFER_BYTES;
        if defer {
            ((jobs, job_ws), _) = split_jobs(jobs, job_ws, |j| j.found.kind.is_json());
            // The second sweep sees and counts this target's files again.
            (self.report.files_seen, self.report.files_unchanged) = counted;
            self.json_swept += jobs.len() as u64;
        }
        self.target_base = (self.prog.bytes_done, self.prog.bytes_total);
        self.prog.files_total += jobs.len() as u64;
        self.prog.bytes_total += jobs.iter().map(|j| j.found.size).sum::<u64>();
        // The JSON files first: runs and iterations are complete and visible (committed)
        // before the bulk of text and telemetry is read.
        let (meta, rest) = split_jobs(jobs, job_ws, |j| j.found.kind.is_json());
        let has_meta = !meta.0.is_empty();
        self.process(meta.0, meta.1, progress)?;
        if defer {
            return self.rollup().map(|()| false);
        }
        if has_meta && !rest.0.is_empty() {
            self.rollup()?;
            self.commit()?;
        }
        self.process(rest.0, rest.1, progress)?;
        self.rollup()?;
        self.prog.targets_done += 1;
        self.target_base = (self.prog.bytes_done, self.prog.bytes_total);
        progress(self.stamp(self.prog));
        Ok(true)
    }

    /// Commits the work so far (the pass goes on in a new transaction) and hands its change
    /// events on, when someone follows the pass.
    fn commit(&mut self) -> Result<(), IndexError> {
        self.conn().execute_batch("COMMIT; BEGIN IMMEDIATE")?;
        if let Some(sink) = self.committed.as_mut() {
            let events = std::mem::take(&mut self.events).into_vec();
            if !events.is_empty() {
                sink(events);
            }
        }
        Ok(())
    }

    /// [`IndexError::Stopped`] once the owner asked the pass to stop.
    fn check_stop(&self) -> Result<(), IndexError> {
        match &self.idx.options.stop {
            Some(stop) if stop.load(Ordering::Relaxed) => Err(IndexError::Stopped),
            _ => Ok(()),
        }
    }

    /// `p` with the pass's target counts and its overall fraction filled in.
    fn stamp(&self, mut p: Progress) -> Progress {
        let (base_done, base_total) = self.target_base;
        let current = match p.bytes_total.saturating_sub(base_total) {
            0 => 0.0,
            n => p.bytes_done.saturating_sub(base_done) as f64 / n as f64,
        };
        // In the first sweep only finished targets count: a deferred one starts again later.
        let current = if self.sweeping_json {
            0.0
        } else {
            current.clamp(0.0, 1.0)
        };
        let done = p.targets_done.min(p.targets_total);
        p.fraction = match p.targets_total {
            0 => 1.0,
            n => ((done as f64 + current) / n as f64).min(1.0),
        };
        p
    }

    fn ensure_workspace(&mut self, target: &Target) -> Result<i64, IndexError> {
        let path = target.path().to_string_lossy().into_owned();
        let existing: Option<i64> = self
            .conn()
            .query_row("SELECT id FROM workspaces WHERE path = ?1", [&path], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
        self.conn().execute(
            "INSERT INTO workspaces(path, kind, added_at) VALUES (?1, ?2, ?3)",
            params![path, target.kind(), self.now],
        )?;
        let id = self.conn().last_insert_rowid();
        self.events.add(
            ChangeKind::Workspace,
            ChangeAction::Added,
            &path,
            None,
            None,
        );
        Ok(id)
    }

    fn remove_workspace(&mut self, ws_id: i64, path: &str) -> Result<(), IndexError> {
        let was_present: bool = self.conn().query_row(
            "SELECT present FROM workspaces WHERE id = ?1",
            [ws_id],
            |r| r.get(0),
        )?;
        let c = self.conn();
        let files = c.execute("DELETE FROM files WHERE workspace_id = ?1", [ws_id])?;
        c.execute("DELETE FROM runs WHERE workspace_id = ?1", [ws_id])?;
        c.execute("DELETE FROM errors WHERE workspace_id = ?1", [ws_id])?;
        c.execute(
            "UPDATE workspaces SET present = 0, indexed_at = ?2 WHERE id = ?1",
            params![ws_id, self.now],
        )?;
        self.report.files_removed += files as u64;
        if was_present || files > 0 {
            self.events.add(
                ChangeKind::Workspace,
                ChangeAction::Removed,
                path,
                None,
                None,
            );
        }
        Ok(())
    }

    fn run_pk(&mut self, ws_id: i64, run_id: &str, dir: &Path) -> Result<i64, IndexError> {
        let key = (ws_id, run_id.to_string());
        if let Some(pk) = self.run_pks.get(&key) {
            return Ok(*pk);
        }
        let c = &self.idx.conn;
        let inserted = c.execute(
            "INSERT INTO runs(workspace_id, run_id, dir, started_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(workspace_id, run_id) DO NOTHING",
            params![ws_id, run_id, dir.to_string_lossy(), run_id_time_ms(run_id)],
        )?;
        let pk: i64 = c.query_row(
            "SELECT id FROM runs WHERE workspace_id = ?1 AND run_id = ?2",
            params![ws_id, run_id],
            |r| r.get(0),
        )?;
        if inserted > 0 {
            let ws = self.ws_paths.get(&ws_id).cloned().unwrap_or_default();
            self.events.add(
                ChangeKind::Run,
                ChangeAction::Added,
                &ws,
                Some(run_id),
                None,
            );
            self.touched_runs.insert(key.clone());
        }
        self.run_pks.insert(key, pk);
        Ok(pk)
    }

    fn iter_pk(&mut self, ws_id: i64, run_id: &str, n: i64, dir: &Path) -> Result<i64, IndexError> {
        let run_dir = dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let run_pk = self.run_pk(ws_id, run_id, &run_dir)?;
        if let Some(pk) = self.iter_pks.get(&(run_pk, n)) {
            return Ok(*pk);
        }
        let c = &self.idx.conn;
        let inserted = c.execute(
            "INSERT INTO iterations(run_pk, iteration, dir) VALUES (?1, ?2, ?3)
             ON CONFLICT(run_pk, iteration) DO NOTHING",
            params![run_pk, n, dir.to_string_lossy()],
        )?;
        let pk: i64 = c.query_row(
            "SELECT id FROM iterations WHERE run_pk = ?1 AND iteration = ?2",
            params![run_pk, n],
            |r| r.get(0),
        )?;
        if inserted > 0 {
            let ws = self.ws_paths.get(&ws_id).cloned().unwrap_or_default();
            self.events.add(
                ChangeKind::Iteration,
                ChangeAction::Added,
                &ws,
                Some(run_id),
                Some(n),
            );
            self.touched_runs.insert((ws_id, run_id.to_string()));
        }
        self.iter_pks.insert((run_pk, n), pk);
        Ok(pk)
    }

    #[allow(clippy::too_many_arguments)]
    fn diff(
        &mut self,
        ws_id: i64,
        ws_path: &str,
        scope: &Scope,
        is_ws: bool,
        scan: scan::Scan,
        jobs: &mut Vec<Job>,
        job_ws: &mut Vec<i64>,
    ) -> Result<(), IndexError> {
        // What the database knows within the scope (just what the comparison needs).
        let mut prev: HashMap<String, (i64, i64, i64)> = HashMap::new();
        {
            let (sql, arg): (&str, Option<String>) = match scope {
                Scope::Full => ("", None),
                Scope::Top => (" AND run_id IS NULL", None),
                Scope::Run(id) => (" AND run_id = ?2", Some(id.clone())),
            };
            let q =
                format!("SELECT path, id, size, mtime_ns FROM files WHERE workspace_id = ?1{sql}");
            let mut st = self.conn().prepare(&q)?;
            let mut rows = match &arg {
                Some(a) => st.query(params![ws_id, a])?,
                None => st.query(params![ws_id])?,
            };
            while let Some(r) = rows.next()? {
                prev.insert(r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?));
            }
        }
        let scan::Scan { files, runs } = scan;
        let mut pending_dirs: Vec<RunDir> = Vec::new();
        // All iterations of the workspace at once (a full scan), else per run.
        let mut iters_by_run: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        if is_ws && *scope == Scope::Full {
            let mut st = self.conn().prepare(
                "SELECT i.run_pk, i.id, i.iteration FROM iterations i JOIN runs r ON r.id = i.run_pk
                 WHERE r.workspace_id = ?1",
            )?;
            let mut rows = st.query([ws_id])?;
            while let Some(r) = rows.next()? {
                iters_by_run
                    .entry(r.get(0)?)
                    .or_default()
                    .push((r.get(1)?, r.get(2)?));
            }
        }

        // Runs and iterations (directories).
        if is_ws && *scope != Scope::Top {
            let known: Vec<(i64, String)> = match scope {
                Scope::Run(id) => self
                    .conn()
                    .query_row(
                        "SELECT id, run_id FROM runs WHERE workspace_id = ?1 AND run_id = ?2",
                        params![ws_id, id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .into_iter()
                    .collect(),
                _ => {
                    let mut st = self
                        .conn()
                        .prepare("SELECT id, run_id FROM runs WHERE workspace_id = ?1")?;
                    let rows = st.query_map([ws_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<Result<_, _>>()?
                }
            };
            let on_disk: HashSet<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
            for (pk, run_id) in &known {
                if !on_disk.contains(run_id.as_str()) {
                    self.conn()
                        .execute("DELETE FROM runs WHERE id = ?1", [pk])?;
                    self.conn().execute(
                        "DELETE FROM errors WHERE workspace_id = ?1 AND run_id = ?2 AND file_id IS NULL",
                        params![ws_id, run_id],
                    )?;
                    self.events.add(
                        ChangeKind::Run,
                        ChangeAction::Removed,
                        ws_path,
                        Some(run_id),
                        None,
                    );
                }
            }
            let known_ids: HashMap<&str, i64> =
                known.iter().map(|(pk, id)| (id.as_str(), *pk)).collect();
            for rd in runs {
                let pk = match known_ids.get(rd.run_id.as_str()) {
                    Some(pk) => {
                        self.run_pks.insert((ws_id, rd.run_id.clone()), *pk);
                        *pk
                    }
                    None => self.run_pk(ws_id, &rd.run_id, &rd.dir)?,
                };
                // Iteration directories.
                let have: Vec<(i64, i64)> = if *scope == Scope::Full {
                    iters_by_run.remove(&pk).unwrap_or_default()
                } else {
                    let mut st = self
                        .idx
                        .conn
                        .prepare_cached("SELECT id, iteration FROM iterations WHERE run_pk = ?1")?;
                    let have = st
                        .query_map([pk], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?;
                    have
                };
                let disk: HashSet<i64> = rd.iterations.iter().map(|i| i.n).collect();
                let mut changed = false;
                for (ipk, n) in &have {
                    if disk.contains(n) {
                        self.iter_pks.insert((pk, *n), *ipk);
                    } else {
                        self.conn()
                            .execute("DELETE FROM iterations WHERE id = ?1", [ipk])?;
                        self.events.add(
                            ChangeKind::Iteration,
                            ChangeAction::Removed,
                            ws_path,
                            Some(&rd.run_id),
                            Some(*n),
                        );
                        changed = true;
                    }
                }
                for it in &rd.iterations {
                    if !self.iter_pks.contains_key(&(pk, it.n)) {
                        self.iter_pk(ws_id, &rd.run_id, it.n, &it.dir)?;
                        changed = true;
                    }
                }
                if changed || rd.iterations.iter().any(|i| i.empty) {
                    self.touched_runs.insert((ws_id, rd.run_id.clone()));
                }
                if self.touched_runs.contains(&(ws_id, rd.run_id.clone()))
                    || rd.iterations.iter().any(|i| i.empty)
                {
                    self.run_dirs.insert((ws_id, rd.run_id.clone()), rd);
                } else {
                    pending_dirs.push(rd);
                }
            }
        }

        // Files.
        self.report.files_seen += files.len() as u64;
        for found in files {
            let lossy;
            let key: &str = match found.path.to_str() {
                Some(k) => k,
                None => {
                    lossy = found.path.to_string_lossy().into_owned();
                    &lossy
                }
            };
            match prev.remove(key) {
                Some((_, size, mtime)) if size == found.size as i64 && mtime == found.mtime_ns => {
                    self.report.files_unchanged += 1;
                }
                Some((id, _, _)) => {
                    if let Some(r) = &found.run_id {
                        self.touched_runs.insert((ws_id, r.clone()));
                    }
                    let p = self.prev_row(id)?;
                    let resume = if found.kind.append_only() && found.kind != FileKind::Calls {
                        self.conn()
                            .query_row(
                                "SELECT offset, first_line FROM chunks WHERE file_id = ?1
                                 ORDER BY offset DESC LIMIT 1",
                                [p.id],
                                |r| Ok((r.get(0)?, r.get(1)?)),
                            )
                            .optional()?
                    } else {
                        None
                    };
                    let same_kind = p.kind == found.kind.name();
                    jobs.push(Job {
                        prev: Some(Prev {
                            file_id: p.id,
                            size: p.size,
                            mtime_ns: p.mtime_ns,
                            consumed: if same_kind { p.consumed } else { 0 },
                            lines: p.lines,
                            tail_hash: if same_kind { p.tail_hash } else { None },
                            resume,
                        }),
                        found,
                    });
                    job_ws.push(ws_id);
                }
                None => {
                    if let Some(r) = &found.run_id {
                        self.touched_runs.insert((ws_id, r.clone()));
                    }
                    jobs.push(Job { found, prev: None });
                    job_ws.push(ws_id);
                }
            }
        }
        // Files that are gone.
        for (_, (id, _, _)) in prev {
            let p = self.prev_row(id)?;
            self.remove_file(ws_id, ws_path, &p)?;
        }
        // Keep the directory listing of runs that turned out to be touched (for the rollup).
        for rd in pending_dirs {
            if self.touched_runs.contains(&(ws_id, rd.run_id.clone())) {
                self.run_dirs.insert((ws_id, rd.run_id.clone()), rd);
            }
        }
        Ok(())
    }

    fn prev_row(&self, id: i64) -> Result<PrevRow, IndexError> {
        Ok(self.conn().query_row(
            "SELECT id, size, mtime_ns, consumed, lines, tail_hash, kind, run_id, iteration
             FROM files WHERE id = ?1",
            [id],
            |r| {
                Ok(PrevRow {
                    id: r.get(0)?,
                    size: r.get(1)?,
                    mtime_ns: r.get(2)?,
                    consumed: r.get(3)?,
                    lines: r.get(4)?,
                    tail_hash: r.get(5)?,
                    kind: r.get(6)?,
                    run_id: r.get(7)?,
                    iteration: r.get(8)?,
                })
            },
        )?)
    }

    fn remove_file(&mut self, ws_id: i64, ws_path: &str, p: &PrevRow) -> Result<(), IndexError> {
        let c = &self.idx.conn;
        c.execute("DELETE FROM files WHERE id = ?1", [p.id])?;
        self.report.files_removed += 1;
        let kind = FileKind::from_name(&p.kind);
        if let Some(run_id) = &p.run_id {
            self.touched_runs.insert((ws_id, run_id.clone()));
            match kind {
                Some(FileKind::Summary) => {
                    c.execute(
                        "UPDATE runs SET has_summary = 0, summary_state = NULL, final_status = NULL,
                         solved = NULL, best_score = NULL, best_reported_score = NULL,
                         summary_updated_at = NULL, run_error_count = 0, run_errors_json = NULL
                         WHERE workspace_id = ?1 AND run_id = ?2",
                        params![ws_id, run_id],
                    )?;
                }
                Some(FileKind::RunConfig) => {
                    c.execute(
                        "UPDATE runs SET has_config = 0 WHERE workspace_id = ?1 AND run_id = ?2",
                        params![ws_id, run_id],
                    )?;
                }
                Some(FileKind::Result) => {
                    c.execute(
                        "UPDATE iterations SET has_result = 0, status = NULL, verified = NULL,
                         solved = NULL, score = NULL, summary = NULL, result_errors_json = NULL
                         WHERE iteration = ?3 AND run_pk = (SELECT id FROM runs
                           WHERE workspace_id = ?1 AND run_id = ?2)",
                        params![ws_id, run_id, p.iteration],
                    )?;
                }
                _ => {}
            }
            let (kind, it) = match p.iteration {
                Some(n) => (ChangeKind::Iteration, Some(n)),
                None => (ChangeKind::Run, None),
            };
            self.events
                .add(kind, ChangeAction::Updated, ws_path, Some(run_id), it);
        } else {
            self.events.add(
                ChangeKind::Workspace,
                ChangeAction::Updated,
                ws_path,
                None,
                None,
            );
        }
        Ok(())
    }

    fn process(
        &mut self,
        mut jobs: Vec<Job>,
        mut job_ws: Vec<i64>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), IndexError> {
        if jobs.is_empty() {
            return Ok(());
        }
        // Big files first, so the readers stay busy to the end.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].found.size));
        let mut sorted_jobs = Vec::with_capacity(jobs.len());
        let mut sorted_ws = Vec::with_capacity(jobs.len());
        let mut slots: Vec<Option<Job>> = jobs.drain(..).map(Some).collect();
        for i in order {
            sorted_jobs.push(slots[i].take().expect("job"));
            sorted_ws.push(job_ws[i]);
        }
        let jobs = sorted_jobs;
        job_ws.clear();
        let job_ws = sorted_ws;

        let text_bytes: u64 = jobs
            .iter()
            .filter(|j| j.found.kind.append_only() && j.found.kind != FileKind::Calls)
            .map(|j| j.found.size)
            .sum();
        // A big pass defers FTS segment merging to its end (faster bulk inserts).
        self.text_bytes += text_bytes;
        if !self.bulk && self.text_bytes > (16 << 20) {
            self.conn().execute(
                "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('automerge', 0)",
                [],
            )?;
            self.bulk = true;
        }
        let mut prog = self.prog;
        progress(self.stamp(prog));
        let threads = self.idx.options.threads.max(1);
        let next = AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Msg>>(2 * threads + 2);
        let mut state: Vec<JobState> = (0..jobs.len()).map(|_| JobState::default()).collect();
        let mut last_commit = Instant::now();
        let mut last_progress = Instant::now();
        let jobs_ref = &jobs;
        let result: Result<(), IndexError> = std::thread::scope(|s| {
            let mut failure = None;
            let mut spawned = 0;
            for _ in 0..threads {
                let tx = tx.clone();
                let next = &next;
                let reader = std::thread::Builder::new()
                    .name("harnessgym-index-read".into())
                    .spawn_scoped(s, move || {
                        let mut out = ingest::Batcher::new(tx);
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(job) = jobs_ref.get(i) else { break };
                            ingest::process(i, job, &mut out);
                        }
                    });
                // Fewer readers only slow the pass down; none would silently skip every file.
                match reader {
                    Ok(_) => spawned += 1,
                    Err(e) => {
                        if spawned == 0 {
                            failure = Some(IndexError::Config(format!(
                                "cannot start a thread to read files: {e}"
                            )));
                        }
                        break;
                    }
                }
            }
            drop(tx);
            for msg in rx.iter().flatten() {
                if failure.is_none() {
                    if let Err(e) = self.check_stop() {
                        failure = Some(e);
                    }
                }
                if failure.is_some() {
                    // Readers take no new file; drain what they send so they can finish.
                    next.store(jobs_ref.len(), Ordering::Relaxed);
                    continue;
                }
                let done = matches!(msg, Msg::Done { .. } | Msg::Gone { .. });
                if let Err(e) = self.apply(msg, jobs_ref, &job_ws, &mut state, &mut prog) {
                    failure = Some(e);
                    continue;
                }
                if done {
                    prog.files_done += 1;
                }
                // Also inside a big file: its chunks move the bar.
                if last_progress.elapsed() > Duration::from_millis(200) {
                    progress(self.stamp(prog));
                    last_progress = Instant::now();
                }
                if done && last_commit.elapsed() > Duration::from_secs(2) {
                    if let Err(e) = self.commit() {
                        failure = Some(e);
                    }
                    last_commit = Instant::now();
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(()),
            }
        });
        result?;
        self.prog = prog;
        progress(self.stamp(prog));
        Ok(())
    }

    fn apply(
        &mut self,
        msg: Msg,
        jobs: &[Job],
        job_ws: &[i64],
        state: &mut [JobState],
        prog: &mut Progress,
    ) -> Result<(), IndexError> {
        match msg {
            Msg::Start { job, append, from } => {
                let j = &jobs[job];
                let ws_id = job_ws[job];
                let ws_path = self.ws_paths.get(&ws_id).cloned().unwrap_or_default();
                let f = &j.found;
                let c = &self.idx.conn;
                let file_id = match &j.prev {
                    Some(p) => {
                        c.prepare_cached(
                            // Until Done: an impossible size (re-read next pass) and no tail hash
                            // (so a pass cut short re-reads from the start, never appends twice).
                            "UPDATE files SET size = -1, tail_hash = NULL, kind = ?2, rel = ?3, run_id = ?4,
                             iteration = ?5, phase = ?6, stream = ?7 WHERE id = ?1",
                        )?
                        .execute(params![
                            p.file_id,
                            f.kind.name(),
                            f.rel(Path::new(&ws_path)),
                            f.run_id,
                            f.iteration,
                            f.phase,
                            f.stream
                        ])?;
                        if append {
                            c.prepare_cached(
                                "DELETE FROM errors WHERE file_id = ?1
                                 AND kind IN ('incomplete_line', 'changed_while_reading')",
                            )?
                            .execute([p.file_id])?;
                            if f.kind != FileKind::Calls {
                                c.prepare_cached(
                                    "DELETE FROM chunks WHERE file_id = ?1 AND offset >= ?2",
                                )?
                                .execute(params![p.file_id, from as i64])?;
                            }
                        } else {
                            for t in [
                                "phases",
                                "artifacts",
                                "activations",
                                "verdicts",
                                "compare_reports",
                                "compare_trials",
                                "mcp_calls",
                                "chunks",
                                "errors",
                            ] {
                                c.prepare_cached(&format!("DELETE FROM {t} WHERE file_id = ?1"))?
                                    .execute([p.file_id])?;
                            }
                        }
                        p.file_id
                    }
                    None => {
                        c.prepare_cached(
                            "INSERT INTO files(workspace_id, path, rel, kind, run_id, iteration, phase,
                             stream, size, mtime_ns, indexed_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, -1, 0, ?9)",
                        )?
                        .execute(params![
                            ws_id,
                            f.path.to_string_lossy(),
                            f.rel(Path::new(&ws_path)),
                            f.kind.name(),
                            f.run_id,
                            f.iteration,
                            f.phase,
                            f.stream,
                            self.now
                        ])?;
                        c.last_insert_rowid()
                    }
                };
                state[job].file_id = file_id;
                if let Some(run_id) = &f.run_id {
                    self.touched_runs.insert((ws_id, run_id.clone()));
                }
                self.report.files_indexed += 1;
            }
            Msg::Parsed { job, data } => {
                self.apply_parsed(&jobs[job], job_ws[job], state[job].file_id, *data)?;
            }
            Msg::Calls {
                job,
                rows,
                consumed,
                lines,
            } => {
                let file_id = state[job].file_id;
                let ws_id = job_ws[job];
                let c = &self.idx.conn;
                let mut st = c.prepare_cached(
                    "INSERT INTO mcp_calls(file_id, workspace_id, line, ts_ms, created_at, format, server,
                     tool, status, ok, duration_ms, request_bytes, response_bytes, request_id,
                     error_message, run_id, iteration, phase, argument_keys)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                )?;
                for r in &rows {
                    st.execute(params![
                        file_id,
                        ws_id,
                        r.line,
                        r.ts_ms,
                        r.created_at,
                        r.format,
                        r.server,
                        r.tool,
                        r.status,
                        r.ok,
                        r.duration_ms,
                        r.request_bytes,
                        r.response_bytes,
                        r.request_id,
                        r.error_message,
                        r.run_id,
                        r.iteration,
                        r.phase,
                        r.argument_keys
                    ])?;
                }
                let _ = (consumed, lines);
                state[job].calls += rows.len() as u64;
            }
            Msg::Chunk {
                job,
                chunk,
                consumed,
                lines,
            } => {
                let file_id = state[job].file_id;
                let c = &self.idx.conn;
                c.prepare_cached(
                    "INSERT INTO chunks(file_id, offset, len, first_line) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    file_id,
                    chunk.offset as i64,
                    chunk.len as i64,
                    chunk.first_line
                ])?;
                let id = c.last_insert_rowid();
                c.prepare_cached("INSERT INTO chunks_fts(rowid, body) VALUES (?1, ?2)")?
                    .execute(params![id, chunk.text])?;
                let _ = (consumed, lines);
                prog.bytes_done += chunk.len;
            }
            Msg::Error { job, err } => {
                let j = &jobs[job];
                self.idx
                    .conn
                    .prepare_cached(
                        "INSERT INTO errors(workspace_id, file_id, scope, run_id, iteration, kind, message,
                         line, byte_offset, detected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        job_ws[job],
                        state[job].file_id,
                        j.found.path.to_string_lossy(),
                        j.found.run_id,
                        j.found.iteration,
                        err.kind,
                        err.message,
                        err.line,
                        err.offset,
                        self.now
                    ])?;
                self.report.new_errors += 1;
            }
            Msg::Done {
                job,
                size,
                mtime_ns,
                consumed,
                lines,
                tail_hash,
                bytes_read,
            } => {
                let file_id = state[job].file_id;
                self.idx
                    .conn
                    .prepare_cached(
                        "UPDATE files SET size = ?2, mtime_ns = ?3, consumed = ?4, lines = ?5,
                         tail_hash = ?6, indexed_at = ?7 WHERE id = ?1",
                    )?
                    .execute(params![
                        file_id,
                        size,
                        mtime_ns,
                        consumed as i64,
                        lines,
                        tail_hash,
                        self.now
                    ])?;
                self.report.bytes_read += bytes_read;
                // Text is counted chunk by chunk as it is indexed; the rest when done.
                if !matches!(jobs[job].found.kind, FileKind::PhaseText | FileKind::Text) {
                    prog.bytes_done += bytes_read;
                }
                self.file_event(&jobs[job], job_ws[job], state[job].calls);
            }
            Msg::Gone { job } => {
                let j = &jobs[job];
                if let Some(p) = &j.prev {
                    let row = PrevRow {
                        id: p.file_id,
                        size: p.size,
                        mtime_ns: p.mtime_ns,
                        consumed: p.consumed,
                        lines: p.lines,
                        tail_hash: p.tail_hash,
                        kind: j.found.kind.name().into(),
                        run_id: j.found.run_id.clone(),
                        iteration: j.found.iteration,
                    };
                    let ws_path = self.ws_paths.get(&job_ws[job]).cloned().unwrap_or_default();
                    self.remove_file(job_ws[job], &ws_path, &row)?;
                }
            }
        }
        Ok(())
    }

    fn file_event(&mut self, job: &Job, ws_id: i64, calls: u64) {
        let ws = self.ws_paths.get(&ws_id).cloned().unwrap_or_default();
        let f = &job.found;
        if f.kind == FileKind::Calls {
            if calls > 0 {
                self.events.calls(&ws, calls);
            }
            return;
        }
        match (&f.run_id, f.iteration) {
            (Some(run), Some(n)) => self.events.add(
                ChangeKind::Iteration,
                ChangeAction::Updated,
                &ws,
                Some(run),
                Some(n),
            ),
            (Some(run), None) => {
                self.events
                    .add(ChangeKind::Run, ChangeAction::Updated, &ws, Some(run), None)
            }
            _ => self.events.add(
                ChangeKind::Workspace,
                ChangeAction::Updated,
                &ws,
                None,
                None,
            ),
        }
    }

    fn apply_parsed(
        &mut self,
        job: &Job,
        ws_id: i64,
        file_id: i64,
        data: Parsed,
    ) -> Result<(), IndexError> {
        let f = &job.found;
        match data {
            Parsed::Registry(arts) => {
                for a in &arts {
                    self.insert_artifact(file_id, ws_id, a)?;
                }
            }
            Parsed::Activation(rec) => {
                let c = &self.idx.conn;
                c.prepare_cached(
                    "INSERT INTO activations(file_id, workspace_id, run_id, iteration, stage, attempt,
                     status, gate_status, active_mcp_count, inactive_mcp_count, active_tool_count,
                     skill_count, warnings_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![
                    file_id,
                    ws_id,
                    f.run_id,
                    f.iteration,
                    rec.stage,
                    f.attempt,
                    rec.status,
                    rec.gate_status,
                    rec.active_mcp_count,
                    rec.inactive_mcp_count,
                    rec.active_tool_count,
                    rec.skill_count,
                    rec.warnings_json
                ])?;
                let source = if rec.stage == "qualification" {
                    "qualification"
                } else {
                    "activation"
                };
                let mut st = c.prepare_cached(
                    "INSERT INTO verdicts(file_id, workspace_id, run_id, iteration, source, stage, attempt,
                     subject, subject_kind, status, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for v in &rec.verdicts {
                    st.execute(params![
                        file_id,
                        ws_id,
                        f.run_id,
                        f.iteration,
                        source,
                        rec.stage,
                        f.attempt,
                        v.subject,
                        v.subject_kind,
                        v.status,
                        v.reason
                    ])?;
                }
                drop(st);
                if rec.stage == "workspace" {
                    for a in &rec.artifacts {
                        self.insert_artifact(file_id, ws_id, a)?;
                    }
                }
            }
            Parsed::RunConfig(rc) => {
                let Some(run_id) = &f.run_id else {
                    return Ok(());
                };
                let run_dir = run_dir_of(&f.path, 1);
                let pk = self.run_pk(ws_id, run_id, &run_dir)?;
                self.idx
                    .conn
                    .prepare_cached(
                        "UPDATE runs SET has_config = 1, origin = COALESCE(?2, origin), runner = ?3,
                         task_path = ?4, iterations_planned = ?5, attempt_only = ?6,
                         optimization_mode = ?7, score_key = ?8 WHERE id = ?1",
                    )?
                    .execute(params![
                        pk,
                        rc.origin,
                        rc.runner,
                        rc.task_path,
                        rc.iterations,
                        rc.attempt_only,
                        rc.optimization_mode,
                        rc.score_key
                    ])?;
            }
            Parsed::Summary(sm) => {
                let Some(run_id) = &f.run_id else {
                    return Ok(());
                };
                let pk = self.run_pk(ws_id, run_id, &run_dir_of(&f.path, 1))?;
                self.idx
                    .conn
                    .prepare_cached(
                        "UPDATE runs SET has_summary = 1, summary_state = ?2, final_status = ?3,
                         solved = ?4, best_score = ?5, best_reported_score = ?6,
                         started_ms = COALESCE(?7, started_ms), summary_updated_at = ?8,
                         run_error_count = ?9, run_errors_json = ?10,
                         origin = COALESCE(origin, ?11) WHERE id = ?1",
                    )?
                    .execute(params![
                        pk,
                        sm.state,
                        sm.final_status,
                        sm.solved,
                        sm.best_score,
                        sm.best_reported_score,
                        sm.started_at.as_deref().and_then(ingest::parse_time_ms),
                        sm.updated_at,
                        sm.error_count,
                        sm.errors_json,
                        sm.origin_hint
                    ])?;
            }
            Parsed::Result(r) => {
                let (Some(run_id), Some(n)) = (&f.run_id, f.iteration) else {
                    return Ok(());
                };
                let it_dir = f.path.parent().map(Path::to_path_buf).unwrap_or_default();
                let ipk = self.iter_pk(ws_id, run_id, n, &it_dir)?;
                let c = &self.idx.conn;
                c.prepare_cached(
                    "UPDATE iterations SET has_result = 1, status = ?2, verified = ?3, solved = ?4,
                     score = ?5, summary = ?6, created_ms = ?7, created_at = ?8, updated_at = ?9,
                     mcp_call_count = ?10, active_tool_count = ?11, quality_gate = ?12,
                     qualification_status = ?13, result_errors_json = ?14 WHERE id = ?1",
                )?
                .execute(params![
                    ipk,
                    r.status,
                    r.verified,
                    r.solved,
                    r.score,
                    r.summary,
                    r.created_ms,
                    r.created_at,
                    r.updated_at,
                    r.mcp_call_count,
                    r.active_tool_count,
                    r.quality_gate,
                    r.qualification_status,
                    r.errors_json
                ])?;
                let mut st = c.prepare_cached(
                    "INSERT INTO phases(file_id, iteration_pk, phase, status, return_code, timed_out,
                     duration_seconds, session_id, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for p in &r.phases {
                    st.execute(params![
                        file_id,
                        ipk,
                        p.phase,
                        p.status,
                        p.return_code,
                        p.timed_out,
                        p.duration_seconds,
                        p.session_id,
                        p.message
                    ])?;
                }
            }
            Parsed::Compare(cr) => {
                let c = &self.idx.conn;
                c.prepare_cached(
                    "INSERT INTO compare_reports(file_id, workspace_id, created_at, workspace_template,
                     artifact_source, trial_count, summary_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    file_id,
                    ws_id,
                    cr.created_at,
                    cr.workspace_template,
                    cr.artifact_source,
                    cr.trials.len() as i64,
                    cr.summary_json
                ])?;
                for t in &cr.trials {
                    self.insert_trial(file_id, ws_id, "report", t)?;
                }
            }
            Parsed::Trial(t) => self.insert_trial(file_id, ws_id, "trial", &t)?,
            Parsed::Unreadable => {
                let c = &self.idx.conn;
                match f.kind {
                    FileKind::Summary => {
                        if let Some(run_id) = &f.run_id {
                            let pk = self.run_pk(ws_id, run_id, &run_dir_of(&f.path, 1))?;
                            self.idx.conn.execute(
                                "UPDATE runs SET has_summary = 1, summary_state = NULL, final_status = NULL,
                                 solved = NULL, best_score = NULL, best_reported_score = NULL WHERE id = ?1",
                                [pk],
                            )?;
                        }
                    }
                    FileKind::RunConfig => {
                        if let Some(run_id) = &f.run_id {
                            let pk = self.run_pk(ws_id, run_id, &run_dir_of(&f.path, 1))?;
                            self.idx
                                .conn
                                .execute("UPDATE runs SET has_config = 1 WHERE id = ?1", [pk])?;
                        }
                    }
                    FileKind::Result => {
                        if let (Some(run_id), Some(n)) = (&f.run_id, f.iteration) {
                            let it_dir = f.path.parent().map(Path::to_path_buf).unwrap_or_default();
                            let ipk = self.iter_pk(ws_id, run_id, n, &it_dir)?;
                            self.idx.conn.execute(
                                "UPDATE iterations SET has_result = 0, status = NULL, verified = NULL,
                                 solved = NULL, score = NULL, summary = NULL WHERE id = ?1",
                                [ipk],
                            )?;
                        }
                    }
                    _ => {
                        let _ = c;
                    }
                }
            }
        }
        Ok(())
    }

    fn insert_artifact(
        &self,
        file_id: i64,
        ws_id: i64,
        a: &ingest::ArtifactRec,
    ) -> Result<(), IndexError> {
        self.idx
            .conn
            .prepare_cached(
                "INSERT INTO artifacts(file_id, workspace_id, source, artifact_id, kind, path, name,
                 description, iteration, created_at, quarantined, qualification_status, metadata_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                file_id,
                ws_id,
                a.source,
                a.artifact_id,
                a.kind,
                a.path,
                a.name,
                a.description,
                a.iteration,
                a.created_at,
                a.quarantined,
                a.qualification_status,
                a.metadata_json
            ])?;
        Ok(())
    }

    fn insert_trial(
        &self,
        file_id: i64,
        ws_id: i64,
        source: &str,
        t: &ingest::TrialRec,
    ) -> Result<(), IndexError> {
        self.idx
            .conn
            .prepare_cached(
                "INSERT INTO compare_trials(file_id, workspace_id, source, grp, trial, workspace, run_id,
                 run_dir, status, solved, error, duration_seconds, attempt_duration_seconds,
                 iterations_completed, score, post_status, post_score, post_valid, comparison_valid,
                 invalid_reason, mcp_call_count, called_tools_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19, ?20, ?21, ?22)",
            )?
            .execute(params![
                file_id,
                ws_id,
                source,
                t.grp,
                t.trial,
                t.workspace,
                t.run_id,
                t.run_dir,
                t.status,
                t.solved,
                t.error,
                t.duration_seconds,
                t.attempt_duration_seconds,
                t.iterations_completed,
                t.score,
                t.post_status,
                t.post_score,
                t.post_valid,
                t.comparison_valid,
                t.invalid_reason,
                t.mcp_call_count,
                t.called_tools_json
            ])?;
        Ok(())
    }

    /// Derived run and iteration fields, and the directory-level problems, for touched runs.
    fn rollup(&mut self) -> Result<(), IndexError> {
        let touched: Vec<(i64, String)> = self.touched_runs.drain().collect();
        for (ws_id, run_id) in touched {
            let c = &self.idx.conn;
            let Some(pk) = c
                .query_row(
                    "SELECT id FROM runs WHERE workspace_id = ?1 AND run_id = ?2",
                    params![ws_id, run_id],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
            else {
                continue;
            };
            c.prepare_cached(
                "UPDATE iterations SET
                   file_count = (SELECT count(*) FROM files f WHERE f.workspace_id = ?1
                                 AND f.run_id = ?2 AND f.iteration = iterations.iteration),
                   last_activity_ns = (SELECT max(mtime_ns) FROM files f WHERE f.workspace_id = ?1
                                 AND f.run_id = ?2 AND f.iteration = iterations.iteration)
                 WHERE run_pk = ?3",
            )?
            .execute(params![ws_id, run_id, pk])?;
            let rd = self.run_dirs.get(&(ws_id, run_id.clone()));
            let dir_mtime = rd
                .and_then(|r| std::fs::metadata(&r.dir).ok())
                .map(|m| scan::mtime_ns(&m))
                .unwrap_or(0);
            c.prepare_cached(
                "UPDATE runs SET
                   iteration_count = (SELECT count(*) FROM iterations WHERE run_pk = ?3),
                   last_activity_ns = max(?4, COALESCE((SELECT max(mtime_ns) FROM files f
                        WHERE f.workspace_id = ?1 AND f.run_id = ?2), 0))
                 WHERE id = ?3",
            )?
            .execute(params![ws_id, run_id, pk, dir_mtime])?;
            // Directory-level problems.
            c.prepare_cached(
                "DELETE FROM errors WHERE workspace_id = ?1 AND run_id = ?2 AND file_id IS NULL",
            )?
            .execute(params![ws_id, run_id])?;
            let (has_summary, dir): (bool, String) = c.query_row(
                "SELECT has_summary, dir FROM runs WHERE id = ?1",
                [pk],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut insert = c.prepare_cached(
                "INSERT INTO errors(workspace_id, file_id, scope, run_id, iteration, kind, message,
                 detected_at) VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            if !has_summary {
                insert.execute(params![
                    ws_id,
                    dir,
                    run_id,
                    None::<i64>,
                    "missing_summary",
                    "no summary.json: the run is still running or was interrupted; its state is inferred from its files",
                    self.now
                ])?;
            }
            if let Some(rd) = rd {
                for it in rd.iterations.iter().filter(|i| i.empty) {
                    // An iteration directory that is still empty (a crash right after mkdir, or
                    // the very start of an iteration).
                    let still_empty = std::fs::read_dir(&it.dir)
                        .map(|mut d| d.next().is_none())
                        .unwrap_or(false);
                    if still_empty {
                        insert.execute(params![
                            ws_id,
                            it.dir.to_string_lossy(),
                            run_id,
                            it.n,
                            "empty_iteration",
                            "the iteration directory is empty (the run stopped before writing result.json)",
                            self.now
                        ])?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Text and telemetry of a target above this size wait for the second sweep of a pass over
/// several targets (a few tenths of a second of indexing).
const DEFER_BYTES: u64 = 8 << 20;

/// Splits jobs (and their workspace ids) by `first`, keeping the order within each part.
#[allow(clippy::type_complexity)]
fn split_jobs(
    jobs: Vec<Job>,
    job_ws: Vec<i64>,
    first: impl Fn(&Job) -> bool,
) -> ((Vec<Job>, Vec<i64>), (Vec<Job>, Vec<i64>)) {
    let (mut a, mut b) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (j, w) in jobs.into_iter().zip(job_ws) {
        let part = if first(&j) { &mut a } else { &mut b };
        part.0.push(j);
        part.1.push(w);
    }
    (a, b)
}

#[derive(Default)]
struct JobState {
    file_id: i64,
    calls: u64,
}

/// `RUN` from `RUN/<file>` (depth 1).
fn run_dir_of(path: &Path, depth: usize) -> PathBuf {
    let mut p = path;
    for _ in 0..depth {
        p = p.parent().unwrap_or(p);
    }
    p.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_carry_their_time() {
        assert_eq!(
            run_id_time_ms("20261125T120841Z-0dc039e4"),
            Some(1_795_608_521_000)
        );
        assert_eq!(run_id_time_ms("compare-plain-1"), None);
    }
}
