//! Reading the run files the index does not hold: JSON documents and directory listings.

use crate::types::FileEntry;
use serde_json::Value;
use std::path::Path;

/// Largest JSON document read whole (result.json, activation reports, registry).
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// The parsed document, or `None` when absent, too large or damaged (the index records why).
pub(crate) fn read_json(path: &Path) -> Option<Value> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_JSON_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every regular file under `dir`, sorted by relative path, with phase and stream when the
/// name is `<phase>.<stream>.txt`.
pub(crate) fn list(dir: &Path) -> Vec<FileEntry> {
    let mut out = Vec::new();
    walk(dir, "", &mut out, 0);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<FileEntry>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        // Symlinks are listed as files only when they point at files; never followed as dirs.
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if depth < 4 {
                walk(&e.path(), &rel, out, depth + 1);
            }
            continue;
        }
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let (phase, stream) = phase_stream(&rel);
        out.push(FileEntry {
            name: rel,
            path: e.path().to_string_lossy().into_owned(),
            size: meta.len(),
            phase,
            stream,
        });
    }
}

fn phase_stream(rel: &str) -> (Option<String>, Option<String>) {
    let Some(stem) = rel.strip_suffix(".txt") else {
        return (None, None);
    };
    let Some((phase, stream)) = stem.rsplit_once('.') else {
        return (None, None);
    };
    if matches!(stream, "prompt" | "stdout" | "stderr" | "transcript") {
        (Some(phase.to_string()), Some(stream.to_string()))
    } else {
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::phase_stream;

    #[test]
    fn phase_files_are_recognised() {
        assert_eq!(
            phase_stream("repair_1/build.stdout.txt"),
            (Some("repair_1/build".into()), Some("stdout".into()))
        );
        assert_eq!(
            phase_stream("post_attempt.stderr.txt"),
            (Some("post_attempt".into()), Some("stderr".into()))
        );
        assert_eq!(phase_stream("result.json"), (None, None));
        assert_eq!(phase_stream("notes.txt"), (None, None));
    }
}
