//! `.harnessgym/registry.json`: the artifacts the agent built, and their sync from the files.

use crate::fsx::{self, JsonFileError, Object};
use serde_json::{json, Value};
use std::io;
use std::path::{Path, PathBuf};

/// Artifact kinds and their directories under `.harnessgym/`, in the order sync walks them.
pub const KINDS: &[(&str, &str)] = &[
    ("skill", "skills"),
    ("mcp", "mcp"),
    ("tool", "tools"),
    ("verifier", "verifiers"),
    ("fixture", "fixtures"),
    ("test", "tests"),
    ("docs", "docs"),
    ("script", "scripts"),
];

/// File names that mark an MCP server directory.
pub const MCP_MANIFESTS: &[&str] = super::manifest::MANIFEST_NAMES;

/// `<workspace>/.harnessgym`.
pub fn harness_dir(workspace: &Path) -> PathBuf {
    workspace.join(".harnessgym")
}

/// Creates `.harnessgym/runs` and the eight artifact directories.
pub fn ensure_harness_dirs(workspace: &Path) -> io::Result<PathBuf> {
    let hg = harness_dir(workspace);
    std::fs::create_dir_all(hg.join("runs"))?;
    for (_, dir) in KINDS {
        std::fs::create_dir_all(hg.join(dir))?;
    }
    Ok(hg)
}

/// One registered artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub id: String,
    pub kind: String,
    pub path: String,
    pub description: String,
    pub iteration: Option<i64>,
    pub created_at: String,
    pub metadata: Object,
}

impl Artifact {
    /// A new artifact with the default id `<kind>:<path>`.
    pub fn new(kind: &str, path: &str, description: &str, iteration: Option<i64>) -> Artifact {
        Artifact {
            id: format!("{kind}:{path}"),
            kind: kind.into(),
            path: path.into(),
            description: description.into(),
            iteration,
            created_at: fsx::utc_now(),
            metadata: Object::new(),
        }
    }

    /// Reads one entry; unknown keys are folded into `metadata` as the original does.
    fn from_json(value: &Value, index: usize) -> Result<Artifact, String> {
        let map = value
            .as_object()
            .ok_or_else(|| format!("artifact {index} is not an object"))?;
        let text = |k: &str| -> Option<String> {
            match map.get(k)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let kind = text("kind").ok_or_else(|| format!("artifact {index} has no kind"))?;
        let path = text("path").ok_or_else(|| format!("artifact {index} has no path"))?;
        let mut metadata = Object::new();
        for (k, v) in map {
            if ![
                "id",
                "kind",
                "path",
                "description",
                "iteration",
                "created_at",
                "metadata",
            ]
            .contains(&k.as_str())
            {
                metadata.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Object(explicit)) = map.get("metadata") {
            metadata.extend(explicit.clone());
        }
        Ok(Artifact {
            id: text("id")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("{kind}:{path}")),
            description: text("description").unwrap_or_default(),
            iteration: map.get("iteration").and_then(Value::as_i64),
            created_at: text("created_at").unwrap_or_else(fsx::utc_now),
            metadata,
            kind,
            path,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "kind": self.kind, "path": self.path, "description": self.description,
            "iteration": self.iteration, "created_at": self.created_at, "metadata": self.metadata,
        })
    }

    /// Quarantined: `metadata.quarantine.status == "quarantined"` or a truthy `metadata.quarantined`.
    pub fn is_quarantined(&self) -> bool {
        let flagged = match self.metadata.get("quarantined") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(_) => true,
        };
        flagged
            || self
                .metadata
                .get("quarantine")
                .and_then(|q| q.get("status"))
                .and_then(Value::as_str)
                == Some("quarantined")
    }
}

/// The registry file's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub version: i64,
    pub updated_at: String,
    pub artifacts: Vec<Artifact>,
    pub metadata: Object,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            version: 1,
            updated_at: fsx::utc_now(),
            artifacts: Vec::new(),
            metadata: Object::new(),
        }
    }
}

/// Why a registry could not be loaded; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    File(#[from] JsonFileError),
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
}

impl Registry {
    pub fn path(workspace: &Path) -> PathBuf {
        harness_dir(workspace).join("registry.json")
    }

    /// Loads the registry; a missing file is an empty registry.
    pub fn load(workspace: &Path) -> Result<Registry, RegistryError> {
        let path = Registry::path(workspace);
        let Some(map) = fsx::read_json_object(&path)? else {
            return Ok(Registry::default());
        };
        let shape = |message: String| RegistryError::Shape {
            path: path.clone(),
            message,
        };
        let artifacts = match map.get("artifacts") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Artifact::from_json(v, i))
                .collect::<Result<_, _>>()
                .map_err(shape)?,
            Some(other) => {
                return Err(shape(format!(
                    "artifacts is {}, expected an array",
                    fsx::json_kind(other)
                )))
            }
        };
        Ok(Registry {
            version: map.get("version").and_then(Value::as_i64).unwrap_or(1),
            updated_at: map
                .get("updated_at")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(fsx::utc_now),
            metadata: map
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            artifacts,
        })
    }

    /// Saves with a fresh `updated_at`, atomically.
    pub fn save(&mut self, workspace: &Path) -> io::Result<()> {
        self.updated_at = fsx::utc_now();
        fsx::write_json(&Registry::path(workspace), &self.to_json())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version,
            "updated_at": self.updated_at,
            "artifacts": self.artifacts.iter().map(Artifact::to_json).collect::<Vec<_>>(),
            "metadata": self.metadata,
        })
    }

    /// Inserts or updates by id: description only when non-empty, iteration only when set.
    pub fn upsert(&mut self, artifact: Artifact) {
        match self.artifacts.iter_mut().find(|a| a.id == artifact.id) {
            Some(existing) => {
                existing.kind = artifact.kind;
                existing.path = artifact.path;
                if !artifact.description.is_empty() {
                    existing.description = artifact.description;
                }
                if artifact.iteration.is_some() {
                    existing.iteration = artifact.iteration;
                }
                existing.metadata.extend(artifact.metadata);
            }
            None => self.artifacts.push(artifact),
        }
    }

    /// Artifacts not quarantined, in registry order.
    pub fn active(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter().filter(|a| !a.is_quarantined())
    }

    /// Registers files found under the artifact directories that are not registered yet (with
    /// `iteration`), forgets entries whose files are gone, and saves when anything changed or the
    /// file does not exist yet.
    pub fn sync_from_files(&mut self, workspace: &Path, iteration: Option<i64>) -> io::Result<()> {
        let hg = ensure_harness_dirs(workspace)?;
        let before = self.artifacts.len();
        let mut added = false;
        self.artifacts.retain(|a| {
            fsx::contained(workspace, &a.path).is_some_and(|p| p.symlink_metadata().is_ok())
        });
        for (kind, dir) in KINDS {
            let mut files = Vec::new();
            walk_files(&hg.join(dir), &mut files)?;
            files.sort();
            for file in files {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let wanted = match *kind {
                    "skill" => name == "SKILL.md",
                    "mcp" => MCP_MANIFESTS.contains(&name.as_str()),
                    _ => true,
                };
                if !wanted {
                    continue;
                }
                let rel = fsx::posix(file.strip_prefix(workspace).unwrap_or(&file));
                let id = format!("{kind}:{rel}");
                if self.artifacts.iter().any(|a| a.id == id) {
                    continue;
                }
                let mut artifact = Artifact::new(
                    kind,
                    &rel,
                    &format!("Discovered {kind} artifact at {rel}"),
                    iteration,
                );
                artifact
                    .metadata
                    .insert("source".into(), json!("filesystem-sync"));
                self.artifacts.push(artifact);
                added = true;
            }
        }
        if added || self.artifacts.len() != before || !Registry::path(workspace).exists() {
            self.save(workspace)?;
        }
        Ok(())
    }
}

/// Names sync never registers: hidden files and directories (`.DS_Store`, `.git`, editor
/// swap files) and editor backups (`x~`, `#x#`).
fn ignored_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with('~') || (name.starts_with('#') && name.ends_with('#'))
}

/// Files under `dir` (symlinks to files count), skipping bytecode, `__pycache__`, hidden
/// entries and editor temporaries. Only names below `dir` are looked at, so a workspace that
/// itself lives under a directory named `__pycache__` or `.something` still syncs.
fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "__pycache__" || ignored_name(&name.to_string_lossy()) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk_files(&path, out)?;
        } else if path.is_file() {
            let ext = path.extension().and_then(|e| e.to_str());
            if !matches!(ext, Some("pyc" | "pyo")) {
                out.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_folds_unknown_keys_and_defaults_id() {
        let dir = tempfile::tempdir().unwrap();
        ensure_harness_dirs(dir.path()).unwrap();
        std::fs::write(
            Registry::path(dir.path()),
            r#"{"artifacts": [{"kind": "tool", "path": ".harnessgym/tools/x.py", "name": "x"}]}"#,
        )
        .unwrap();
        let reg = Registry::load(dir.path()).unwrap();
        assert_eq!(reg.artifacts[0].id, "tool:.harnessgym/tools/x.py");
        assert_eq!(reg.artifacts[0].metadata["name"], json!("x"));
    }

    #[test]
    fn sync_discovers_manifests_and_skills_only_and_prunes_missing() {
        let dir = tempfile::tempdir().unwrap();
        let hg = ensure_harness_dirs(dir.path()).unwrap();
        std::fs::create_dir_all(hg.join("skills/s")).unwrap();
        std::fs::write(hg.join("skills/s/SKILL.md"), "x").unwrap();
        std::fs::write(hg.join("skills/s/notes.md"), "x").unwrap();
        std::fs::write(hg.join("tools/a.py"), "x").unwrap();
        let mut reg = Registry::default();
        reg.upsert(Artifact::new(
            "docs",
            ".harnessgym/docs/gone.md",
            "",
            Some(1),
        ));
        reg.sync_from_files(dir.path(), Some(2)).unwrap();
        let ids: Vec<_> = reg.artifacts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "skill:.harnessgym/skills/s/SKILL.md",
                "tool:.harnessgym/tools/a.py"
            ]
        );
        assert_eq!(reg.artifacts[1].iteration, Some(2));
    }

    #[test]
    fn bad_artifacts_are_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        ensure_harness_dirs(dir.path()).unwrap();
        std::fs::write(
            Registry::path(dir.path()),
            r#"{"artifacts": [{"path": "x"}]}"#,
        )
        .unwrap();
        let err = Registry::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no kind"), "{err}");
    }
}
