//! The list of open workspaces, remembered in a small JSON file between starts.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Default, Serialize, Deserialize)]
struct Saved {
    workspaces: Vec<PathBuf>,
}

pub(crate) struct Workspaces {
    file: Option<PathBuf>,
    list: Vec<PathBuf>,
}

impl Workspaces {
    /// The remembered list; a missing or damaged file gives an empty list (a damaged one is
    /// kept aside as `<file>.corrupt` so nothing is lost).
    pub(crate) fn load(file: Option<&Path>) -> Workspaces {
        let list = file
            .and_then(|f| {
                let bytes = std::fs::read(f).ok()?;
                match serde_json::from_slice::<Saved>(&bytes) {
                    Ok(s) => Some(s.workspaces),
                    Err(_) => {
                        let _ = std::fs::rename(f, f.with_extension("json.corrupt"));
                        None
                    }
                }
            })
            .unwrap_or_default();
        Workspaces {
            file: file.map(Path::to_path_buf),
            list,
        }
    }

    pub(crate) fn save(&self) -> Result<(), ApiError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let fail = |e: std::io::Error| {
            ApiError::Internal(format!(
                "cannot remember the workspaces in {}: {e}",
                file.display()
            ))
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let body = serde_json::to_vec_pretty(&Saved {
            workspaces: self.list.clone(),
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(fail)?;
        std::fs::rename(&tmp, file).map_err(fail)
    }

    pub(crate) fn add(&mut self, p: PathBuf) {
        if !self.list.contains(&p) {
            self.list.push(p);
        }
    }

    pub(crate) fn remove(&mut self, p: &Path) -> bool {
        let before = self.list.len();
        self.list.retain(|w| w != p);
        self.list.len() != before
    }

    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        self.list.clone()
    }

    pub(crate) fn present(&self) -> Vec<PathBuf> {
        self.list.iter().filter(|p| p.is_dir()).cloned().collect()
    }
}

/// An absolute path for a workspace argument; `WS/.harnessgym` means `WS`.
pub(crate) fn normalize(p: &Path) -> Result<PathBuf, ApiError> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .join(p)
    };
    let abs = abs
        .canonicalize()
        .map_err(|e| ApiError::NotFound(format!("{}: {e}", p.display())))?;
    let is_hg = abs.file_name().is_some_and(|n| n == ".harnessgym");
    let ws = if is_hg {
        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
    } else {
        abs
    };
    if !ws.is_dir() {
        return Err(ApiError::BadRequest(format!(
            "{} is not a directory",
            ws.display()
        )));
    }
    Ok(ws)
}

/// True when `ws` (a workspace path from the index) is open, or lies inside an open one.
pub(crate) fn is_open(open: &[PathBuf], ws: &Path) -> bool {
    open.iter().any(|o| ws.starts_with(o))
}

/// `p` with `.` and `..` components resolved without touching the file system.
pub(crate) fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
