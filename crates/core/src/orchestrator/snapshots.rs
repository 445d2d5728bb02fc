//! Copies of the task files: the initial snapshot for `--task-state reset` and the best
//! checkpoint of optimization mode. Both use the shared exclusions (at any depth), and a
//! restore changes only what differs, so excluded paths such as `.git` are never touched.

use crate::fsx;
use serde_json::{json, Value};
use std::fs;
use std::io;
use std::path::Path;

/// Captures the workspace's task files into `dest` (replaced). Returns the copied files.
pub fn capture(workspace: &Path, dest: &Path) -> io::Result<Vec<String>> {
    fsx::remove_any(dest)?;
    fsx::copy_tree(workspace, dest, &fsx::is_excluded)
}

/// Makes the workspace's task files equal to `snapshot`: missing or different files are copied
/// back, files the snapshot lacks are removed, excluded paths are left alone. Returns the number
/// of paths changed.
pub fn restore(snapshot: &Path, workspace: &Path) -> io::Result<usize> {
    if !snapshot.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("snapshot {} is missing", snapshot.display()),
        ));
    }
    let mut changed = 0;
    sync_dir(snapshot, workspace, Path::new(""), &mut changed)?;
    Ok(changed)
}

fn sync_dir(src_root: &Path, dst_root: &Path, rel: &Path, changed: &mut usize) -> io::Result<()> {
    let src = src_root.join(rel);
    let dst = dst_root.join(rel);
    fs::create_dir_all(&dst)?;
    // Remove what the snapshot does not have.
    for entry in fs::read_dir(&dst)? {
        let entry = entry?;
        let child = rel.join(entry.file_name());
        if fsx::is_excluded(&child) {
            continue;
        }
        if fs::symlink_metadata(src_root.join(&child)).is_err() {
            fsx::remove_any(&entry.path())?;
            *changed += 1;
        }
    }
    for entry in fs::read_dir(&src)? {
        let entry = entry?;
        let child = rel.join(entry.file_name());
        let (from, to) = (src_root.join(&child), dst_root.join(&child));
        let kind = entry.file_type()?;
        let existing = fs::symlink_metadata(&to).ok();
        if kind.is_dir() {
            if existing.as_ref().is_some_and(|m| !m.is_dir()) {
                fsx::remove_any(&to)?;
            }
            sync_dir(src_root, dst_root, &child, changed)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from)?;
            if fs::read_link(&to).ok().as_ref() != Some(&target) {
                fsx::remove_any(&to)?;
                std::os::unix::fs::symlink(target, &to)?;
                *changed += 1;
            }
        } else if !same_file_content(&from, &to, existing.as_ref())? {
            if existing
                .as_ref()
                .is_some_and(|m| m.is_dir() || m.file_type().is_symlink())
            {
                fsx::remove_any(&to)?;
            }
            fs::copy(&from, &to)?;
            *changed += 1;
        }
    }
    Ok(())
}

fn same_file_content(a: &Path, b: &Path, b_meta: Option<&fs::Metadata>) -> io::Result<bool> {
    let Some(meta) = b_meta.filter(|m| m.is_file()) else {
        return Ok(false);
    };
    if fs::metadata(a)?.len() != meta.len() {
        return Ok(false);
    }
    Ok(fs::read(a)? == fs::read(b)?)
}

/// The best-checkpoint manager of one run (`RUN/checkpoints`).
pub struct Checkpoints {
    root: std::path::PathBuf,
}

impl Checkpoints {
    pub fn new(run_dir: &Path) -> Checkpoints {
        Checkpoints {
            root: run_dir.join("checkpoints"),
        }
    }

    fn best(&self) -> std::path::PathBuf {
        self.root.join("best")
    }

    fn manifest_path(&self) -> std::path::PathBuf {
        self.root.join("best_manifest.json")
    }

    /// Captures the workspace as the best so far and returns the manifest.
    pub fn capture(
        &self,
        workspace: &Path,
        iteration: u32,
        score: f64,
        reason: &str,
    ) -> io::Result<Value> {
        let files = capture(workspace, &self.best())?;
        let manifest = json!({
            "created_at": fsx::utc_now(),
            "iteration": iteration,
            "score": score,
            "reason": reason,
            "checkpoint_path": self.best().to_string_lossy(),
            "manifest_path": self.manifest_path().to_string_lossy(),
            "file_count": files.len(),
            "files": files,
        });
        fsx::write_json(&self.manifest_path(), &manifest)?;
        Ok(manifest)
    }

    /// True when this run captured a checkpoint (the manifest is written last, so a half
    /// capture is not mistaken for one).
    pub fn exists(&self) -> bool {
        self.best().is_dir() && self.manifest_path().is_file()
    }

    /// Restores the best checkpoint into the workspace and returns the restore report.
    pub fn restore(&self, workspace: &Path) -> io::Result<Value> {
        let changed = restore(&self.best(), workspace)?;
        let manifest = fsx::read_json_object(&self.manifest_path())
            .ok()
            .flatten()
            .unwrap_or_default();
        Ok(json!({
            "restored": true,
            "restored_at": fsx::utc_now(),
            "checkpoint_path": self.best().to_string_lossy(),
            "manifest_path": self.manifest_path().to_string_lossy(),
            "restored_file_count": manifest.get("file_count").cloned().unwrap_or(json!(0)),
            "restored_files": manifest.get("files").cloned().unwrap_or(json!([])),
            "changed_path_count": changed,
            "iteration": manifest.get("iteration").cloned().unwrap_or(Value::Null),
            "score": manifest.get("score").cloned().unwrap_or(Value::Null),
            "reason": manifest.get("reason").cloned().unwrap_or(Value::Null),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_changes_only_task_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, snap) = (dir.path().join("ws"), dir.path().join("snap"));
        fs::create_dir_all(ws.join(".git")).unwrap();
        fs::create_dir_all(ws.join("src")).unwrap();
        fs::write(ws.join(".git/HEAD"), "ref").unwrap();
        fs::write(ws.join("src/a.txt"), "one").unwrap();
        capture(&ws, &snap).unwrap();
        assert!(!snap.join(".git").exists());
        fs::write(ws.join("src/a.txt"), "two").unwrap();
        fs::write(ws.join("new.txt"), "x").unwrap();
        fs::write(ws.join(".git/HEAD"), "moved").unwrap();
        assert_eq!(restore(&snap, &ws).unwrap(), 2);
        assert_eq!(fs::read_to_string(ws.join("src/a.txt")).unwrap(), "one");
        assert!(!ws.join("new.txt").exists());
        assert_eq!(fs::read_to_string(ws.join(".git/HEAD")).unwrap(), "moved");
        assert_eq!(restore(&snap, &ws).unwrap(), 0);
    }
}
