//! File-system helpers shared by the loop: atomic JSON writes, tolerant JSON reads,
//! tree copies with the shared exclusion rules, and path containment.

use serde_json::{Map, Value};
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A JSON object, keys sorted (serde_json's default map is a BTreeMap).
pub type Object = Map<String, Value>;

/// Names excluded at any depth from task snapshots, checkpoints and qualification templates.
pub const EXCLUDED_NAMES: &[&str] = &[
    ".agents",
    ".claude",
    ".codex",
    ".git",
    ".harnessgym",
    ".harnessgym_build",
    ".pytest_cache",
    "__pycache__",
];
/// File suffixes excluded from the same copies (build outputs and bytecode).
pub const EXCLUDED_SUFFIXES: &[&str] = &["o", "pyc", "pyo", "so", "dylib"];

/// What went wrong reading a JSON file, with the file named in the message.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
    #[error("{path} is not valid JSON: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("{path} holds JSON {found}, expected an object")]
    NotObject { path: PathBuf, found: &'static str },
}

/// The current UTC time as the original writes it: `2026-11-24T13:25:18+00:00`.
pub fn utc_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// Pretty JSON with 2-space indentation, sorted keys and a trailing newline.
pub fn to_pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always serialise");
    text.push('\n');
    text
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so a reader (or a crash) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = match fs::File::create(&tmp) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                fs::File::create(&tmp)?
            }
            other => other?,
        };
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a JSON value atomically in the on-disk convention (sorted keys, 2 spaces, newline).
pub fn write_json(path: &Path, value: &Value) -> io::Result<()> {
    write_atomic(path, to_pretty(value).as_bytes())
}

/// Like [`write_json`], but leaves the file alone when it already holds exactly this content
/// (a read is much cheaper than a rename that makes the filesystem flush).
pub fn write_json_if_changed(path: &Path, value: &Value) -> io::Result<()> {
    let text = to_pretty(value);
    if fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    write_atomic(path, text.as_bytes())
}

/// Reads a JSON object. A missing file is `Ok(None)`; anything else that is not an object is an error
/// naming the file. Non-finite numbers never appear: serde_json rejects `NaN` tokens.
pub fn read_json_object(path: &Path) -> Result<Option<Object>, JsonFileError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JsonFileError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| JsonFileError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|err| JsonFileError::Malformed {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        other => Err(JsonFileError::NotObject {
            path: path.to_path_buf(),
            found: json_kind(&other),
        }),
    }
}

/// The JSON type name of a value, for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Moves a damaged file aside (`<name>.corrupt-<n>`) so nothing the agent wrote is lost,
/// and returns where it went.
pub fn preserve_damaged(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    for n in 1.. {
        let target = path.with_file_name(format!("{name}.corrupt-{n}"));
        if !target.exists() {
            fs::rename(path, &target)?;
            return Ok(target);
        }
    }
    unreachable!("an unused name always exists")
}

/// True when a workspace-relative path is left out of snapshots, checkpoints and templates:
/// any component with an excluded name, or an excluded suffix on the file name.
pub fn is_excluded(rel: &Path) -> bool {
    let named = rel.components().any(|c| match c {
        Component::Normal(name) => EXCLUDED_NAMES.iter().any(|x| name == *x),
        _ => false,
    });
    named
        || rel
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXCLUDED_SUFFIXES.contains(&e))
}

/// Copies the tree under `src` into `dst` (created), skipping paths for which `skip(rel)` holds.
/// Symlinks are recreated with the same link text, never followed, so a link cannot pull files
/// from outside the tree into the copy. Returns the sorted relative paths of the regular files copied.
pub fn copy_tree(src: &Path, dst: &Path, skip: &dyn Fn(&Path) -> bool) -> io::Result<Vec<String>> {
    let mut files = Vec::new();
    fs::create_dir_all(dst)?;
    copy_dir(src, dst, Path::new(""), skip, &mut files)?;
    files.sort();
    Ok(files)
}

fn copy_dir(
    src_root: &Path,
    dst_root: &Path,
    rel: &Path,
    skip: &dyn Fn(&Path) -> bool,
    files: &mut Vec<String>,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src_root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let child = rel.join(entry.file_name());
        if skip(&child) {
            continue;
        }
        let from = src_root.join(&child);
        let to = dst_root.join(&child);
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = fs::read_link(&from)?;
            let _ = fs::remove_file(&to);
            std::os::unix::fs::symlink(target, &to)?;
        } else if kind.is_dir() {
            fs::create_dir_all(&to)?;
            copy_dir(src_root, dst_root, &child, skip, files)?;
        } else if kind.is_file() {
            fs::copy(&from, &to)?;
            files.push(posix(&child));
        }
    }
    Ok(())
}

/// Removes a file, symlink or directory tree; missing is fine.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// A relative path in POSIX form.
pub fn posix(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins a relative, untrusted path onto `root` and refuses anything that would leave it
/// (absolute paths, `..` escapes). Symlinks are not resolved here; callers that follow links
/// check the canonical path too.
pub fn contained(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(root.join(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_apply_at_any_depth() {
        assert!(is_excluded(Path::new(".git/config")));
        assert!(is_excluded(Path::new("src/__pycache__")));
        assert!(is_excluded(Path::new("lib/native.so")));
        assert!(!is_excluded(Path::new("src/kernel.py")));
    }

    #[test]
    fn containment_refuses_escapes() {
        let root = Path::new("/ws");
        assert_eq!(contained(root, "a/../b"), Some(PathBuf::from("/ws/b")));
        assert_eq!(contained(root, "../etc/passwd"), None);
        assert_eq!(contained(root, "/etc/passwd"), None);
    }

    #[test]
    fn read_json_object_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert!(read_json_object(&path).unwrap().is_none());
        fs::write(&path, "[1,2]").unwrap();
        let err = read_json_object(&path).unwrap_err().to_string();
        assert!(err.contains("an array"), "{err}");
        fs::write(&path, b"{\"a\": \xff}").unwrap();
        assert!(read_json_object(&path)
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        fs::write(&path, "{\"a\": ").unwrap();
        assert!(read_json_object(&path)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }
}
