//! Fixture builders for the index tests: run trees written by hand, in both tools' shapes.
#![allow(dead_code)]

use harnessgym_index::{Filter, Index};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

pub struct Ws {
    pub dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".harnessgym/runs")).unwrap();
        Ws { dir }
    }
    pub fn path(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap()
    }
    pub fn hg(&self) -> PathBuf {
        self.path().join(".harnessgym")
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.hg().join("runs").join(id)
    }
    /// Writes a file relative to the workspace, creating directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
    pub fn append(&self, rel: &str, content: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.path().join(rel))
            .unwrap();
        f.write_all(content.as_bytes()).unwrap();
    }

    /// A run like ours: run_config with `tool`, result.json + phase files per iteration,
    /// summary.json with `state` (unless `state` is None).
    pub fn our_run(&self, id: &str, statuses: &[&str], state: Option<&str>) {
        let run = format!(".harnessgym/runs/{id}");
        self.write(
            &format!("{run}/run_config.json"),
            json!({"run_id": id, "runner": "fake", "iterations": statuses.len(), "task_path": "/t/task.md",
                   "tool": {"name": "harnessgym-rs", "version": "0.1.0"}, "score_key": "score"})
            .to_string(),
        );
        for (i, status) in statuses.iter().enumerate() {
            let n = i + 1;
            let it = format!("{run}/iterations/{n}");
            self.write(
                &format!("{it}/result.json"),
                json!({"run_id": id, "iteration": n, "status": status, "verified": *status == "solved",
                       "harnessgym_solved": *status == "solved", "metrics": {"score": n * 10},
                       "summary": format!("iteration {n} summary"),
                       "created_at": "2026-11-25T10:00:00+00:00", "updated_at": "2026-11-25T10:01:00+00:00",
                       "phases": {"attempt": {"phase": "attempt", "status": "completed", "return_code": 0,
                                              "timed_out": false, "duration_seconds": 1.5, "session_id": format!("s-{id}")},
                                  "reflection": {"phase": "reflection", "status": "completed", "return_code": 0,
                                                 "timed_out": false, "duration_seconds": 0.5}},
                       "harness_usage": {"mcp_call_count": 2, "active_tool_count": 1}})
                .to_string(),
            );
            self.write(
                &format!("{it}/activation.json"),
                json!({"mcp_servers": [{"artifact_path": ".harnessgym/mcp/probe/mcp.json", "name": "probe",
                        "active": true}], "skills": [], "quarantined_artifacts": [], "warnings": [],
                       "quality_gate": {"status": "passed", "active_mcp_count": 1, "inactive_mcp_count": 0,
                                        "active_tool_count": 1, "warnings": []}})
                .to_string(),
            );
            for phase in ["attempt", "reflection"] {
                for stream in ["prompt", "stdout", "stderr", "transcript"] {
                    self.write(
                        &format!("{it}/{phase}.{stream}.txt"),
                        format!("{phase} {stream} of iteration {n} in {id}\nsecond line mentions kernel_ops\n"),
                    );
                }
            }
        }
        if let Some(state) = state {
            self.write(
                &format!("{run}/summary.json"),
                json!({"run_id": id, "state": state, "final_status": statuses.last().unwrap_or(&"not_started"),
                       "solved": statuses.last() == Some(&"solved"), "best_score": 10, "best_reported_score": 20,
                       "started_at": "2026-11-25T09:59:00+00:00", "errors": [], "iterations": []})
                .to_string(),
            );
        }
    }

    /// Sets the mtime of everything under `rel` to `ago` in the past.
    pub fn age(&self, rel: &str, ago: Duration) {
        let when = SystemTime::now() - ago;
        fn walk(p: &Path, when: SystemTime) {
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path(), when);
                }
            }
            let f = std::fs::File::open(p).unwrap();
            f.set_modified(when).unwrap();
        }
        walk(&self.path().join(rel), when);
    }
}

pub fn db() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("index.sqlite3");
    (d, p)
}

pub fn index(db: &Path, paths: &[PathBuf]) -> (Index, harnessgym_index::Outcome) {
    let mut idx = Index::open(db).unwrap();
    let out = idx.index_paths(paths, &mut |_| {}).unwrap();
    (idx, out)
}

pub fn all() -> Filter {
    Filter::default()
}

pub fn run_filter(run: &str) -> Filter {
    Filter {
        run: Some(run.into()),
        ..Filter::default()
    }
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}
