//! Trial workspaces: the template copy (the original's exclusions; symlinks recreated, never
//! followed), the harness copy from the artifact source, and the MCP telemetry summary.
//!
//! The template copy is the main per-trial cost, so it is built for speed: one walk creates the
//! directories and lists the files, then a few threads copy the files. Every small file is read
//! once into memory, written, and hashed on the way, which gives each trial a content hash of
//! exactly what it received (the fairness check compares them) at no extra read.

use crate::fsx;
use crate::harness::hash::Sha256;
use crate::harness::paths::normalize;
use crate::harness::registry::KINDS;
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Files up to this size are copied through memory and content-hashed; larger ones are copied
/// by the kernel (`copy_file_range`) and fingerprinted by size and modification time.
const HASHED_MAX: u64 = 1 << 20;
/// Below this many files one thread copies; above it, several.
const PARALLEL_MIN: usize = 128;

/// Suffixes the original's compare leaves out of trial workspaces (`.so`/`.dylib` are copied).
const TEMPLATE_SUFFIXES: &[&str] = &["o", "pyc", "pyo"];

/// True for template paths a trial does not get: an excluded name at any depth, a compiled
/// object or bytecode file, or a `flash_bench*` file (spec/harness.md §7.2).
pub fn template_excludes(rel: &Path) -> bool {
    let mut parts = rel.components().peekable();
    while let Some(c) = parts.next() {
        let Component::Normal(name) = c else { continue };
        let last = parts.peek().is_none();
        if skip_template_entry(name, !last) {
            return true;
        }
    }
    false
}

/// The template rule for one entry: `is_dir` entries are skipped only by name.
pub fn skip_template_entry(name: &OsStr, is_dir: bool) -> bool {
    if fsx::EXCLUDED_NAMES.iter().any(|x| name == *x) {
        return true;
    }
    if is_dir {
        return false;
    }
    let name = name.to_string_lossy();
    name.starts_with("flash_bench")
        || Path::new(name.as_ref())
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|e| TEMPLATE_SUFFIXES.contains(&e))
}

/// The harness-copy rule: `__pycache__` and bytecode are left out.
fn skip_harness_entry(name: &OsStr, is_dir: bool) -> bool {
    if name == "__pycache__" {
        return true;
    }
    !is_dir
        && Path::new(name)
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|e| e == "pyc" || e == "pyo")
}

/// What to do with a symlink whose target lies outside the copied root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideLinks {
    /// Keep it, pointing at the same absolute place (task data such as a dataset link).
    Keep,
    /// Leave it out and report it (harness bundles: a bundle must not reach into the host).
    Drop,
}

/// What a tree copy did.
#[derive(Debug, Default)]
pub struct TreeCopy {
    /// Regular files copied (relative to the copied sub-tree), sorted.
    pub files: Vec<String>,
    /// SHA-256 over every copied entry: path, size and content (files up to 1 MiB) or size and
    /// modification time (larger files), and link targets.
    pub fingerprint: String,
    /// Symlinks kept that point outside the copied root: `{path, target}`.
    pub external_links: Vec<Value>,
    /// Symlinks left out: `{path, target, reason}`.
    pub dropped_links: Vec<Value>,
    /// Bytes copied.
    pub bytes: u64,
}

type Skip<'a> = &'a (dyn Fn(&OsStr, bool) -> bool + Sync);

/// Copies `<src_root>/<sub>` to `<dst_root>/<sub>` (the destination sub-tree must not exist;
/// its parent is created). Entries for which `skip(name, is_dir)` holds are left out, at any depth.
/// Symlinks are never followed: a link into `src_root` stays a relative link (into the copy),
/// a link leaving it is kept or dropped per `outside`.
pub fn copy_tree(
    src_root: &Path,
    sub: &Path,
    dst_root: &Path,
    skip: Skip,
    outside: OutsideLinks,
) -> io::Result<TreeCopy> {
    let roots = [normalize(src_root), canonical(src_root)];
    let dst_top = dst_root.join(sub);
    if let Some(parent) = dst_top.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::create_dir(&dst_top)?;
    let mut walk = Walk::default();
    walk_dir(
        src_root,
        sub,
        Path::new(""),
        dst_root,
        skip,
        outside,
        &roots,
        &mut walk,
    )?;

    finish_copy(&src_root.join(sub), &dst_top, walk)
}

#[derive(Default)]
struct Walk {
    /// (relative path under the sub-tree, POSIX form).
    files: Vec<(PathBuf, String)>,
    /// (POSIX path, "L:" + link text) for the fingerprint.
    links: Vec<(String, String)>,
    external: Vec<Value>,
    dropped: Vec<Value>,
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[allow(clippy::too_many_arguments)]
fn walk_dir(
    src_root: &Path,
    sub: &Path,
    rel: &Path,
    dst_root: &Path,
    skip: Skip,
    outside: OutsideLinks,
    roots: &[PathBuf; 2],
    walk: &mut Walk,
) -> io::Result<()> {
    let dir = src_root.join(sub).join(rel);
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if skip(&name, kind.is_dir()) {
            continue;
        }
        let child = rel.join(&name);
        let to = dst_root.join(sub).join(&child);
        if kind.is_dir() {
            fs::create_dir(&to)?;
            walk_dir(src_root, sub, &child, dst_root, skip, outside, roots, walk)?;
        } else if kind.is_symlink() {
            let text = fs::read_link(entry.path())?;
            let ws_rel = sub.join(&child);
            let parent = ws_rel.parent().unwrap_or(Path::new(""));
            let absolute = normalize(&src_root.join(parent).join(&text));
            let inside = roots
                .iter()
                .find_map(|root| absolute.strip_prefix(root).ok().map(Path::to_path_buf));
            let target = match inside {
                Some(target_rel) => {
                    let mut link = PathBuf::new();
                    for _ in parent.components() {
                        link.push("..");
                    }
                    link.push(target_rel);
                    if link.as_os_str().is_empty() {
                        link.push(".");
                    }
                    link
                }
                None => {
                    let record =
                        json!({"path": fsx::posix(&ws_rel), "target": text.to_string_lossy()});
                    if outside == OutsideLinks::Drop {
                        let mut record = record;
                        record["reason"] = json!("symlink leaves the copied tree; not copied");
                        walk.dropped.push(record);
                        continue;
                    }
                    walk.external.push(record);
                    absolute
                }
            };
            std::os::unix::fs::symlink(&target, &to)?;
            walk.links.push((
                fsx::posix(&child),
                format!("L:{}", target.to_string_lossy()),
            ));
        } else if kind.is_file() {
            walk.files.push((child.clone(), fsx::posix(&child)));
        }
        // Sockets, FIFOs and devices are not task files.
    }
    Ok(())
}

/// Copies every `threads`-th file starting at `start`; returns (index, digest, size).
fn copy_files(
    src: &Path,
    dst: &Path,
    files: &[(PathBuf, String)],
    start: usize,
    threads: usize,
) -> io::Result<Vec<(usize, String, u64)>> {
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(files.len() / threads + 1);
    for i in (start..files.len()).step_by(threads) {
        let rel = &files[i].0;
        let (digest, size) = copy_file(&src.join(rel), &dst.join(rel), &mut buf)?;
        out.push((i, digest, size));
    }
    Ok(out)
}

/// Copies one regular file with its permissions and modification time.
fn copy_file(from: &Path, to: &Path, buf: &mut Vec<u8>) -> io::Result<(String, u64)> {
    let annotate =
        |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    let mut src = fs::File::open(from).map_err(|e| annotate(e, from))?;
    let meta = src.metadata()?;
    let mode = meta.permissions().mode() & 0o7777;
    let modified = meta.modified().ok();
    if meta.len() > HASHED_MAX {
        drop(src);
        fs::copy(from, to).map_err(|e| annotate(e, to))?;
        if let (Some(m), Ok(f)) = (modified, fs::File::options().write(true).open(to)) {
            let _ = f.set_modified(m);
        }
        let digest = format!("S:{}:{}.{}", meta.len(), meta.mtime(), meta.mtime_nsec());
        return Ok((digest, meta.len()));
    }
    buf.clear();
    src.read_to_end(buf)?;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)
        .map_err(|e| annotate(e, to))?;
    dst.write_all(buf)?;
    if mode & 0o7000 != 0 {
        // `mode()` on open is filtered by the umask; set special bits explicitly.
        dst.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    if let Some(m) = modified {
        let _ = dst.set_modified(m);
    }
    let mut h = Sha256::new();
    h.update(buf);
    Ok((format!("C:{}", h.finish_hex()), buf.len() as u64))
}

/// Copies the template into a new trial workspace `dest` (which must not exist).
pub fn copy_template(template: &Path, dest: &Path) -> io::Result<TreeCopy> {
    if dest.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("workspace destination already exists: {}", dest.display()),
        ));
    }
    copy_tree(
        template,
        Path::new(""),
        dest,
        &skip_template_entry,
        OutsideLinks::Keep,
    )
}

fn finish_copy(src_top: &Path, dst_top: &Path, walk: Walk) -> io::Result<TreeCopy> {
    let threads = if walk.files.len() >= PARALLEL_MIN {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4)
    } else {
        1
    };
    let copied: Vec<io::Result<Vec<(usize, String, u64)>>> = if threads == 1 {
        vec![copy_files(src_top, dst_top, &walk.files, 0, 1)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let files = &walk.files;
                    s.spawn(move || copy_files(src_top, dst_top, files, t, threads))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a copy thread panicked")))
                })
                .collect()
        })
    };
    let mut entries: Vec<(String, String)> = walk.links;
    let mut out = TreeCopy {
        external_links: walk.external,
        dropped_links: walk.dropped,
        ..TreeCopy::default()
    };
    for part in copied {
        for (i, digest, size) in part? {
            out.bytes += size;
            entries.push((walk.files[i].1.clone(), digest));
        }
    }
    entries.sort();
    let mut hasher = Sha256::new();
    for (path, digest) in &entries {
        hasher.update(path.as_bytes());
        hasher.update(b"\0");
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    out.fingerprint = hasher.finish_hex();
    out.files = walk.files.into_iter().map(|(_, rel)| rel).collect();
    out.files.sort();
    Ok(out)
}

/// Copies the artifact directories and `registry.json` of `harness_dir` into
/// `<workspace>/.harnessgym/` (each destination directory replaced), as the original's
/// `copy_harness_artifacts`; symlinks leaving the bundle are dropped and reported.
/// Returns the copied files, workspace-relative and sorted, and the dropped links.
pub fn copy_harness(harness_dir: &Path, workspace: &Path) -> io::Result<(Vec<String>, Vec<Value>)> {
    let dst_hg = workspace.join(".harnessgym");
    fs::create_dir_all(&dst_hg)?;
    let mut copied = Vec::new();
    let mut dropped = Vec::new();
    for (_, dir) in KINDS {
        let src = harness_dir.join(dir);
        if !src.is_dir() {
            continue;
        }
        let dst = dst_hg.join(dir);
        fsx::remove_any(&dst)?;
        let tree = copy_tree(
            harness_dir,
            Path::new(dir),
            &dst_hg,
            &skip_harness_entry,
            OutsideLinks::Drop,
        )?;
        copied.extend(tree.files.iter().map(|f| format!(".harnessgym/{dir}/{f}")));
        dropped.extend(tree.dropped_links);
    }
    let registry = harness_dir.join("registry.json");
    if registry.is_file() {
        fs::copy(&registry, dst_hg.join("registry.json"))?;
        copied.push(".harnessgym/registry.json".into());
    }
    copied.sort();
    Ok((copied, dropped))
}

/// The original's `summarize_mcp_call_events`: the whole telemetry log of a trial workspace,
/// read line by line (bounded memory). Successful calls are `completed` (the original's proxy)
/// and `ok` (ours); failed ones every error, timeout and cancellation status.
pub fn summarize_telemetry(workspace: &Path) -> Value {
    let path = crate::harness::wiring::telemetry_path(workspace);
    let mut count = 0u64;
    let mut ok = 0u64;
    let mut failed = 0u64;
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    let mut tools = std::collections::BTreeSet::new();
    let mut servers = std::collections::BTreeSet::new();
    let mut samples = Vec::new();
    if let Ok(file) = fs::File::open(&path) {
        for line in io::BufReader::new(file).split(b'\n').map_while(Result::ok) {
            let text = String::from_utf8_lossy(&line);
            let Ok(Value::Object(event)) = serde_json::from_str::<Value>(text.trim()) else {
                continue;
            };
            count += 1;
            let status = event
                .get("status")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string();
            match status.as_str() {
                "completed" | "ok" => ok += 1,
                "error" | "failed" | "timeout" | "tool_error" | "protocol_error" | "cancelled" => {
                    failed += 1
                }
                _ => {}
            }
            *statuses.entry(status).or_default() += 1;
            if let Some(t) = event.get("tool_name").and_then(Value::as_str) {
                if !t.is_empty() {
                    tools.insert(t.to_string());
                }
            }
            if let Some(s) = event.get("server").and_then(Value::as_str) {
                if !s.is_empty() {
                    servers.insert(s.to_string());
                }
            }
            if samples.len() < 20 {
                samples.push(Value::Object(event));
            }
        }
    }
    json!({
        "path": path.to_string_lossy(),
        "count": count,
        "successful_count": ok,
        "failed_count": failed,
        "status_counts": statuses,
        "called_tools": tools,
        "servers": servers,
        "samples": samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_rules_match_the_original() {
        for excluded in [
            ".git/config",
            "a/.harnessgym/registry.json",
            "x/__pycache__",
            "m.o",
            "m.pyc",
            "flash_bench_out.txt",
        ] {
            assert!(template_excludes(Path::new(excluded)), "{excluded}");
        }
        for kept in ["lib.so", "lib.dylib", "src/k.py", "flash_bench_dir/x.py"] {
            assert!(!template_excludes(Path::new(kept)), "{kept}");
        }
    }

    #[test]
    fn copy_keeps_modes_links_and_hashes_content() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("tpl");
        fs::create_dir_all(src.join("sub/.git")).unwrap();
        fs::write(src.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(src.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(src.join("sub/a.txt"), "a").unwrap();
        fs::write(src.join("sub/.git/HEAD"), "x").unwrap();
        fs::write(src.join("sub/b.pyc"), "x").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", src.join("inner")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", src.join("outer")).unwrap();
        let first = copy_template(&src, &dir.path().join("t1/workspace")).unwrap();
        assert_eq!(first.files, vec!["run.sh", "sub/a.txt"]);
        let ws = dir.path().join("t1/workspace");
        assert_eq!(
            fs::metadata(ws.join("run.sh"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755
        );
        assert_eq!(
            fs::read_link(ws.join("inner")).unwrap(),
            Path::new("sub/a.txt")
        );
        assert_eq!(
            fs::read_link(ws.join("outer")).unwrap(),
            Path::new("/etc/hostname")
        );
        assert_eq!(first.external_links.len(), 1);
        let second = copy_template(&src, &dir.path().join("t2/workspace")).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        fs::write(src.join("sub/a.txt"), "b").unwrap();
        let third = copy_template(&src, &dir.path().join("t3/workspace")).unwrap();
        assert_ne!(first.fingerprint, third.fingerprint);
        assert!(copy_template(&src, &dir.path().join("t3/workspace")).is_err());
    }

    #[test]
    fn many_files_are_copied_in_parallel_identically() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("tpl");
        for i in 0..300 {
            let d = src.join(format!("d{}", i % 7));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join(format!("f{i}.txt")), format!("{i}")).unwrap();
        }
        let a = copy_template(&src, &dir.path().join("a")).unwrap();
        let b = copy_template(&src, &dir.path().join("b")).unwrap();
        assert_eq!(a.files.len(), 300);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(
            fs::read_to_string(dir.path().join("b/d3/f10.txt")).unwrap(),
            "10"
        );
    }

    #[test]
    fn harness_copy_drops_links_that_leave_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let hg = dir.path().join("src/.harnessgym");
        fs::create_dir_all(hg.join("tools/__pycache__")).unwrap();
        fs::create_dir_all(hg.join("skills/s")).unwrap();
        fs::write(hg.join("tools/probe.py"), "print(1)").unwrap();
        fs::write(hg.join("tools/__pycache__/probe.pyc"), "x").unwrap();
        fs::write(hg.join("skills/s/SKILL.md"), "# s").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", hg.join("tools/leak")).unwrap();
        std::os::unix::fs::symlink("../../tools/probe.py", hg.join("skills/s/probe")).unwrap();
        fs::write(hg.join("registry.json"), "{}").unwrap();
        let ws = dir.path().join("ws");
        fs::create_dir_all(&ws).unwrap();
        let (copied, dropped) = copy_harness(&hg, &ws).unwrap();
        assert_eq!(
            copied,
            vec![
                ".harnessgym/registry.json",
                ".harnessgym/skills/s/SKILL.md",
                ".harnessgym/tools/probe.py"
            ]
        );
        assert_eq!(dropped.len(), 1);
        assert!(!ws.join(".harnessgym/tools/leak").exists());
        assert_eq!(
            fs::read_to_string(ws.join(".harnessgym/skills/s/probe")).unwrap(),
            "print(1)"
        );
    }

    #[test]
    fn telemetry_summary_counts_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(".harnessgym/mcp_calls.jsonl");
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        fs::write(
            &log,
            "{\"tool_name\":\"a\",\"server\":\"s\",\"status\":\"completed\"}\n\
             {\"tool_name\":\"b\",\"server\":\"s\",\"status\":\"ok\"}\n\
             not json\n{\"tool_name\":\"b\",\"status\":\"tool_error\"}\n",
        )
        .unwrap();
        let s = summarize_telemetry(dir.path());
        assert_eq!(s["count"], 3);
        assert_eq!(s["successful_count"], 2);
        assert_eq!(s["failed_count"], 1);
        assert_eq!(s["called_tools"], json!(["a", "b"]));
        assert_eq!(s["status_counts"]["ok"], 1);
    }
}
