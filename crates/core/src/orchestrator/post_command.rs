//! The independent check: a shell command run after each attempt (and for the baseline and the
//! restored best) whose JSON verdict decides `verified`.

use crate::cancel::CancelToken;
use crate::config::RunConfig;
use crate::fsx::Object;
use crate::orchestrator::result::{as_score, extract_score};
use crate::runner::process::{self, ProcessError};
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// How much of the end of stdout is searched for the verdict.
const VERDICT_WINDOW: u64 = 4 << 20;
const PASS_WORDS: &[&str] = &["passed", "pass", "ok", "success", "solved"];
/// Boolean keys that, when false, mean the check failed even without a `status`.
const FAIL_FLAGS: &[&str] = &["passed", "pass", "ok", "success", "correct", "valid"];

/// What a post command did.
#[derive(Debug, Clone)]
pub struct PostResult {
    pub command: String,
    /// `completed` (exit 0), `failed`, `timeout`, `cancelled`.
    pub status: String,
    pub return_code: Option<i32>,
    pub timed_out: bool,
    pub duration_seconds: f64,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub json: Option<Object>,
    pub score: Option<f64>,
    pub score_key: String,
    pub passed: bool,
}

impl PostResult {
    pub fn to_json(&self) -> Value {
        json!({
            "command": self.command,
            "status": self.status,
            "return_code": self.return_code,
            "timed_out": self.timed_out,
            "duration_seconds": (self.duration_seconds * 1000.0).round() / 1000.0,
            "stdout_path": self.stdout_path.to_string_lossy(),
            "stderr_path": self.stderr_path.to_string_lossy(),
            "json": self.json,
            "score": self.score,
            "score_key": self.score_key,
            "passed": self.passed,
        })
    }
}

/// Runs the configured command in the workspace, logs to `<log_dir>/<prefix>.{stdout,stderr}.txt`.
pub fn run(
    config: &RunConfig,
    command: &str,
    log_dir: &Path,
    prefix: &str,
    cancel: &CancelToken,
) -> std::io::Result<PostResult> {
    std::fs::create_dir_all(log_dir)?;
    let stdout_path = log_dir.join(format!("{prefix}.stdout.txt"));
    let stderr_path = log_dir.join(format!("{prefix}.stderr.txt"));
    let spec = process::shell(command, &config.workspace, &stdout_path, &stderr_path)
        .timeout(config.post_attempt_timeout);
    let key = config.post_score_key().to_string();
    let (status, return_code, timed_out, duration) = match process::run(&spec, cancel) {
        Ok(o) => {
            let status = if o.cancelled {
                "cancelled"
            } else if o.timed_out {
                "timeout"
            } else if o.exit_code == Some(0) {
                "completed"
            } else {
                "failed"
            };
            (status, o.exit_code, o.timed_out, o.duration.as_secs_f64())
        }
        Err(ProcessError::Io { path, source }) => {
            return Err(std::io::Error::other(format!(
                "{}: {source}",
                path.display()
            )))
        }
        Err(e) => {
            // /bin/sh itself could not start: record it as a failed check, with the reason.
            std::fs::write(&stderr_path, format!("harnessgym: {e}\n"))?;
            ("failed", None, false, 0.0)
        }
    };
    let json = parse_verdict(&stdout_path);
    let score = json.as_ref().and_then(|j| extract_score(j, &key));
    let passed = status == "completed" && json.as_ref().is_some_and(verdict_passes);
    Ok(PostResult {
        command: command.to_string(),
        status: status.to_string(),
        return_code,
        timed_out,
        duration_seconds: duration,
        stdout_path,
        stderr_path,
        json,
        score,
        score_key: key,
        passed,
    })
}

/// The JSON object the command printed: the whole stdout if it is one object, otherwise the last
/// line that is one (so log lines before the verdict do not hide it).
pub fn parse_verdict(stdout: &Path) -> Option<Object> {
    let mut file = std::fs::File::open(stdout).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(VERDICT_WINDOW);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    if start == 0 {
        if let Ok(Value::Object(o)) = serde_json::from_str(text.trim()) {
            return Some(o);
        }
    }
    text.lines()
        .rev()
        .find_map(|line| match serde_json::from_str(line.trim()) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
}

/// A verdict passes when its `status` is a pass word, or when it has no status and no
/// false pass/ok/correct flag. `{"correct": false}` does not pass.
pub fn verdict_passes(json: &Object) -> bool {
    match json.get("status") {
        None | Some(Value::Null) => !FAIL_FLAGS
            .iter()
            .any(|k| json.get(*k) == Some(&Value::Bool(false))),
        Some(Value::String(s)) => PASS_WORDS.contains(&s.to_lowercase().as_str()),
        Some(Value::Bool(b)) => *b,
        Some(_) => false,
    }
}

/// Numeric score of a JSON payload under `key` (for the baseline).
pub fn payload_score(json: &Object, key: &str) -> Option<f64> {
    json.get(key)
        .and_then(as_score)
        .or_else(|| extract_score(json, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn pass_rule() {
        assert!(verdict_passes(&obj(json!({"status": "passed"}))));
        assert!(verdict_passes(&obj(json!({"status": "SOLVED"}))));
        assert!(!verdict_passes(&obj(json!({"status": "failed"}))));
        assert!(verdict_passes(&obj(json!({"score": 3}))));
        assert!(!verdict_passes(&obj(json!({"correct": false}))));
    }

    #[test]
    fn verdict_is_found_after_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.txt");
        std::fs::write(
            &out,
            "compiling...\nrunning 3 cases\n{\"status\": \"passed\", \"score\": 2}\n",
        )
        .unwrap();
        assert_eq!(parse_verdict(&out).unwrap()["score"], json!(2));
        std::fs::write(&out, "all good\n").unwrap();
        assert!(parse_verdict(&out).is_none());
        std::fs::write(&out, "{\n  \"status\": \"passed\"\n}\n").unwrap();
        assert!(parse_verdict(&out).is_some());
    }
}
