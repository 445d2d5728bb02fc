//! Keeping the index live: a debounced `notify` watcher on each workspace's `.harnessgym/`
//! (and on compare directories). Changed paths are mapped to narrow scopes (one run, or the
//! workspace-level files) and re-indexed; the resulting change events go to a sink. Watches are
//! re-armed when a workspace is deleted, moved or re-created, and an overflow rescans everything.

use crate::model::{ChangeEvent, IndexReport, Progress};
use crate::scan::{self, Scope, Target};
use crate::{Index, IndexError};
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Watcher settings.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time before a burst of file events is handled.
    pub debounce: Duration,
    /// How often watched roots are checked for deletion, moves and re-creation.
    pub poll: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(50),
            poll: Duration::from_millis(500),
        }
    }
}

/// What the watcher reports.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// How far a full pass (the first one, a rescan) has got; about every 200 ms.
    Progress(Progress),
    /// A pass finished (the first one indexes everything).
    Indexed(IndexReport),
    /// Something changed in the index.
    Change(ChangeEvent),
    /// A problem that did not stop the watcher (a lost watch).
    Error(String),
    /// A pass failed (the next change or rescan tries again).
    PassFailed(String),
}

/// A running watcher; stop it with [`Watcher::stop`] (or by dropping it).
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), IndexError>>>,
}

impl Watcher {
    /// Opens the database at `db`, indexes `paths` and then keeps them live on a thread,
    /// calling `sink` for every report and change.
    pub fn start(
        db: &Path,
        paths: &[PathBuf],
        options: WatchOptions,
        sink: impl FnMut(WatchEvent) + Send + 'static,
    ) -> Result<Watcher, IndexError> {
        let index = Index::open(db)?;
        let targets = index.targets_for(paths)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("harnessgym-index-watch".into())
            .spawn(move || watch_loop(index, targets, options, stop2, Box::new(sink)))
            .map_err(|e| IndexError::Watch(format!("cannot start the watcher thread: {e}")))?;
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }

    /// True while the watcher thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops watching and returns the thread's error, if it ended on one.
    pub fn stop(mut self) -> Result<(), IndexError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| IndexError::Watch("the watcher thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where a target is watched from right now.
#[derive(Debug, Clone, PartialEq)]
struct Armed {
    path: PathBuf,
    recursive: bool,
    identity: Option<(u64, u64)>,
}

fn identity(p: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(p).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        Some((0, crate::scan::mtime_ns(&m) as u64))
    }
}

fn desired(target: &Target) -> Armed {
    let (root, recursive_at) = match target {
        Target::Workspace(p) => (p.clone(), p.join(".harnessgym")),
        Target::Compare(p) => (p.clone(), p.clone()),
    };
    if recursive_at.is_dir() {
        return Armed {
            identity: identity(&recursive_at),
            path: recursive_at,
            recursive: true,
        };
    }
    // Not there (yet, or any more): watch the nearest existing ancestor for its return.
    let mut p = root.as_path();
    loop {
        if p.is_dir() {
            return Armed {
                path: p.to_path_buf(),
                recursive: false,
                identity: identity(p),
            };
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => {
                return Armed {
                    path: PathBuf::from("/"),
                    recursive: false,
                    identity: None,
                }
            }
        }
    }
}

/// Maps a changed path to the target and scope that must be re-read.
fn scope_for(targets: &[Target], path: &Path) -> Option<(Target, Scope)> {
    // The deepest target containing the path (a trial workspace inside a compare directory).
    let target = targets
        .iter()
        .filter(|t| path.starts_with(t.path()) || t.path().starts_with(path))
        .max_by_key(|t| t.path().components().count())?;
    if !path.starts_with(target.path()) {
        // An ancestor of the target changed (it may have been created, moved or deleted).
        return Some((target.clone(), Scope::Full));
    }
    match target {
        Target::Compare(root) => {
            let rel = path.strip_prefix(root).ok()?;
            let parts: Vec<_> = rel.components().collect();
            // `<group>/trial_<i>/workspace/...` of a trial not yet known: rescan the compare dir
            // (the loop adds the new trial workspaces).
            if parts.len() <= 3
                || rel.ends_with("trial.json")
                || rel.ends_with("compare_report.json")
            {
                Some((target.clone(), Scope::Full))
            } else {
                Some((target.clone(), Scope::Top))
            }
        }
        Target::Workspace(ws) => {
            let hg = ws.join(".harnessgym");
            let Ok(rel) = path.strip_prefix(&hg) else {
                return Some((target.clone(), Scope::Full));
            };
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.first().map(String::as_str) {
                None => Some((target.clone(), Scope::Full)),
                Some("runs") => match parts.get(1) {
                    Some(id) => Some((target.clone(), Scope::Run(id.clone()))),
                    None => Some((target.clone(), Scope::Full)),
                },
                Some("registry.json" | "activation.json" | "mcp_calls.jsonl") => {
                    Some((target.clone(), Scope::Top))
                }
                Some("mcp") if rel.ends_with("mcp_calls.jsonl") => {
                    Some((target.clone(), Scope::Top))
                }
                _ => None,
            }
        }
    }
}

type Sink = Box<dyn FnMut(WatchEvent) + Send>;

fn watch_loop(
    mut index: Index,
    mut targets: Vec<Target>,
    options: WatchOptions,
    stop: Arc<AtomicBool>,
    mut sink: Sink,
) -> Result<(), IndexError> {
    // Stopping the watcher also cuts a long pass short (a first index of a big workspace).
    index.options.stop = Some(stop.clone());
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(options.debounce, None, tx).map_err(|e| IndexError::Watch(e.to_string()))?;
    let mut armed: HashMap<Target, Armed> = HashMap::new();

    let covered_by_compare = |targets: &[Target], t: &Target| {
        matches!(t, Target::Workspace(_))
            && targets.iter().any(|o| {
                matches!(o, Target::Compare(_)) && t.path().starts_with(o.path()) && o != t
            })
    };
    // (Re-)arms every target; returns the targets whose watched directory changed.
    let mut arm =
        |targets: &[Target], armed: &mut HashMap<Target, Armed>, sink: &mut Sink| -> Vec<Target> {
            let mut changed = Vec::new();
            for t in targets {
                if covered_by_compare(targets, t) {
                    continue;
                }
                let want = desired(t);
                if armed.get(t) == Some(&want) {
                    continue;
                }
                if let Some(old) = armed.remove(t) {
                    let _ = debouncer.unwatch(&old.path);
                }
                let mode = if want.recursive {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                };
                if let Err(e) = debouncer.watch(&want.path, mode) {
                    sink(WatchEvent::Error(format!(
                        "cannot watch {}: {e}",
                        want.path.display()
                    )));
                }
                armed.insert(t.clone(), want);
                changed.push(t.clone());
            }
            changed
        };

    arm(&targets, &mut armed, &mut sink);
    let full: Vec<(Target, Scope)> = targets.iter().map(|t| (t.clone(), Scope::Full)).collect();
    run_pass(&mut index, &full, &mut sink);

    while !stop.load(Ordering::Relaxed) {
        let mut batches = Vec::new();
        match rx.recv_timeout(options.poll.min(Duration::from_millis(200))) {
            Ok(b) => batches.push(b),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Ok(b) = rx.try_recv() {
            batches.push(b);
        }
        let mut work: BTreeSet<(Target, Scope)> = BTreeSet::new();
        let mut rescan_all = false;
        for batch in batches {
            match batch {
                Ok(events) => {
                    for ev in events {
                        if ev.need_rescan() {
                            rescan_all = true;
                        }
                        // Opens and reads (our own, among others) change nothing.
                        if matches!(ev.kind, EventKind::Access(_)) {
                            continue;
                        }
                        for p in &ev.paths {
                            if let Some(w) = scope_for(&targets, p) {
                                work.insert(w);
                            }
                        }
                    }
                }
                Err(errors) => {
                    for e in errors {
                        sink(WatchEvent::Error(format!("file watcher: {e}")));
                    }
                    rescan_all = true;
                }
            }
        }
        // New trial workspaces in compare directories.
        let compares: Vec<PathBuf> = work
            .iter()
            .filter(|(t, s)| matches!(t, Target::Compare(_)) && *s == Scope::Full)
            .map(|(t, _)| t.path().to_path_buf())
            .collect();
        for root in compares {
            for ws in scan::compare_workspaces(&root) {
                let t = Target::Workspace(ws);
                if !targets.contains(&t) {
                    work.insert((t.clone(), Scope::Full));
                    targets.push(t);
                }
            }
        }
        for t in arm(&targets, &mut armed, &mut sink) {
            work.insert((t, Scope::Full));
        }
        if rescan_all {
            work = targets.iter().map(|t| (t.clone(), Scope::Full)).collect();
        }
        if work.is_empty() {
            continue;
        }
        // A full scan of a target covers its narrower scopes.
        let fulls: HashSet<Target> = work
            .iter()
            .filter(|(_, s)| *s == Scope::Full)
            .map(|(t, _)| t.clone())
            .collect();
        let work: Vec<(Target, Scope)> = work
            .into_iter()
            .filter(|(t, s)| *s == Scope::Full || !fulls.contains(t))
            .collect();
        run_pass(&mut index, &work, &mut sink);
    }
    drop(debouncer);
    Ok(())
}

fn run_pass(index: &mut Index, work: &[(Target, Scope)], sink: &mut Sink) {
    let full = work.iter().all(|(_, s)| *s == Scope::Full);
    // Progress and the changes a long pass commits as it goes both go to the one sink.
    let sink = RefCell::new(sink);
    let outcome = index.refresh_live(
        work,
        &mut |p| {
            if full {
                (sink.borrow_mut())(WatchEvent::Progress(p))
            }
        },
        &mut |events| {
            for e in events {
                (sink.borrow_mut())(WatchEvent::Change(e));
            }
        },
    );
    let sink = sink.into_inner();
    match outcome {
        Ok(out) => {
            for e in out.events {
                sink(WatchEvent::Change(e));
            }
            if full {
                sink(WatchEvent::Indexed(out.report));
            }
        }
        Err(IndexError::Stopped) => {}
        Err(e) => sink(WatchEvent::PassFailed(format!("indexing failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_narrow_scopes() {
        let ws = PathBuf::from("/w/ws");
        let t = vec![Target::Workspace(ws.clone())];
        let hg = ws.join(".harnessgym");
        assert_eq!(
            scope_for(&t, &hg.join("runs/r1/iterations/1/attempt.stdout.txt")),
            Some((t[0].clone(), Scope::Run("r1".into())))
        );
        assert_eq!(
            scope_for(&t, &hg.join("mcp_calls.jsonl")),
            Some((t[0].clone(), Scope::Top))
        );
        assert_eq!(scope_for(&t, &hg.join("skills/x/SKILL.md")), None);
        assert_eq!(
            scope_for(&t, &hg.join("runs")),
            Some((t[0].clone(), Scope::Full))
        );
        assert_eq!(
            scope_for(&t, Path::new("/w")),
            Some((t[0].clone(), Scope::Full))
        );
        assert_eq!(scope_for(&t, Path::new("/elsewhere/x")), None);
    }
}
