//! The compare configuration: the original's flags and defaults (spec/harness.md §7.1), checked
//! before anything is written, with one clear sentence per problem.
//!
//! Differences from the original, all fixes: the artifact source is validated up front (it must
//! hold artifacts, and its registry must be readable); a relative `--task` is looked up in the
//! template first (the current directory second, and a name found in both places meaning
//! different files is refused); the output directory may not lie inside the template; a fake
//! scenario is checked before the first trial.

use super::{Group, TrialKey};
use crate::config::{self, ConfigError, RunConfig, RunValues, RUNNERS};
use crate::harness::registry::{Registry, KINDS};
use crate::runner::fake::FakeScript;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Raw compare settings as given on the command line (or stored in the report for `--resume`).
/// Defaults are the original's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareValues {
    pub workspace_template: Option<PathBuf>,
    pub output_dir: PathBuf,
    pub task: Option<String>,
    pub task_text: Option<String>,
    pub artifact_source: Option<PathBuf>,
    pub trials: i64,
    pub iterations: i64,
    pub attempt_timeout: String,
    pub attempt_timeouts: Option<String>,
    pub build_timeout: String,
    pub reflection_timeout: String,
    pub runner: String,
    pub codex_bin: String,
    pub claude_bin: String,
    pub claude_model: Option<String>,
    pub claude_permission_mode: String,
    pub claude_max_budget_usd: Option<f64>,
    pub claude_extra_args: Vec<String>,
    pub codex_extra_args: Vec<String>,
    pub stop_score: Option<f64>,
    pub score_key: String,
    pub higher_is_better: bool,
    pub task_state: String,
    pub build_after_solve: bool,
    pub post_command: Option<String>,
    pub post_score_key: String,
    pub post_timeout: String,
    pub require_active_harness: bool,
    pub require_harness_tool_use: bool,
    pub fake_script: Option<PathBuf>,
}

impl Default for CompareValues {
    fn default() -> Self {
        CompareValues {
            workspace_template: None,
            output_dir: PathBuf::new(),
            task: None,
            task_text: None,
            artifact_source: None,
            trials: 1,
            iterations: 1,
            attempt_timeout: "5m".into(),
            attempt_timeouts: None,
            build_timeout: "1s".into(),
            reflection_timeout: "1s".into(),
            runner: "exec".into(),
            codex_bin: "codex".into(),
            claude_bin: "claude".into(),
            claude_model: None,
            claude_permission_mode: "bypassPermissions".into(),
            claude_max_budget_usd: None,
            claude_extra_args: Vec::new(),
            codex_extra_args: Vec::new(),
            stop_score: None,
            score_key: "score".into(),
            higher_is_better: false,
            task_state: "reset".into(),
            build_after_solve: false,
            post_command: None,
            post_score_key: "score".into(),
            post_timeout: "2m".into(),
            require_active_harness: true,
            require_harness_tool_use: false,
            fake_script: None,
        }
    }
}

/// Where the task comes from, as each trial sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskSource {
    /// Inline text (`--task-text`).
    Text(String),
    /// A file of the template, at this relative path: each trial reads its own copy.
    TemplateFile(PathBuf),
    /// A file outside the template, read where it is.
    ExternalFile(PathBuf),
}

/// The fake runner's scenario for each trial.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeScenario {
    /// No scenario: the built-in demo.
    None,
    /// One `--fake-script` file for every trial.
    Same(PathBuf),
    /// Per arm and trial: `{"plain": {"1": SCRIPT, "default": SCRIPT}, "harnessed": {…}}`, each
    /// SCRIPT a fake-runner scenario (`{"iterations": …}`). Missing entries run the demo.
    PerTrial(BTreeMap<String, BTreeMap<String, Value>>),
}

impl FakeScenario {
    /// The scenario of one trial: a file to pass as `--fake-script`, or a script to write first.
    pub fn for_trial(&self, key: TrialKey) -> TrialScript {
        match self {
            FakeScenario::None => TrialScript::None,
            FakeScenario::Same(path) => TrialScript::File(path.clone()),
            FakeScenario::PerTrial(arms) => arms
                .get(key.group.as_str())
                .and_then(|t| t.get(&key.index.to_string()).or_else(|| t.get("default")))
                .map_or(TrialScript::None, |v| TrialScript::Inline(v.clone())),
        }
    }
}

/// One trial's fake scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialScript {
    None,
    File(PathBuf),
    Inline(Value),
}

/// A validated compare configuration.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The values as normalised (absolute paths): what the report stores for `--resume`.
    pub values: CompareValues,
    pub workspace_template: PathBuf,
    pub output_dir: PathBuf,
    pub task: TaskSource,
    /// The text the trials start from (to hash for the fairness check).
    pub task_text: String,
    /// `--artifact-source` as given (resolved).
    pub artifact_source: Option<PathBuf>,
    /// The `.harnessgym` directory the artifacts come from.
    pub harness_dir: Option<PathBuf>,
    pub trials: u32,
    pub iterations: u32,
    pub post_timeout: Duration,
    pub attempt_timeout: Duration,
    pub attempt_timeout_schedule: Vec<Duration>,
    pub fake: FakeScenario,
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    let p = expand_home(p);
    if p.is_absolute() {
        p
    } else {
        cwd.join(p)
    }
}

fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest))
            .unwrap_or_else(|| p.to_path_buf()),
        Err(_) => p.to_path_buf(),
    }
}

impl CompareConfig {
    /// Validates raw values; `cwd` resolves relative paths. Nothing is written.
    pub fn from_values(v: CompareValues, cwd: &Path) -> Result<CompareConfig, ConfigError> {
        if v.trials <= 0 {
            return err("trials must be positive");
        }
        if v.iterations <= 0 {
            return err("iterations must be positive");
        }
        let trials =
            u32::try_from(v.trials).map_err(|_| ConfigError("trials is too large".into()))?;
        let iterations = u32::try_from(v.iterations)
            .map_err(|_| ConfigError("iterations is too large".into()))?;
        if !RUNNERS.contains(&v.runner.as_str()) {
            return err(format!("runner must be one of: {}", RUNNERS.join(", ")));
        }
        if !matches!(v.task_state.as_str(), "continue" | "reset") {
            return err("task_state must be one of: continue, reset");
        }
        if v.score_key.trim().is_empty() {
            return err("score_key cannot be empty");
        }
        if v.post_score_key.trim().is_empty() {
            return err("post_score_key cannot be empty");
        }
        let template = match &v.workspace_template {
            Some(t) => absolute(cwd, t),
            None => return err("provide --workspace-template DIR"),
        };
        if !template.is_dir() {
            return err(format!(
                "workspace template {} does not exist or is not a directory",
                template.display()
            ));
        }
        let template = template.canonicalize().unwrap_or(template);
        if v.output_dir.as_os_str().is_empty() {
            return err("provide --output-dir DIR");
        }
        let output_dir = crate::harness::paths::normalize(&absolute(cwd, &v.output_dir));
        let output_real = real_prefix(&output_dir);
        if output_real.starts_with(&template) {
            return err(format!(
                "output directory {} is inside the workspace template {}; every trial would copy the earlier trials",
                output_dir.display(),
                template.display()
            ));
        }

        // The artifact source: resolved and checked now, not at the first harnessed trial.
        let (artifact_source, harness_dir) = match &v.artifact_source {
            None => (None, None),
            Some(p) => {
                let source = absolute(cwd, p);
                if !source.exists() {
                    return err(format!(
                        "artifact source {} does not exist",
                        source.display()
                    ));
                }
                let source = source.canonicalize().unwrap_or(source);
                let hg = resolve_harness_dir(&source)?;
                check_artifact_source(&hg)?;
                (Some(source), Some(hg))
            }
        };

        // The task.
        let (task, task_text) = match (&v.task, &v.task_text) {
            (Some(_), Some(_)) => return err("give either --task or --task-text, not both"),
            (None, None) => return err("provide --task FILE or --task-text TEXT"),
            (None, Some(text)) => (TaskSource::Text(text.clone()), text.clone()),
            (Some(task), None) => {
                let source = resolve_task(task, cwd, &template)?;
                let path = match &source {
                    TaskSource::TemplateFile(rel) => template.join(rel),
                    TaskSource::ExternalFile(p) => p.clone(),
                    TaskSource::Text(_) => unreachable!("a task file"),
                };
                (source, read_task(&path)?)
            }
        };
        if task_text.trim().is_empty() {
            return err("task text cannot be empty");
        }

        let attempt_timeout = config::parse_duration(&v.attempt_timeout)?;
        let attempt_timeout_schedule = match &v.attempt_timeouts {
            Some(list) => config::parse_schedule(list)?,
            None => Vec::new(),
        };
        config::parse_duration(&v.build_timeout)?;
        config::parse_duration(&v.reflection_timeout)?;
        let post_timeout = config::parse_duration(&v.post_timeout)?;
        for (name, value) in [
            ("stop_score", v.stop_score),
            ("claude_max_budget_usd", v.claude_max_budget_usd),
        ] {
            if value.is_some_and(|x| !x.is_finite()) {
                return err(format!("{name} must be a finite number"));
            }
        }

        let fake_script = v.fake_script.as_ref().map(|p| absolute(cwd, p));
        let fake = match &fake_script {
            None => FakeScenario::None,
            Some(_) if v.runner != "fake" => return err("--fake-script needs --runner fake"),
            Some(path) => load_scenario(path)?,
        };

        let mut values = v.clone();
        values.workspace_template = Some(template.clone());
        values.output_dir = output_dir.clone();
        values.artifact_source = artifact_source.clone();
        values.fake_script = fake_script;
        values.task = match &task {
            TaskSource::Text(_) => None,
            TaskSource::TemplateFile(rel) => Some(template.join(rel).to_string_lossy().into()),
            TaskSource::ExternalFile(p) => Some(p.to_string_lossy().into()),
        };
        let config = CompareConfig {
            values,
            workspace_template: template,
            output_dir,
            task,
            task_text,
            artifact_source,
            harness_dir,
            trials,
            iterations,
            post_timeout,
            attempt_timeout,
            attempt_timeout_schedule,
            fake,
        };
        // Every run setting is checked exactly as `run` checks it, on the template itself.
        config.probe_run_config(cwd)?;
        Ok(config)
    }

    /// The configuration stored in the report, to rebuild this one for `--resume`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.values).unwrap_or(Value::Null)
    }

    /// Rebuilds a configuration from a report's `config` object.
    pub fn from_json(value: &Value, cwd: &Path) -> Result<CompareConfig, ConfigError> {
        let values: CompareValues = serde_json::from_value(value.clone())
            .map_err(|e| ConfigError(format!("the report's config is unreadable: {e}")))?;
        CompareConfig::from_values(values, cwd)
    }

    /// The trial keys in schedule order: plain 1, harnessed 1, plain 2, harnessed 2, …
    pub fn schedule(&self) -> Vec<TrialKey> {
        (1..=self.trials)
            .flat_map(|index| {
                [Group::Plain, Group::Harnessed]
                    .into_iter()
                    .map(move |group| TrialKey { group, index })
            })
            .collect()
    }

    /// `<output>/<group>/trial_<i>`.
    pub fn trial_root(&self, key: TrialKey) -> PathBuf {
        self.output_dir
            .join(key.group.as_str())
            .join(format!("trial_{}", key.index))
    }

    /// `<output>/compare_report.json`.
    pub fn report_path(&self) -> PathBuf {
        self.output_dir.join("compare_report.json")
    }

    /// The run values of one trial, in `workspace` (which must exist for validation).
    pub fn run_values(
        &self,
        key: TrialKey,
        workspace: &Path,
        fake_script: Option<PathBuf>,
    ) -> RunValues {
        let v = &self.values;
        let (task, task_text) = match &self.task {
            TaskSource::Text(t) => (None, Some(t.clone())),
            TaskSource::TemplateFile(rel) => {
                (Some(workspace.join(rel).to_string_lossy().into()), None)
            }
            TaskSource::ExternalFile(p) => (Some(p.to_string_lossy().into()), None),
        };
        RunValues {
            workspace: workspace.to_path_buf(),
            task,
            task_text,
            iterations: v.iterations,
            attempt_timeout: v.attempt_timeout.clone(),
            attempt_timeouts: v.attempt_timeouts.clone(),
            build_timeout: v.build_timeout.clone(),
            reflection_timeout: Some(v.reflection_timeout.clone()),
            runner: v.runner.clone(),
            codex_bin: v.codex_bin.clone(),
            claude_bin: v.claude_bin.clone(),
            claude_model: v.claude_model.clone(),
            claude_permission_mode: v.claude_permission_mode.clone(),
            claude_max_budget_usd: v.claude_max_budget_usd,
            claude_extra_args: v.claude_extra_args.clone(),
            codex_extra_args: v.codex_extra_args.clone(),
            run_id: Some(key.run_id()),
            build_after_solve: v.build_after_solve,
            stop_score: v.stop_score,
            score_key: v.score_key.clone(),
            higher_is_better: v.higher_is_better,
            task_state: self.values.task_state.clone(),
            attempt_only: true,
            qualify_artifacts: false,
            fake_script,
            ..RunValues::default()
        }
    }

    /// A run configuration on the template itself: validates every run setting, and serves the
    /// runner preflight. Nothing is written.
    pub fn probe_run_config(&self, cwd: &Path) -> Result<RunConfig, ConfigError> {
        let key = TrialKey {
            group: Group::Plain,
            index: 1,
        };
        let script = match self.fake.for_trial(key) {
            TrialScript::File(p) => Some(p),
            _ => None,
        };
        let mut values = self.run_values(key, &self.workspace_template, script);
        if let TaskSource::TemplateFile(rel) = &self.task {
            values.task = Some(self.workspace_template.join(rel).to_string_lossy().into());
        }
        RunConfig::from_values(values, cwd)
    }
}

/// The existing part of a path, canonicalised, with the rest appended (for containment checks
/// on an output directory that may not exist yet).
fn real_prefix(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

/// The `.harnessgym` directory of an artifact source: the path itself when it is named
/// `.harnessgym`, else `<path>/.harnessgym`.
pub fn resolve_harness_dir(source: &Path) -> Result<PathBuf, ConfigError> {
    if source.file_name().is_some_and(|n| n == ".harnessgym") && source.is_dir() {
        return Ok(source.to_path_buf());
    }
    let nested = source.join(".harnessgym");
    if nested.is_dir() {
        return Ok(nested);
    }
    err(format!(
        "artifact source is not a .harnessgym directory or workspace: {}",
        source.display()
    ))
}

/// An artifact source must hold something to copy, and its registry (if any) must be readable.
fn check_artifact_source(hg: &Path) -> Result<(), ConfigError> {
    let registry = hg.join("registry.json");
    let has_files = KINDS.iter().any(|(_, dir)| has_file(&hg.join(dir), 0));
    if !has_files && !registry.is_file() {
        return err(format!(
            "artifact source {} holds no harness artifacts (no files under {} and no registry.json)",
            hg.display(),
            KINDS
                .iter()
                .map(|(_, d)| format!("{d}/"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if registry.is_file() {
        let workspace = hg.parent().unwrap_or(hg);
        if hg.file_name().is_some_and(|n| n == ".harnessgym") {
            Registry::load(workspace)
                .map_err(|e| ConfigError(format!("artifact source registry is unusable: {e}")))?;
        } else {
            crate::fsx::read_json_object(&registry)
                .map_err(|e| ConfigError(format!("artifact source registry is unusable: {e}")))?;
        }
    }
    Ok(())
}

fn has_file(dir: &Path, depth: u32) -> bool {
    if depth > 32 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        if name == "__pycache__" {
            return false;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => has_file(&e.path(), depth + 1),
            Ok(_) => true,
            Err(_) => false,
        }
    })
}

/// Resolves `--task`. Absolute: as is. Relative: the template's file first, then the current
/// directory's; a name present in both that means different files is refused.
fn resolve_task(task: &str, cwd: &Path, template: &Path) -> Result<TaskSource, ConfigError> {
    let given = expand_home(Path::new(task));
    let classify = |abs: PathBuf| -> TaskSource {
        let real = abs.canonicalize().unwrap_or(abs);
        match real.strip_prefix(template) {
            Ok(rel) if !super::workspace::template_excludes(rel) => {
                TaskSource::TemplateFile(rel.to_path_buf())
            }
            _ => TaskSource::ExternalFile(real),
        }
    };
    if given.is_absolute() {
        if !given.is_file() {
            return err(format!("task file {} does not exist", given.display()));
        }
        return Ok(classify(given));
    }
    let in_template = template.join(&given);
    let in_cwd = cwd.join(&given);
    match (in_template.is_file(), in_cwd.is_file()) {
        (true, true) => {
            if in_template.canonicalize().ok() != in_cwd.canonicalize().ok() {
                return err(format!(
                    "task file {task} exists both in the workspace template and in the current directory; \
                     pass an absolute path to say which one"
                ));
            }
            Ok(classify(in_template))
        }
        (true, false) => Ok(classify(in_template)),
        (false, true) => Ok(classify(in_cwd)),
        (false, false) => err(format!(
            "task file {task} not found in the workspace template {} or the current directory",
            template.display()
        )),
    }
}

fn read_task(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError(format!("cannot read task file {}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| ConfigError(format!("task file {} is not valid UTF-8", path.display())))
}

/// Loads `--fake-script`: a fake-runner scenario for every trial, or per-arm/per-trial scenarios.
/// Every scenario is checked (schema and paths) now, before the first trial.
fn load_scenario(path: &Path) -> Result<FakeScenario, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read fake script {}: {e}", path.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| ConfigError(format!("fake script {} is invalid: {e}", path.display())))?;
    let per_trial = value
        .as_object()
        .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k == "plain" || k == "harnessed"));
    if !per_trial {
        FakeScript::load(path).map_err(ConfigError)?;
        return Ok(FakeScenario::Same(path.to_path_buf()));
    }
    let mut arms = BTreeMap::new();
    for (arm, trials) in value.as_object().into_iter().flatten() {
        let Some(trials) = trials.as_object() else {
            return err(format!(
                "fake script {}: {arm} must map trial numbers (or \"default\") to scenarios",
                path.display()
            ));
        };
        let mut scripts = BTreeMap::new();
        for (trial, script) in trials {
            if trial != "default" && trial.parse::<u32>().map_or(true, |n| n == 0) {
                return err(format!(
                    "fake script {}: {arm} trial key {trial:?} must be a positive number or \"default\"",
                    path.display()
                ));
            }
            check_inline_script(path, &format!("{arm}.{trial}"), script)?;
            scripts.insert(trial.clone(), script.clone());
        }
        arms.insert(arm.clone(), scripts);
    }
    Ok(FakeScenario::PerTrial(arms))
}

/// Checks one inline scenario with the fake runner's own loader (schema and path containment).
fn check_inline_script(path: &Path, at: &str, script: &Value) -> Result<(), ConfigError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let file = std::env::temp_dir().join(format!(
        "harnessgym-scenario-check-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&file, crate::fsx::to_pretty(script))
        .map_err(|e| ConfigError(format!("cannot check fake script {}: {e}", path.display())))?;
    let loaded = FakeScript::load(&file);
    let _ = std::fs::remove_file(&file);
    loaded.map(|_| ()).map_err(|e| {
        ConfigError(e.replace(
            &file.display().to_string(),
            &format!("{} ({at})", path.display()),
        ))
    })
}
