//! One trial: a fresh workspace copy (plus the harness for the harnessed arm), the loop in
//! attempt-only mode, the independent post command, the validity rules (spec/harness.md §7.3,
//! with the fixes of §10 item 21), and `trial.json`, written atomically when the trial ends.
//!
//! Whatever goes wrong inside a trial (a copy error, a runner that cannot start, a HarnessGym
//! error in the loop, even a panic) is recorded on that trial as `error`, which makes it invalid
//! and ranks it worst; the compare goes on. Only an interruption (Ctrl-C) leaves no record, so
//! `--resume` runs the trial again from a fresh copy.

use super::config::{CompareConfig, TaskSource, TrialScript};
use super::report::{
    FailedAttempt, HarnessValidation, IterationRow, McpTelemetry, PostResult, RunnerValidation,
    Trial,
};
use super::workspace;
use super::{CompareEvents, Group, TrialKey};
use crate::cancel::CancelToken;
use crate::config::{seconds, RunConfig};
use crate::fsx::{self, Object};
use crate::harness::activation::McpActivator;
use crate::harness::hash::Sha256;
use crate::orchestrator::post_command::{parse_verdict, verdict_passes};
use crate::orchestrator::result::{extract_score, read_lenient};
use crate::orchestrator::{self, Ending, Progress, RunRequest};
use crate::runner::process::{self, ProcessError};
use crate::runner::Runner;
use serde_json::{json, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Makes the runner of one trial from its run configuration (the CLI's runner selection).
pub type RunnerFactory = dyn Fn(&RunConfig) -> Result<Box<dyn Runner>, String> + Send + Sync;
/// Makes the MCP activator of one trial (the same one `run` uses).
pub type McpFactory = dyn Fn(&CancelToken) -> Box<dyn McpActivator> + Send + Sync;

/// What every trial needs from outside.
#[derive(Clone)]
pub struct TrialEnv {
    pub runner: Arc<RunnerFactory>,
    pub mcp: Arc<McpFactory>,
    /// Shared by every trial: cancelling it ends all running trials' processes.
    pub cancel: CancelToken,
    /// Resolves relative paths in run settings.
    pub cwd: PathBuf,
}

/// How a trial ended.
#[derive(Debug)]
pub enum TrialOutcome {
    /// Recorded: `trial.json` is written (possibly with an `error`).
    Finished(Box<Trial>),
    /// Stopped by cancellation: no record, to be run again on `--resume`.
    Interrupted,
    /// The worker died without a record (the coordinator records the message).
    Lost(String),
}

/// The text of a panic payload.
pub fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// UTC with microseconds, so the order of trials started in the same second is visible.
pub fn now_micros() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Forwards the loop's phase progress, tagged with the trial.
struct TrialProgress<'a> {
    key: TrialKey,
    events: &'a dyn CompareEvents,
}

/// `attempt` in iteration 1, `attempt 2` in iteration 2, …
fn phase_label(iteration: u32, phase: &str) -> String {
    if iteration > 1 {
        format!("{phase} {iteration}")
    } else {
        phase.to_string()
    }
}

impl Progress for TrialProgress<'_> {
    fn phase_started(&self, iteration: u32, phase: &str) {
        self.events
            .trial_phase(self.key, &phase_label(iteration, phase), None, 0.0);
    }
    fn phase_finished(&self, iteration: u32, phase: &str, status: &str, seconds: f64) {
        self.events.trial_phase(
            self.key,
            &phase_label(iteration, phase),
            Some(status),
            seconds,
        );
    }
    fn note(&self, text: &str) {
        self.events.note(&format!(
            "{} {}: {text}",
            self.key.group.as_str(),
            self.key.index
        ));
    }
}

/// A trial record with nothing run yet (status `failed`, as the original says for no results).
pub fn blank_trial(config: &CompareConfig, key: TrialKey) -> Trial {
    let root = config.trial_root(key);
    Trial {
        group: key.group.as_str().into(),
        trial: key.index,
        workspace: root.join("workspace").to_string_lossy().into(),
        run_id: key.run_id(),
        status: "failed".into(),
        runner_validation: RunnerValidation {
            valid: true,
            ..RunnerValidation::default()
        },
        harness_validation: HarnessValidation {
            valid: true,
            ..HarnessValidation::default()
        },
        state: Some("finished".into()),
        schedule_index: Some(key.schedule_index()),
        score_source: Some("agent_reported".into()),
        post_score_source: Some("independent".into()),
        mcp_telemetry: McpTelemetry {
            path: crate::harness::wiring::telemetry_path(&root.join("workspace"))
                .to_string_lossy()
                .into(),
            ..McpTelemetry::default()
        },
        ..Trial::default()
    }
}

/// A trial's workspace, made ahead of its run: the template copy, the harness (harnessed arm)
/// and the fake scenario file. What it received goes into the fairness record.
#[derive(Debug)]
pub struct Prepared {
    /// The fake scenario to run with, or why the workspace could not be made.
    script: Result<Option<PathBuf>, String>,
    fingerprint: BTreeMap<String, Value>,
    copied_artifacts: Vec<String>,
    external_links: Vec<Value>,
    dropped_links: Vec<Value>,
    seconds: f64,
}

/// Makes a trial's workspace (its trial directory must not exist yet). Never panics.
pub fn prepare_trial(config: &CompareConfig, key: TrialKey) -> Prepared {
    let clock = Instant::now();
    let mut p = Prepared {
        script: Ok(None),
        fingerprint: base_fingerprint(config),
        copied_artifacts: Vec::new(),
        external_links: Vec::new(),
        dropped_links: Vec::new(),
        seconds: 0.0,
    };
    let made = catch_unwind(AssertUnwindSafe(|| prepare_into(config, key, &mut p)));
    p.script = match made {
        Ok(Ok(script)) => Ok(script),
        Ok(Err(e)) => Err(format!("preparing the trial workspace failed: {e}")),
        Err(panic) => Err(format!(
            "preparing the trial workspace failed: internal error: {}",
            panic_message(&panic)
        )),
    };
    p.seconds = clock.elapsed().as_secs_f64();
    p
}

fn prepare_into(
    config: &CompareConfig,
    key: TrialKey,
    p: &mut Prepared,
) -> std::io::Result<Option<PathBuf>> {
    let root = config.trial_root(key);
    let ws = root.join("workspace");
    std::fs::create_dir_all(&root)?;
    let copy = workspace::copy_template(&config.workspace_template, &ws)?;
    p.fingerprint
        .insert("template_sha256".into(), json!(copy.fingerprint));
    p.fingerprint
        .insert("template_file_count".into(), json!(copy.files.len()));
    p.external_links = copy.external_links;
    if let (Group::Harnessed, Some(hg)) = (key.group, &config.harness_dir) {
        let (copied, dropped) = workspace::copy_harness(hg, &ws)?;
        p.copied_artifacts = copied;
        p.dropped_links = dropped;
    }
    let script = match config.fake.for_trial(key) {
        TrialScript::None => None,
        TrialScript::File(path) => Some(path),
        TrialScript::Inline(value) => {
            let path = root.join("fake_script.json");
            fsx::write_json(&path, &value)?;
            Some(path)
        }
    };
    if let Some(path) = &script {
        let bytes = std::fs::read(path)?;
        p.fingerprint
            .insert("fake_script_sha256".into(), json!(sha256(&bytes)));
    }
    Ok(script)
}

/// Runs one trial to its record (or to an interruption): prepare, then run. Never panics.
pub fn run_trial(
    config: &CompareConfig,
    key: TrialKey,
    env: &TrialEnv,
    events: &dyn CompareEvents,
) -> TrialOutcome {
    events.trial_phase(key, "prepare", None, 0.0);
    let prepared = prepare_trial(config, key);
    run_prepared(config, key, env, events, prepared, true)
}

/// Runs a prepared trial and writes its `trial.json`. `timings.total_seconds` is the time from
/// here to the record, plus the preparation when `count_prepare` (it did not overlap anything).
pub fn run_prepared(
    config: &CompareConfig,
    key: TrialKey,
    env: &TrialEnv,
    events: &dyn CompareEvents,
    prepared: Prepared,
    count_prepare: bool,
) -> TrialOutcome {
    let started_at = now_micros();
    let clock = Instant::now();
    let prepare_seconds = prepared.seconds;
    let mut trial = blank_trial(config, key);
    trial.started_at = Some(started_at);
    let body = catch_unwind(AssertUnwindSafe(|| {
        let mut t = trial.clone();
        let interrupted = run_body(config, key, env, events, prepared, &mut t);
        (t, interrupted)
    }));
    match body {
        Ok((_, true)) => return TrialOutcome::Interrupted,
        Ok((t, false)) => trial = t,
        Err(panic) => {
            trial.error = format!("internal error: {}", panic_message(&panic));
            finish_validity(config, key, &mut trial);
        }
    }
    trial.finished_at = Some(now_micros());
    let timings = trial.timings.get_or_insert_with(BTreeMap::new);
    let total = clock.elapsed().as_secs_f64() + if count_prepare { prepare_seconds } else { 0.0 };
    let accounted = trial.cumulative_attempt_duration_seconds
        + timings.get("post_seconds").copied().unwrap_or(0.0);
    timings.insert("total_seconds".into(), round6(total));
    timings.insert(
        "overhead_seconds".into(),
        round6((total - accounted).max(0.0)),
    );
    let path = config.trial_root(key).join("trial.json");
    if let Err(e) = std::fs::create_dir_all(config.trial_root(key))
        .and_then(|()| fsx::write_json(&path, &trial.to_value()))
    {
        let message = format!("cannot write {}: {e}", path.display());
        if trial.error.is_empty() {
            trial.error = message;
        } else {
            trial.error = format!("{}; {message}", trial.error);
        }
    }
    TrialOutcome::Finished(Box::new(trial))
}

/// The record of a trial whose worker died without one: the message as its error, and
/// `trial.json` written so `--resume` does not run it again.
pub fn lost_trial(config: &CompareConfig, key: TrialKey, message: &str) -> Trial {
    let mut t = blank_trial(config, key);
    t.error = message.to_string();
    t.finished_at = Some(now_micros());
    if let Some(command) = &config.values.post_command {
        t.post_result = Some(skipped_post(
            config,
            command,
            &config.trial_root(key),
            "the trial's worker died",
        ));
    }
    finish_validity(config, key, &mut t);
    let root = config.trial_root(key);
    let _ = std::fs::create_dir_all(&root)
        .and_then(|()| fsx::write_json(&root.join("trial.json"), &t.to_value()));
    t
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The trial's steps after preparation; returns true when interrupted (nothing to record).
fn run_body(
    config: &CompareConfig,
    key: TrialKey,
    env: &TrialEnv,
    events: &dyn CompareEvents,
    prepared: Prepared,
    t: &mut Trial,
) -> bool {
    let root = config.trial_root(key);
    let ws = root.join("workspace");
    let mut timings = BTreeMap::new();
    let Prepared {
        script: prepared,
        mut fingerprint,
        copied_artifacts,
        external_links,
        dropped_links,
        seconds: prepare_seconds,
    } = prepared;
    t.copied_artifacts = copied_artifacts;
    t.external_links = (!external_links.is_empty()).then_some(external_links);
    t.dropped_links = (!dropped_links.is_empty()).then_some(dropped_links);
    timings.insert("prepare_seconds".into(), round6(prepare_seconds));
    let prepare_failed = prepared.is_err();
    let status = if prepared.is_ok() {
        "completed"
    } else {
        "failed"
    };
    events.trial_phase(key, "prepare", Some(status), prepare_seconds);
    if env.cancel.is_cancelled() {
        return true;
    }

    // The loop, attempt-only.
    let mut run_config = None;
    match prepared {
        Err(e) => t.error = e,
        Ok(script) => match RunConfig::from_values(config.run_values(key, &ws, script), &env.cwd) {
            Err(e) => t.error = format!("invalid trial configuration: {e}"),
            Ok(rc) => {
                fingerprint.insert("task_sha256".into(), json!(sha256(rc.task_text.as_bytes())));
                run_config = Some(rc);
            }
        },
    }
    if let Some(rc) = run_config {
        let clock = Instant::now();
        let interrupted = run_loop(rc, key, env, events, t);
        t.duration_seconds = clock.elapsed().as_secs_f64();
        timings.insert("loop_seconds".into(), round6(t.duration_seconds));
        if interrupted {
            return true;
        }
    }

    // Telemetry, the post command, validity.
    if ws.is_dir() {
        let telemetry = workspace::summarize_telemetry(&ws);
        if let Ok(m) = serde_json::from_value::<McpTelemetry>(telemetry) {
            t.mcp_call_count = m.count;
            t.mcp_called_tools = m.called_tools.clone();
            t.mcp_telemetry = m;
        }
    }
    if let Some(command) = &config.values.post_command {
        let post = if prepare_failed {
            skipped_post(
                config,
                command,
                &root,
                "the trial workspace could not be prepared",
            )
        } else if ws.is_dir() {
            events.trial_phase(key, "post", None, 0.0);
            let post = run_post(config, command, &ws, &root, &env.cancel);
            events.trial_phase(key, "post", Some(&post.status), post.duration_seconds);
            if post.status == "cancelled" {
                return true;
            }
            timings.insert("post_seconds".into(), round6(post.duration_seconds));
            post
        } else {
            skipped_post(config, command, &root, "the trial has no workspace")
        };
        t.post_result = Some(post);
    }
    t.fairness = Some(fingerprint);
    t.timings = Some(timings);
    finish_validity(config, key, t);
    false
}

/// Runs the loop; fills the trial's run fields. Returns true when interrupted.
fn run_loop(
    rc: RunConfig,
    key: TrialKey,
    env: &TrialEnv,
    events: &dyn CompareEvents,
    t: &mut Trial,
) -> bool {
    let score_key = rc.score_key.clone();
    let runner = match (env.runner)(&rc) {
        Ok(r) => r,
        Err(e) => {
            t.error = format!("cannot start the runner: {e}");
            return false;
        }
    };
    let progress = TrialProgress { key, events };
    let request = RunRequest {
        config: rc,
        runner,
        mcp: (env.mcp)(&env.cancel),
        cancel: env.cancel.clone(),
        progress: &progress,
        resume: false,
    };
    let outcome = match orchestrator::run(request) {
        Ok(o) => o,
        Err(e) => {
            t.error = e.to_string();
            return false;
        }
    };
    if outcome.ending == Ending::Interrupted {
        return true;
    }
    t.run_ending = Some(
        match outcome.ending {
            Ending::Solved => "solved",
            Ending::NotSolved => "not_solved",
            Ending::Error => "error",
            Ending::Interrupted => "interrupted",
        }
        .into(),
    );
    if outcome.ending == Ending::Error {
        t.error = outcome
            .error
            .clone()
            .unwrap_or_else(|| "the loop failed".into());
    }
    t.run_dir = Some(outcome.run_dir.to_string_lossy().into());
    let records = outcome.summary["iterations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut last_data = Object::new();
    for r in &records {
        let result_path = r["result_path"].as_str().unwrap_or_default().to_string();
        let data = read_lenient(Path::new(&result_path));
        let usage = data.get("harness_usage").cloned().unwrap_or(Value::Null);
        let attempt = &r["attempt"];
        let has_attempt = attempt.is_object();
        let row = IterationRow {
            iteration: r["iteration"].as_u64().unwrap_or(0) as u32,
            status: r["status"].as_str().unwrap_or("unknown").into(),
            solved: r["solved"].as_bool().unwrap_or(false),
            result_path,
            attempt_status: attempt["status"].as_str().map(str::to_string),
            attempt_return_code: attempt["return_code"].as_i64(),
            attempt_timed_out: has_attempt.then(|| attempt["timed_out"].as_bool().unwrap_or(false)),
            attempt_duration_seconds: attempt["duration_seconds"].as_f64(),
            attempt_message: attempt["message"].as_str().unwrap_or_default().into(),
            attempt_transcript_path: attempt["transcript_path"].as_str().map(str::to_string),
            score: extract_score(&data, &score_key),
            active_mcp_count: usage["active_mcp_count"].as_i64(),
            active_tool_count: usage["active_tool_count"].as_i64(),
            used_active_tools: strings(&usage["used_active_tools"]),
            mcp_call_count: usage["mcp_call_count"].as_i64(),
            mcp_called_tools: strings(&usage["mcp_called_tools"]),
            extra: Object::new(),
        };
        t.iterations.push(row);
        last_data = data;
    }
    if let Some(last) = t.iterations.last() {
        t.result_path = Some(last.result_path.clone());
        t.status = last.status.clone();
        t.solved = last.solved;
        t.attempt_duration_seconds = last.attempt_duration_seconds;
    }
    t.cumulative_attempt_duration_seconds = t
        .iterations
        .iter()
        .filter_map(|r| r.attempt_duration_seconds)
        .sum();
    t.iterations_completed = t.iterations.len() as u64;
    t.score = extract_score(&last_data, &score_key);
    false
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Runs the post command in the trial workspace; logs to `<trial root>/post.{stdout,stderr}.txt`.
fn run_post(
    config: &CompareConfig,
    command: &str,
    ws: &Path,
    root: &Path,
    cancel: &CancelToken,
) -> PostResult {
    let stdout_path = root.join("post.stdout.txt");
    let stderr_path = root.join("post.stderr.txt");
    let key = config.values.post_score_key.clone();
    let spec = process::shell(command, ws, &stdout_path, &stderr_path).timeout(config.post_timeout);
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
        Err(e) => {
            let detail = match &e {
                ProcessError::Io { .. } => e.to_string(),
                _ => format!("harnessgym: {e}"),
            };
            let _ = std::fs::write(&stderr_path, format!("{detail}\n"));
            ("failed", None, false, 0.0)
        }
    };
    let json = parse_verdict(&stdout_path);
    let score = json.as_ref().and_then(|j| extract_score(j, &key));
    let passed = status == "completed" && json.as_ref().is_some_and(verdict_passes);
    PostResult {
        command: command.into(),
        status: status.into(),
        return_code: return_code.map(i64::from),
        timed_out,
        duration_seconds: (duration * 1000.0).round() / 1000.0,
        stdout_path: stdout_path.to_string_lossy().into(),
        stderr_path: stderr_path.to_string_lossy().into(),
        json,
        score,
        score_key: key,
        passed: Some(passed),
        extra: Object::new(),
    }
}

/// The post result of a trial that could not reach its post command: it counts as invalid.
fn skipped_post(config: &CompareConfig, command: &str, root: &Path, why: &str) -> PostResult {
    let mut extra = Object::new();
    extra.insert("message".into(), json!(why));
    PostResult {
        command: command.into(),
        status: "skipped".into(),
        stdout_path: root.join("post.stdout.txt").to_string_lossy().into(),
        stderr_path: root.join("post.stderr.txt").to_string_lossy().into(),
        score_key: config.values.post_score_key.clone(),
        passed: Some(false),
        extra,
        ..PostResult::default()
    }
}

/// The validity rules (spec/harness.md §7.3) with the fixes: runner validity follows the
/// runner's own attempt status (not what the agent wrote in result.json); demanded tool use
/// needs a successful call; an artifact source that gave this trial nothing is invalid.
fn finish_validity(config: &CompareConfig, key: TrialKey, t: &mut Trial) {
    // Runner.
    let mut rv = RunnerValidation {
        valid: true,
        ..RunnerValidation::default()
    };
    if !t.error.is_empty() {
        rv.valid = false;
        rv.reason = format!("runner trial raised exception: {}", t.error);
    } else if t.iterations.is_empty() {
        rv.valid = false;
        rv.reason = "runner trial invalid: no iterations completed".into();
    } else {
        let failed: Vec<&IterationRow> = t
            .iterations
            .iter()
            .filter(|r| r.attempt_status.as_deref() == Some("failed"))
            .collect();
        if !failed.is_empty() {
            rv.valid = false;
            rv.failed_iterations = failed.iter().map(|r| r.iteration).collect();
            rv.failed_attempts = failed
                .iter()
                .map(|r| FailedAttempt {
                    iteration: r.iteration,
                    status: Some(r.status.clone()),
                    attempt_status: r.attempt_status.clone(),
                    attempt_return_code: r.attempt_return_code,
                    attempt_timed_out: r.attempt_timed_out,
                    attempt_message: r.attempt_message.clone(),
                    attempt_transcript_path: r.attempt_transcript_path.clone(),
                    extra: Object::new(),
                })
                .collect();
            rv.reason = format!(
                "runner attempt failed in iteration(s): {}",
                rv.failed_iterations
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    // Harness.
    let hv = if key.group == Group::Plain {
        HarnessValidation {
            required: false,
            valid: true,
            reason: String::new(),
            ..HarnessValidation::default()
        }
    } else {
        let copied = !t.copied_artifacts.is_empty();
        let active_required = config.values.require_active_harness && copied;
        let use_required = config.values.require_harness_tool_use && copied;
        let best = |f: &dyn Fn(&IterationRow) -> Option<i64>| {
            t.iterations
                .iter()
                .map(|r| f(r).unwrap_or(0))
                .max()
                .unwrap_or(0)
        };
        let m = &t.mcp_telemetry;
        let mut hv = HarnessValidation {
            required: active_required || use_required,
            active_harness_required: Some(active_required),
            tool_use_required: Some(use_required),
            valid: true,
            reason: String::new(),
            active_tool_count: Some(best(&|r| r.active_tool_count)),
            active_mcp_count: Some(best(&|r| r.active_mcp_count)),
            mcp_call_count: Some(m.count as i64),
            mcp_successful_call_count: Some(m.successful_count as i64),
            mcp_called_tools: Some(m.called_tools.clone()),
            mcp_call_status_counts: Some(m.status_counts.clone()),
            extra: Object::new(),
        };
        if config.harness_dir.is_some() && !copied && t.error.is_empty() {
            hv.valid = false;
            hv.reason =
                "harnessed trial invalid: no artifacts were copied from the artifact source".into();
        } else if active_required && hv.active_tool_count.unwrap_or(0) <= 0 {
            hv.valid = false;
            hv.reason = "harnessed trial invalid: copied artifacts did not activate any generated MCP tools".into();
        } else if use_required && m.successful_count == 0 {
            hv.valid = false;
            hv.reason = if m.count == 0 {
                "harnessed trial invalid: generated MCP tools activated but no MCP tool calls were recorded".into()
            } else {
                "harnessed trial invalid: generated MCP tools activated but no MCP tool call succeeded".into()
            };
        }
        hv
    };
    t.comparison_valid = rv.valid && hv.valid;
    t.comparison_invalid_reason = if t.comparison_valid {
        String::new()
    } else {
        [&rv.reason, &hv.reason]
            .into_iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    };
    t.runner_validation = rv;
    t.harness_validation = hv;
    // Post.
    match &t.post_result {
        None => {
            t.objective_post_valid = None;
            t.post_valid = None;
            t.post_score = None;
            t.post_invalid_reason = String::new();
            t.post_treated_as_worst = false;
        }
        Some(p) => {
            let passed = p.passed == Some(true);
            let objective = passed && p.score.is_some_and(f64::is_finite);
            let valid = objective && t.comparison_valid;
            t.objective_post_valid = Some(objective);
            t.post_valid = Some(valid);
            t.post_score = if valid { p.score } else { None };
            t.post_treated_as_worst = !valid;
            t.post_invalid_reason = if valid {
                String::new()
            } else if !t.comparison_valid {
                t.comparison_invalid_reason.clone()
            } else if !passed {
                format!(
                    "post command did not pass: status={} return_code={}",
                    p.status,
                    p.return_code.map_or("None".into(), |c| c.to_string())
                )
            } else {
                format!(
                    "post command did not emit numeric score for key {}",
                    p.score_key
                )
            };
        }
    }
}

/// What every trial of this compare runs with; the trial adds what it actually received.
fn base_fingerprint(config: &CompareConfig) -> BTreeMap<String, Value> {
    let v = &config.values;
    let (agent_bin, model, args) = match v.runner.as_str() {
        "claude" => (
            Some(v.claude_bin.clone()),
            v.claude_model.clone(),
            json!({"permission_mode": v.claude_permission_mode, "max_budget_usd": v.claude_max_budget_usd,
                   "extra_args": v.claude_extra_args}),
        ),
        "exec" | "tui-goal" => (
            Some(v.codex_bin.clone()),
            codex_model(&v.codex_extra_args),
            json!({"extra_args": v.codex_extra_args}),
        ),
        _ => (None, None, Value::Null),
    };
    let timeouts: Vec<Value> = if config.attempt_timeout_schedule.is_empty() {
        vec![seconds(config.attempt_timeout)]
    } else {
        config
            .attempt_timeout_schedule
            .iter()
            .map(|d| seconds(*d))
            .collect()
    };
    let mut f = BTreeMap::new();
    f.insert("runner".into(), json!(v.runner));
    f.insert("agent_bin".into(), json!(agent_bin));
    f.insert("model".into(), json!(model));
    f.insert("runner_options".into(), args);
    f.insert("attempt_timeout_seconds".into(), json!(timeouts));
    f.insert("iterations".into(), json!(config.iterations));
    f.insert("task_state".into(), json!(v.task_state));
    f.insert("score_key".into(), json!(v.score_key));
    f.insert("stop_score".into(), json!(v.stop_score));
    f.insert("post_command".into(), json!(v.post_command));
    f.insert("post_timeout_seconds".into(), seconds(config.post_timeout));
    f.insert(
        "task_source".into(),
        json!(match &config.task {
            TaskSource::Text(_) => "text",
            TaskSource::TemplateFile(_) => "template_file",
            TaskSource::ExternalFile(_) => "external_file",
        }),
    );
    f.insert("fake_script_sha256".into(), Value::Null);
    f.insert(
        "harnessgym_version".into(),
        json!(concat!("harnessgym-rs ", env!("CARGO_PKG_VERSION"))),
    );
    f
}

/// `-m X`, `--model X`, `--model=X` or `-c model=X` in Codex's extra arguments.
fn codex_model(args: &[String]) -> Option<String> {
    let mut it = args.iter().peekable();
    let mut model = None;
    while let Some(a) = it.next() {
        if a == "-m" || a == "--model" {
            model = it.next().cloned();
        } else if let Some(m) = a.strip_prefix("--model=") {
            model = Some(m.to_string());
        } else if a == "-c" || a == "--config" {
            if let Some(m) = it.peek().and_then(|c| c.strip_prefix("model=")) {
                model = Some(m.trim_matches('"').to_string());
            }
        }
    }
    model
}

fn sha256(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_model_forms() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(codex_model(&s(&["-m", "o3"])), Some("o3".into()));
        assert_eq!(codex_model(&s(&["--model=gpt"])), Some("gpt".into()));
        assert_eq!(codex_model(&s(&["-c", "model=\"x\""])), Some("x".into()));
        assert_eq!(codex_model(&s(&["-c", "sandbox=1"])), None);
    }
}
