//! Finding what to index: resolving the paths a user gives, and walking a workspace's
//! `.harnessgym/` tree (only the parts the index reads; copies such as qualification workspaces,
//! templates and checkpoints are skipped).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What a path given to `index`/`watch` stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A directory holding `.harnessgym/`.
    Workspace(PathBuf),
    /// A `harnessgym compare` output directory (`compare_report.json`, `<group>/trial_<i>/`).
    Compare(PathBuf),
}

impl Target {
    pub fn path(&self) -> &Path {
        match self {
            Target::Workspace(p) | Target::Compare(p) => p,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Workspace(_) => "workspace",
            Target::Compare(_) => "compare",
        }
    }
}

/// Makes a path absolute and resolved as far as it exists (a deleted workspace keeps its path).
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    // Resolve the longest existing ancestor, keep the rest as written.
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(p) = std::fs::canonicalize(cur) {
            let mut out = p;
            for c in rest.iter().rev() {
                out.push(c);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

fn is_compare_dir(p: &Path) -> bool {
    if p.join("compare_report.json").is_file() {
        return true;
    }
    ["plain", "harnessed"].iter().any(|g| {
        std::fs::read_dir(p.join(g))
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("trial_"))
            })
            .unwrap_or(false)
    })
}

/// What one user path resolves to: targets found, or `None` when nothing is there.
pub fn resolve(path: &Path) -> Option<Vec<Target>> {
    let p = absolute(path);
    if p.file_name().is_some_and(|n| n == ".harnessgym") {
        return Some(vec![Target::Workspace(p.parent()?.to_path_buf())]);
    }
    if !p.is_dir() {
        return None;
    }
    if p.join(".harnessgym").is_dir() {
        return Some(vec![Target::Workspace(p)]);
    }
    if is_compare_dir(&p) {
        let mut out = vec![Target::Compare(p.clone())];
        out.extend(compare_workspaces(&p).into_iter().map(Target::Workspace));
        return Some(out);
    }
    let mut out = Vec::new();
    discover(&p, 0, &mut out);
    if out.is_empty() {
        None
    } else {
        out.sort();
        out.dedup();
        Some(out)
    }
}

/// The trial workspaces of a compare directory.
pub fn compare_workspaces(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for group in sorted_dir(root) {
        if !group.is_dir() {
            continue;
        }
        for trial in sorted_dir(&group) {
            let name = trial.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with("trial_") && trial.join("workspace/.harnessgym").is_dir() {
                out.push(trial.join("workspace"));
            }
        }
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    ".git",
    "__pycache__",
    ".venv",
    "venv",
];

fn discover(dir: &Path, depth: usize, out: &mut Vec<Target>) {
    if depth > 4 {
        return;
    }
    for child in sorted_dir(dir) {
        let Ok(ft) = std::fs::symlink_metadata(&child).map(|m| m.file_type()) else {
            continue;
        };
        if !ft.is_dir() {
            continue;
        }
        let name = child.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') || SKIP_DIRS.contains(&name.as_ref()) {
            continue;
        }
        if child.join(".harnessgym").is_dir() {
            out.push(Target::Workspace(child));
        } else if is_compare_dir(&child) {
            out.extend(
                compare_workspaces(&child)
                    .into_iter()
                    .map(Target::Workspace),
            );
            out.push(Target::Compare(child));
        } else {
            discover(&child, depth + 1, out);
        }
    }
}

/// The kinds of file the index reads. The names are stored in `files.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Registry,
    WsActivation,
    Calls,
    RunConfig,
    Summary,
    Result,
    PreActivation,
    PostBuildActivation,
    Qualification,
    PhaseText,
    Text,
    CompareReport,
    Trial,
}

impl FileKind {
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Registry => "registry",
            FileKind::WsActivation => "ws_activation",
            FileKind::Calls => "calls",
            FileKind::RunConfig => "run_config",
            FileKind::Summary => "summary",
            FileKind::Result => "result",
            FileKind::PreActivation => "activation",
            FileKind::PostBuildActivation => "post_build_activation",
            FileKind::Qualification => "qualification",
            FileKind::PhaseText => "phase_text",
            FileKind::Text => "text",
            FileKind::CompareReport => "compare_report",
            FileKind::Trial => "trial",
        }
    }
    pub fn from_name(s: &str) -> Option<FileKind> {
        Some(match s {
            "registry" => FileKind::Registry,
            "ws_activation" => FileKind::WsActivation,
            "calls" => FileKind::Calls,
            "run_config" => FileKind::RunConfig,
            "summary" => FileKind::Summary,
            "result" => FileKind::Result,
            "activation" => FileKind::PreActivation,
            "post_build_activation" => FileKind::PostBuildActivation,
            "qualification" => FileKind::Qualification,
            "phase_text" => FileKind::PhaseText,
            "text" => FileKind::Text,
            "compare_report" => FileKind::CompareReport,
            "trial" => FileKind::Trial,
            _ => return None,
        })
    }
    /// Files that only grow: read from the last indexed offset.
    pub fn append_only(self) -> bool {
        matches!(self, FileKind::Calls | FileKind::PhaseText | FileKind::Text)
    }
    pub fn is_json(self) -> bool {
        !self.append_only()
    }
}

/// A file found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub kind: FileKind,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    pub phase: Option<String>,
    pub stream: Option<String>,
    /// `attempt_<k>` of a qualification report.
    pub attempt: Option<i64>,
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Debug, Clone)]
pub struct IterDir {
    pub n: i64,
    pub dir: PathBuf,
    pub empty: bool,
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub run_id: String,
    pub dir: PathBuf,
    pub iterations: Vec<IterDir>,
}

/// Which part of a workspace a scan covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Everything.
    Full,
    /// The workspace-level files (registry, activation, telemetry logs), not the runs.
    Top,
    /// One run directory.
    Run(String),
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<Found>,
    /// The run directories that exist within the scope.
    pub runs: Vec<RunDir>,
}

pub fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        m.mtime() * 1_000_000_000 + m.mtime_nsec()
    }
    #[cfg(not(unix))]
    {
        m.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    }
}

struct Ctx<'a> {
    ws: &'a Path,
    run_id: Option<&'a str>,
    iteration: Option<i64>,
}

impl Found {
    /// The path relative to the workspace (or compare directory) `root`.
    pub fn rel(&self, root: &Path) -> String {
        self.path
            .strip_prefix(root)
            .unwrap_or(&self.path)
            .to_string_lossy()
            .into_owned()
    }
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        out: &mut Vec<Found>,
        path: PathBuf,
        meta: &std::fs::Metadata,
        kind: FileKind,
        phase: Option<String>,
        stream: Option<String>,
        attempt: Option<i64>,
    ) {
        let _ = self.ws;
        out.push(Found {
            path,
            kind,
            run_id: self.run_id.map(str::to_string),
            iteration: self.iteration,
            phase,
            stream,
            attempt,
            size: meta.len(),
            mtime_ns: mtime_ns(meta),
        });
    }
}

/// Entries of a directory as (name, path, metadata without following links); unreadable → empty.
fn entries(dir: &Path) -> Vec<(String, PathBuf, std::fs::Metadata)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        out.push((e.file_name().to_string_lossy().into_owned(), e.path(), meta));
    }
    out
}

/// `<phase>.<stream>.txt` → (phase, stream).
fn phase_file(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".txt")?;
    let (phase, stream) = stem.rsplit_once('.')?;
    if phase.is_empty() || !matches!(stream, "prompt" | "stdout" | "stderr" | "transcript") {
        return None;
    }
    Some((phase.to_string(), stream.to_string()))
}

/// Scans the workspace-level files of `ws/.harnessgym`.
pub fn scan_top(ws: &Path, out: &mut Vec<Found>) {
    let hg = ws.join(".harnessgym");
    let ctx = Ctx {
        ws,
        run_id: None,
        iteration: None,
    };
    for (name, path, meta) in entries(&hg) {
        if meta.is_file() {
            let kind = match name.as_str() {
                "registry.json" => FileKind::Registry,
                "activation.json" => FileKind::WsActivation,
                "mcp_calls.jsonl" => FileKind::Calls,
                _ => continue,
            };
            ctx.push(out, path, &meta, kind, None, None, None);
        } else if meta.is_dir() && name == "mcp" {
            // The original's proxy logs next to a server whose cwd is not the workspace.
            find_call_logs(&ctx, &path, 0, out);
        }
    }
}

fn find_call_logs(ctx: &Ctx, dir: &Path, depth: usize, out: &mut Vec<Found>) {
    if depth > 5 {
        return;
    }
    for (name, path, meta) in entries(dir) {
        if meta.is_dir() && !SKIP_DIRS.contains(&name.as_str()) {
            find_call_logs(ctx, &path, depth + 1, out);
        } else if meta.is_file() && name == "mcp_calls.jsonl" {
            ctx.push(out, path, &meta, FileKind::Calls, None, None, None);
        }
    }
}

/// The run ids under `ws/.harnessgym/runs`.
pub fn run_ids(ws: &Path) -> Vec<String> {
    let mut ids: Vec<String> = entries(&ws.join(".harnessgym/runs"))
        .into_iter()
        .filter(|(_, _, m)| m.is_dir())
        .map(|(n, _, _)| n)
        .collect();
    ids.sort();
    ids
}

/// Scans one run directory; `None` when it does not exist.
pub fn scan_run(ws: &Path, run_id: &str, out: &mut Vec<Found>) -> Option<RunDir> {
    let dir = ws.join(".harnessgym/runs").join(run_id);
    if !dir.is_dir() {
        return None;
    }
    let ctx = Ctx {
        ws,
        run_id: Some(run_id),
        iteration: None,
    };
    let mut iterations = Vec::new();
    for (name, path, meta) in entries(&dir) {
        if meta.is_file() {
            let kind = match name.as_str() {
                "run_config.json" => FileKind::RunConfig,
                "summary.json" => FileKind::Summary,
                "mcp_calls.jsonl" => FileKind::Calls,
                _ => continue,
            };
            ctx.push(out, path, &meta, kind, None, None, None);
        } else if meta.is_dir() {
            match name.as_str() {
                "iterations" => {
                    for (n, ipath, imeta) in entries(&path) {
                        if !imeta.is_dir() {
                            continue;
                        }
                        let Ok(num) = n.parse::<i64>() else { continue };
                        let ictx = Ctx {
                            ws,
                            run_id: Some(run_id),
                            iteration: Some(num),
                        };
                        let empty = scan_iteration(&ictx, &ipath, out);
                        iterations.push(IterDir {
                            n: num,
                            dir: ipath,
                            empty,
                        });
                    }
                }
                "baseline" | "checkpoints" => {
                    for (fname, fpath, fmeta) in entries(&path) {
                        if fmeta.is_file() && fname.ends_with(".txt") {
                            let (phase, stream) = fname
                                .strip_suffix(".txt")
                                .and_then(|s| s.rsplit_once('.'))
                                .map(|(p, s)| (p.to_string(), s.to_string()))
                                .unwrap_or((name.clone(), "text".into()));
                            ctx.push(
                                out,
                                fpath,
                                &fmeta,
                                FileKind::Text,
                                Some(phase),
                                Some(stream),
                                None,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    iterations.sort_by_key(|i| i.n);
    Some(RunDir {
        run_id: run_id.to_string(),
        dir,
        iterations,
    })
}

/// Scans one iteration directory; returns true when it holds nothing at all.
fn scan_iteration(ctx: &Ctx, dir: &Path, out: &mut Vec<Found>) -> bool {
    let list = entries(dir);
    let empty = list.is_empty();
    for (name, path, meta) in list {
        if meta.is_file() {
            let kind = match name.as_str() {
                "result.json" => FileKind::Result,
                "activation.json" => FileKind::PreActivation,
                "post_build_activation.json" => FileKind::PostBuildActivation,
                _ => {
                    if let Some((phase, stream)) = phase_file(&name) {
                        ctx.push(
                            out,
                            path,
                            &meta,
                            FileKind::PhaseText,
                            Some(phase),
                            Some(stream),
                            None,
                        );
                    }
                    continue;
                }
            };
            ctx.push(out, path, &meta, kind, None, None, None);
        } else if meta.is_dir() {
            if let Some(k) = name
                .strip_prefix("repair_")
                .and_then(|k| k.parse::<i64>().ok())
            {
                for (fname, fpath, fmeta) in entries(&path) {
                    if let (true, Some((_, stream))) = (fmeta.is_file(), phase_file(&fname)) {
                        ctx.push(
                            out,
                            fpath,
                            &fmeta,
                            FileKind::PhaseText,
                            Some(format!("repair_{k}")),
                            Some(stream),
                            None,
                        );
                    }
                }
            } else if name == "qualification" {
                for (aname, apath, ameta) in entries(&path) {
                    let Some(k) = aname
                        .strip_prefix("attempt_")
                        .and_then(|k| k.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    if !ameta.is_dir() {
                        continue;
                    }
                    let q = apath.join("qualification.json");
                    if let Ok(qmeta) = std::fs::symlink_metadata(&q) {
                        if qmeta.is_file() {
                            ctx.push(out, q, &qmeta, FileKind::Qualification, None, None, Some(k));
                        }
                    }
                }
            }
        }
    }
    empty
}

/// Scans a compare output directory's own files (the report and each `trial.json`).
pub fn scan_compare(root: &Path, out: &mut Vec<Found>) {
    let ctx = Ctx {
        ws: root,
        run_id: None,
        iteration: None,
    };
    if let Ok(meta) = std::fs::symlink_metadata(root.join("compare_report.json")) {
        if meta.is_file() {
            ctx.push(
                out,
                root.join("compare_report.json"),
                &meta,
                FileKind::CompareReport,
                None,
                None,
                None,
            );
        }
    }
    for (_, gpath, gmeta) in entries(root) {
        if !gmeta.is_dir() {
            continue;
        }
        for (tname, tpath, tmeta) in entries(&gpath) {
            if !tmeta.is_dir() || !tname.starts_with("trial_") {
                continue;
            }
            let f = tpath.join("trial.json");
            if let Ok(meta) = std::fs::symlink_metadata(&f) {
                if meta.is_file() {
                    ctx.push(out, f, &meta, FileKind::Trial, None, None, None);
                }
            }
        }
    }
}

/// Scans a workspace within `scope`, walking run directories on `threads` threads.
pub fn scan_workspace(ws: &Path, scope: &Scope, threads: usize) -> Scan {
    let mut scan = Scan::default();
    match scope {
        Scope::Top => scan_top(ws, &mut scan.files),
        Scope::Run(id) => {
            if let Some(r) = scan_run(ws, id, &mut scan.files) {
                scan.runs.push(r);
            }
        }
        Scope::Full => {
            scan_top(ws, &mut scan.files);
            let ids = run_ids(ws);
            let next = AtomicUsize::new(0);
            let results = Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for _ in 0..threads.clamp(1, 8).min(ids.len().max(1)) {
                    s.spawn(|| {
                        let mut files = Vec::new();
                        let mut runs = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(id) = ids.get(i) else { break };
                            if let Some(r) = scan_run(ws, id, &mut files) {
                                runs.push(r);
                            }
                        }
                        results.lock().expect("scan lock").push((files, runs));
                    });
                }
            });
            for (files, runs) in results.into_inner().expect("scan lock") {
                scan.files.extend(files);
                scan.runs.extend(runs);
            }
            scan.runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_file_names() {
        assert_eq!(
            phase_file("attempt.stdout.txt"),
            Some(("attempt".into(), "stdout".into()))
        );
        assert_eq!(
            phase_file("post_attempt.stderr.txt"),
            Some(("post_attempt".into(), "stderr".into()))
        );
        assert_eq!(phase_file("notes.txt"), None);
        assert_eq!(phase_file("attempt.stdout.log"), None);
    }

    #[test]
    fn resolves_workspaces_harnessgym_dirs_and_parents() {
        let root = tempfile::tempdir().unwrap();
        let ws = root.path().join("a/ws");
        std::fs::create_dir_all(ws.join(".harnessgym/runs")).unwrap();
        let ws = absolute(&ws);
        assert_eq!(resolve(&ws), Some(vec![Target::Workspace(ws.clone())]));
        assert_eq!(
            resolve(&ws.join(".harnessgym")),
            Some(vec![Target::Workspace(ws.clone())])
        );
        assert_eq!(resolve(root.path()), Some(vec![Target::Workspace(ws)]));
        assert_eq!(resolve(&root.path().join("nope")), None);
    }
}
