//! The run configuration: every `harnessgym run` setting, validated with one clear sentence per problem.

use crate::fsx::Object;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem; the message is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Runner backends, spelled as on the command line.
pub const RUNNERS: &[&str] = &["exec", "claude", "tui-goal", "fake"];

/// `continue` carries the workspace over between iterations; `reset` restores the initial task files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Continue,
    Reset,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Continue => "continue",
            TaskState::Reset => "reset",
        }
    }
}

/// How much the reflection/build prompts push for deep tooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HarnessDepth {
    Standard,
    Deep,
}

impl HarnessDepth {
    pub fn as_str(self) -> &'static str {
        match self {
            HarnessDepth::Standard => "standard",
            HarnessDepth::Deep => "deep",
        }
    }
}

/// A validated run configuration. Field names follow `run_config.json`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub workspace: PathBuf,
    pub task_text: String,
    pub task_path: Option<PathBuf>,
    pub iterations: u32,
    pub attempt_timeout: Duration,
    pub attempt_timeout_schedule: Vec<Duration>,
    pub build_timeout: Duration,
    pub reflection_timeout: Duration,
    pub runner: String,
    pub codex_bin: String,
    pub claude_bin: String,
    pub claude_model: Option<String>,
    pub claude_permission_mode: String,
    pub claude_max_budget_usd: Option<f64>,
    pub claude_extra_args: Vec<String>,
    /// Extra arguments for every `codex exec` (e.g. a model provider), after ours.
    pub codex_extra_args: Vec<String>,
    pub run_id: Option<String>,
    pub build_after_solve: bool,
    pub stop_score: Option<f64>,
    pub score_key: String,
    pub higher_is_better: bool,
    pub task_state: TaskState,
    pub attempt_only: bool,
    pub harness_depth: HarnessDepth,
    pub post_attempt_command: Option<String>,
    pub post_attempt_score_key: Option<String>,
    pub post_attempt_timeout: Duration,
    pub optimization_mode: bool,
    pub restore_best: bool,
    pub qualify_artifacts: bool,
    pub artifact_repair_attempts: u32,
    /// Scenario for the fake runner (`--fake-script`), if any.
    pub fake_script: Option<PathBuf>,
}

/// Raw values as they come from the command line, before validation. Defaults match the original.
#[derive(Debug, Clone)]
pub struct RunValues {
    pub workspace: PathBuf,
    pub task: Option<String>,
    pub task_text: Option<String>,
    pub iterations: i64,
    pub attempt_timeout: String,
    pub attempt_timeouts: Option<String>,
    pub build_timeout: String,
    pub reflection_timeout: Option<String>,
    pub runner: String,
    pub codex_bin: String,
    pub claude_bin: String,
    pub claude_model: Option<String>,
    pub claude_permission_mode: String,
    pub claude_max_budget_usd: Option<f64>,
    pub claude_extra_args: Vec<String>,
    pub codex_extra_args: Vec<String>,
    pub run_id: Option<String>,
    pub build_after_solve: bool,
    pub stop_score: Option<f64>,
    pub score_key: String,
    pub higher_is_better: bool,
    pub task_state: String,
    pub attempt_only: bool,
    pub harness_depth: String,
    pub post_attempt_command: Option<String>,
    pub post_attempt_score_key: Option<String>,
    pub post_attempt_timeout: String,
    pub optimization_mode: bool,
    pub restore_best: bool,
    pub qualify_artifacts: bool,
    pub artifact_repair_attempts: i64,
    pub fake_script: Option<PathBuf>,
}

impl Default for RunValues {
    fn default() -> Self {
        RunValues {
            workspace: PathBuf::from("."),
            task: None,
            task_text: None,
            iterations: 3,
            attempt_timeout: "45m".into(),
            attempt_timeouts: None,
            build_timeout: "20m".into(),
            reflection_timeout: None,
            runner: "exec".into(),
            codex_bin: "codex".into(),
            claude_bin: "claude".into(),
            claude_model: None,
            claude_permission_mode: "bypassPermissions".into(),
            claude_max_budget_usd: None,
            claude_extra_args: Vec::new(),
            codex_extra_args: Vec::new(),
            run_id: None,
            build_after_solve: false,
            stop_score: None,
            score_key: "score".into(),
            higher_is_better: false,
            task_state: "continue".into(),
            attempt_only: false,
            harness_depth: "deep".into(),
            post_attempt_command: None,
            post_attempt_score_key: None,
            post_attempt_timeout: "2m".into(),
            optimization_mode: false,
            restore_best: true,
            qualify_artifacts: true,
            artifact_repair_attempts: 1,
            fake_script: None,
        }
    }
}

impl RunConfig {
    /// Validates raw values in the original's order; `cwd` resolves relative paths.
    pub fn from_values(v: RunValues, cwd: &Path) -> Result<RunConfig, ConfigError> {
        if !RUNNERS.contains(&v.runner.as_str()) {
            return err(format!("runner must be one of: {}", RUNNERS.join(", ")));
        }
        let task_state = match v.task_state.as_str() {
            "continue" => TaskState::Continue,
            "reset" => TaskState::Reset,
            _ => return err("task_state must be one of: continue, reset"),
        };
        let harness_depth = match v.harness_depth.as_str() {
            "standard" => HarnessDepth::Standard,
            "deep" => HarnessDepth::Deep,
            _ => return err("harness_depth must be one of: standard, deep"),
        };
        if v.iterations <= 0 {
            return err("iterations must be positive");
        }
        let iterations = u32::try_from(v.iterations)
            .map_err(|_| ConfigError("iterations is too large".into()))?;
        if v.artifact_repair_attempts < 0 {
            return err("artifact_repair_attempts cannot be negative");
        }
        let artifact_repair_attempts = u32::try_from(v.artifact_repair_attempts)
            .map_err(|_| ConfigError("artifact_repair_attempts is too large".into()))?;
        for (name, value) in [
            ("stop_score", v.stop_score),
            ("claude_max_budget_usd", v.claude_max_budget_usd),
        ] {
            if value.is_some_and(|x| !x.is_finite()) {
                return err(format!("{name} must be a finite number"));
            }
        }
        if v.score_key.trim().is_empty() {
            return err("score_key cannot be empty");
        }

        // A typo in --workspace should not silently create a new directory somewhere.
        let workspace = absolute(cwd, &v.workspace);
        if !workspace.is_dir() {
            return err(format!(
                "workspace {} does not exist or is not a directory",
                workspace.display()
            ));
        }
        let workspace = workspace.canonicalize().unwrap_or(workspace);

        let task_path = match v.task.as_deref().filter(|t| !t.is_empty()) {
            Some(task) => Some(resolve_task_path(task, cwd, &workspace)?),
            None => None,
        };
        let task_text = match (v.task_text, &task_path) {
            (Some(text), _) => text,
            (None, Some(path)) => read_task(path)?,
            (None, None) => return err("provide either task text or a task file"),
        };
        if task_text.trim().is_empty() {
            return err("task text cannot be empty");
        }

        let attempt_timeout = parse_duration(&v.attempt_timeout)?;
        let attempt_timeout_schedule = match &v.attempt_timeouts {
            Some(list) => parse_schedule(list)?,
            None => Vec::new(),
        };
        let build_timeout = parse_duration(&v.build_timeout)?;
        let reflection_timeout = match &v.reflection_timeout {
            Some(text) => parse_duration(text)?,
            None => build_timeout,
        };
        let post_attempt_timeout = parse_duration(&v.post_attempt_timeout)?;
        if let Some(id) = &v.run_id {
            validate_run_id(id)?;
        }
        let fake_script = v.fake_script.map(|p| absolute(cwd, &p));
        if let Some(script) = &fake_script {
            if v.runner != "fake" {
                return err("--fake-script needs --runner fake");
            }
            if !script.is_file() {
                return err(format!("fake script {} does not exist", script.display()));
            }
        }

        Ok(RunConfig {
            workspace,
            task_text,
            task_path,
            iterations,
            attempt_timeout,
            attempt_timeout_schedule,
            build_timeout,
            reflection_timeout,
            runner: v.runner,
            codex_bin: v.codex_bin,
            claude_bin: v.claude_bin,
            claude_model: v.claude_model,
            claude_permission_mode: v.claude_permission_mode,
            claude_max_budget_usd: v.claude_max_budget_usd,
            claude_extra_args: v.claude_extra_args,
            codex_extra_args: v.codex_extra_args,
            run_id: v.run_id,
            build_after_solve: v.build_after_solve,
            stop_score: v.stop_score,
            score_key: v.score_key,
            higher_is_better: v.higher_is_better,
            task_state,
            attempt_only: v.attempt_only,
            harness_depth,
            post_attempt_command: v.post_attempt_command.filter(|c| !c.trim().is_empty()),
            post_attempt_score_key: v.post_attempt_score_key,
            post_attempt_timeout,
            optimization_mode: v.optimization_mode,
            restore_best: v.restore_best,
            qualify_artifacts: v.qualify_artifacts,
            artifact_repair_attempts,
            fake_script,
        })
    }

    /// The attempt timeout of iteration `n` (1-based): the schedule's entry, the last one repeating.
    pub fn attempt_timeout_for(&self, n: u32) -> Duration {
        let schedule = &self.attempt_timeout_schedule;
        match schedule.len() {
            0 => self.attempt_timeout,
            len => schedule[(n as usize - 1).min(len - 1)],
        }
    }

    /// The key read from the post command's JSON.
    pub fn post_score_key(&self) -> &str {
        self.post_attempt_score_key
            .as_deref()
            .unwrap_or(&self.score_key)
    }

    /// "Claude Code" for the claude runner, "Codex" for the Codex runners, "the agent" for the fake one.
    pub fn agent_name(&self) -> &'static str {
        match self.runner.as_str() {
            "claude" => "Claude Code",
            _ => "Codex",
        }
    }

    /// `run_config.json`: the original's 29 keys (the score key already resolved), plus ours.
    pub fn to_json(&self, run_id: &str) -> Value {
        let mut map = Object::new();
        let put = |map: &mut Object, k: &str, v: Value| {
            map.insert(k.to_string(), v);
        };
        put(&mut map, "run_id", json!(run_id));
        put(
            &mut map,
            "workspace",
            json!(self.workspace.to_string_lossy()),
        );
        put(
            &mut map,
            "task_path",
            json!(self.task_path.as_ref().map(|p| p.to_string_lossy())),
        );
        put(&mut map, "iterations", json!(self.iterations));
        put(
            &mut map,
            "attempt_timeout_seconds",
            seconds(self.attempt_timeout),
        );
        put(
            &mut map,
            "attempt_timeout_schedule_seconds",
            Value::Array(
                self.attempt_timeout_schedule
                    .iter()
                    .map(|d| seconds(*d))
                    .collect(),
            ),
        );
        put(
            &mut map,
            "build_timeout_seconds",
            seconds(self.build_timeout),
        );
        put(
            &mut map,
            "reflection_timeout_seconds",
            seconds(self.reflection_timeout),
        );
        put(&mut map, "runner", json!(self.runner));
        put(&mut map, "codex_bin", json!(self.codex_bin));
        put(&mut map, "claude_bin", json!(self.claude_bin));
        put(&mut map, "claude_model", json!(self.claude_model));
        put(
            &mut map,
            "claude_permission_mode",
            json!(self.claude_permission_mode),
        );
        put(
            &mut map,
            "claude_max_budget_usd",
            json!(self.claude_max_budget_usd),
        );
        put(&mut map, "claude_extra_args", json!(self.claude_extra_args));
        put(&mut map, "codex_extra_args", json!(self.codex_extra_args));
        put(&mut map, "build_after_solve", json!(self.build_after_solve));
        put(&mut map, "stop_score", json!(self.stop_score));
        put(&mut map, "score_key", json!(self.score_key));
        put(&mut map, "higher_is_better", json!(self.higher_is_better));
        put(&mut map, "task_state", json!(self.task_state.as_str()));
        put(&mut map, "attempt_only", json!(self.attempt_only));
        put(
            &mut map,
            "harness_depth",
            json!(self.harness_depth.as_str()),
        );
        put(
            &mut map,
            "post_attempt_command",
            json!(self.post_attempt_command),
        );
        put(
            &mut map,
            "post_attempt_score_key",
            json!(self.post_score_key()),
        );
        put(
            &mut map,
            "post_attempt_timeout_seconds",
            seconds(self.post_attempt_timeout),
        );
        put(&mut map, "optimization_mode", json!(self.optimization_mode));
        put(&mut map, "restore_best", json!(self.restore_best));
        put(&mut map, "qualify_artifacts", json!(self.qualify_artifacts));
        put(
            &mut map,
            "artifact_repair_attempts",
            json!(self.artifact_repair_attempts),
        );
        // Inline task text is kept so `--resume` can continue the run; a task file is re-read.
        put(
            &mut map,
            "task_text",
            json!(self.task_path.is_none().then_some(&self.task_text)),
        );
        put(
            &mut map,
            "fake_script",
            json!(self.fake_script.as_ref().map(|p| p.to_string_lossy())),
        );
        put(
            &mut map,
            "tool",
            json!({"name": "harnessgym-rs", "version": env!("CARGO_PKG_VERSION")}),
        );
        Value::Object(map)
    }
}

/// Rebuilds the values of an earlier run from its `run_config.json` (for `--resume`).
pub fn values_from_json(map: &Object) -> Result<RunValues, ConfigError> {
    let s = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    let b = |k: &str, d: bool| map.get(k).and_then(Value::as_bool).unwrap_or(d);
    let f = |k: &str| map.get(k).and_then(Value::as_f64);
    let dur = |k: &str| f(k).map(format_seconds);
    let defaults = RunValues::default();
    Ok(RunValues {
        workspace: s("workspace")
            .map(PathBuf::from)
            .ok_or_else(|| ConfigError("run_config.json has no workspace".into()))?,
        task: s("task_path"),
        task_text: None,
        iterations: map
            .get("iterations")
            .and_then(Value::as_i64)
            .unwrap_or(defaults.iterations),
        attempt_timeout: dur("attempt_timeout_seconds").unwrap_or(defaults.attempt_timeout),
        attempt_timeouts: map
            .get("attempt_timeout_schedule_seconds")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_f64)
                    .map(format_seconds)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        build_timeout: dur("build_timeout_seconds").unwrap_or(defaults.build_timeout),
        reflection_timeout: dur("reflection_timeout_seconds"),
        runner: s("runner").unwrap_or(defaults.runner),
        codex_bin: s("codex_bin").unwrap_or(defaults.codex_bin),
        claude_bin: s("claude_bin").unwrap_or(defaults.claude_bin),
        claude_model: s("claude_model"),
        claude_permission_mode: s("claude_permission_mode")
            .unwrap_or(defaults.claude_permission_mode),
        claude_max_budget_usd: f("claude_max_budget_usd"),
        claude_extra_args: map
            .get("claude_extra_args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        codex_extra_args: map
            .get("codex_extra_args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        run_id: s("run_id"),
        build_after_solve: b("build_after_solve", false),
        stop_score: f("stop_score"),
        score_key: s("score_key").unwrap_or(defaults.score_key),
        higher_is_better: b("higher_is_better", false),
        task_state: s("task_state").unwrap_or(defaults.task_state),
        attempt_only: b("attempt_only", false),
        harness_depth: s("harness_depth").unwrap_or(defaults.harness_depth),
        post_attempt_command: s("post_attempt_command"),
        post_attempt_score_key: s("post_attempt_score_key"),
        post_attempt_timeout: dur("post_attempt_timeout_seconds")
            .unwrap_or(defaults.post_attempt_timeout),
        optimization_mode: b("optimization_mode", false),
        restore_best: b("restore_best", true),
        qualify_artifacts: b("qualify_artifacts", true),
        artifact_repair_attempts: map
            .get("artifact_repair_attempts")
            .and_then(Value::as_i64)
            .unwrap_or(1),
        fake_script: s("fake_script").map(PathBuf::from),
    })
}

/// Seconds as JSON: an integer when whole (as the original writes), else a float.
pub fn seconds(d: Duration) -> Value {
    if d.subsec_millis() == 0 {
        json!(d.as_secs())
    } else {
        json!(d.as_secs_f64())
    }
}

fn format_seconds(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}s", secs as u64)
    } else {
        format!("{}ms", (secs * 1000.0).round() as u64)
    }
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Resolves `--task`: absolute as is; relative against the current directory, else the workspace.
/// A name that exists in both places and means different files is refused rather than guessed.
fn resolve_task_path(task: &str, cwd: &Path, workspace: &Path) -> Result<PathBuf, ConfigError> {
    let given = Path::new(task);
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    let in_cwd = cwd.join(given);
    let in_ws = workspace.join(given);
    match (in_cwd.exists(), in_ws.exists()) {
        (true, true) => {
            let (a, b) = (in_cwd.canonicalize().ok(), in_ws.canonicalize().ok());
            if a != b {
                return err(format!(
                    "task file {task} exists both in the current directory and in the workspace; \
                     pass an absolute path to say which one"
                ));
            }
            Ok(a.unwrap_or(in_cwd))
        }
        (true, false) => Ok(in_cwd.canonicalize().unwrap_or(in_cwd)),
        (false, _) => Ok(in_ws),
    }
}

fn read_task(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ConfigError(format!("task file {} does not exist", path.display()))
        } else {
            ConfigError(format!("cannot read task file {}: {e}", path.display()))
        }
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ConfigError(format!("task file {} is not valid UTF-8", path.display())))
}

/// A run id becomes a directory name under `.harnessgym/runs`, so it must be one plain path component.
pub fn validate_run_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        err(format!(
            "invalid run id {id:?}: use letters, digits, '-', '_' and '.' only (no '/', no leading '.')"
        ))
    }
}

/// Parses a duration: `90` (seconds), or units in descending order without repeats,
/// `1d2h30m10s500ms`, each number optionally with a fraction (`1.5h`). Zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    let original = text;
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return err("timeout cannot be empty");
    }
    let invalid = || {
        ConfigError(format!(
            "invalid timeout duration: {original:?} (examples: 90, 45m, 1h30m, 2.5s)"
        ))
    };
    let total_ms: f64 = if let Ok(n) = text.parse::<f64>() {
        if !n.is_finite() || n < 0.0 || text.contains(['e', 'i', 'n']) {
            return Err(invalid());
        }
        n * 1000.0
    } else {
        const UNITS: [(&str, f64); 5] = [
            ("d", 86_400_000.0),
            ("h", 3_600_000.0),
            ("m", 60_000.0),
            ("s", 1000.0),
            ("ms", 1.0),
        ];
        let mut rest = text.as_str();
        let mut next_unit = 0;
        let mut sum = 0.0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let number: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let idx = UNITS
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(invalid)?;
            if idx < next_unit {
                return Err(invalid());
            }
            next_unit = idx + 1;
            sum += number * UNITS[idx].1;
            rest = &rest[unit_len..];
        }
        sum
    };
    if total_ms.round() < 1.0 {
        return err("timeout must be positive");
    }
    Ok(Duration::from_millis(total_ms.round() as u64))
}

/// Parses `--attempt-timeouts "10s,2m"`; empty pieces are dropped.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, ConfigError> {
    let pieces: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if pieces.is_empty() {
        return err("attempt timeout schedule cannot be empty");
    }
    pieces.into_iter().map(parse_duration).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        parse_duration(text).unwrap().as_secs()
    }

    #[test]
    fn durations_parse() {
        assert_eq!(secs("45m"), 2700);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("2m10s"), 130);
        assert_eq!(secs("90"), 90);
        assert_eq!(secs("90S"), 90);
        assert_eq!(secs("1.5h"), 5400);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn durations_reject_bad_forms() {
        for bad in [
            "", "abc", "1x", "1m 2s", "-1", "0", "0s", "5s1h", "1m1m", "nan", "inf", "1e3",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn schedule_drops_empty_pieces_and_repeats_last() {
        let s = parse_schedule("10s,,2m").unwrap();
        assert_eq!(s, vec![Duration::from_secs(10), Duration::from_secs(120)]);
        assert!(parse_schedule(",").is_err());
    }

    #[test]
    fn run_ids_are_single_components() {
        assert!(validate_run_id("20261124T132518Z-a4f7b3db").is_ok());
        for bad in ["../x", "a/b", "..", "", ".hidden", "a b"] {
            assert!(validate_run_id(bad).is_err(), "{bad:?}");
        }
    }
}
