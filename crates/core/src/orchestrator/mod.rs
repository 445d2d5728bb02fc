//! The iteration loop: attempt → (post check) → reflection → build → qualification, per iteration,
//! with stop rules, optimization checkpoints, a summary kept current after every iteration, and
//! resume of interrupted runs.

pub mod lock;
pub mod post_command;
pub mod prompts;
pub mod result;
pub mod snapshots;
pub mod usage;

use crate::cancel::CancelToken;
use crate::config::{RunConfig, TaskState};
use crate::fsx::{self, Object};
use crate::harness::activation::{self, McpActivator};
use crate::harness::qualification;
use crate::harness::registry::{ensure_harness_dirs, Registry};
use crate::runner::{Phase, PhaseContext, Runner, RunnerResult};
use post_command::PostResult;
use prompts::PromptInputs;
use result::{extract_score, is_solved_and_verified, is_verified, status_of, Objective, ResultDoc};
use serde_json::{json, Value};
use snapshots::Checkpoints;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Live progress for a terminal or an app.
pub trait Progress {
    fn phase_started(&self, _iteration: u32, _phase: &str) {}
    fn phase_finished(&self, _iteration: u32, _phase: &str, _status: &str, _seconds: f64) {}
    fn note(&self, _text: &str) {}
}

/// Ignores progress.
pub struct Quiet;
impl Progress for Quiet {}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Solved and verified (or a verified stop score).
    Solved,
    /// All iterations ran, not solved.
    NotSolved,
    /// Stopped by Ctrl-C or a cancel request; resumable.
    Interrupted,
    /// HarnessGym itself failed (disk, runner crash); resumable.
    Error,
}

/// The outcome of [`run`].
#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub ending: Ending,
    pub final_status: String,
    pub summary: Value,
    pub last_result: Option<PathBuf>,
    pub error: Option<String>,
}

/// A problem that stops a run before it starts (exit 2 for usage problems, 1 otherwise).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("{0}")]
    Io(String),
}

fn io_ctx(what: &str) -> impl Fn(io::Error) -> StartError + '_ {
    move |e| StartError::Io(format!("{what}: {e}"))
}

/// `YYYYMMDDTHHMMSSZ-<8 hex>`.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).unwrap_or_default();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}

/// `<workspace>/.harnessgym/runs/<run_id>`.
pub fn run_dir(workspace: &Path, run_id: &str) -> PathBuf {
    workspace.join(".harnessgym/runs").join(run_id)
}

/// Everything a run needs from outside.
pub struct RunRequest<'a> {
    pub config: RunConfig,
    pub runner: Box<dyn Runner + 'a>,
    pub mcp: Box<dyn McpActivator + 'a>,
    pub cancel: CancelToken,
    pub progress: &'a dyn Progress,
    /// Continue the run named by `config.run_id` at its first unfinished iteration.
    pub resume: bool,
}

/// Runs the loop. Errors before the first write are returned; anything later ends in a summary.
pub fn run(req: RunRequest) -> Result<RunOutcome, StartError> {
    let ws = req.config.workspace.clone();
    let hg = ensure_harness_dirs(&ws).map_err(io_ctx("cannot create .harnessgym"))?;
    let run_id = match (&req.config.run_id, req.resume) {
        (Some(id), _) => id.clone(),
        (None, true) => {
            return Err(StartError::Usage(
                "--resume needs the id of the run to continue".into(),
            ))
        }
        (None, false) => new_run_id(),
    };
    let lock = lock::WorkspaceLock::acquire(&hg, &run_id)?;
    let dir = run_dir(&ws, &run_id);
    if req.resume && !dir.join("run_config.json").is_file() {
        return Err(StartError::Usage(format!(
            "cannot resume run {run_id}: {} has no run_config.json",
            dir.display()
        )));
    }
    if !req.resume && dir.exists() {
        return Err(StartError::Usage(format!(
            "run id {run_id} already exists in {}; choose another id or pass --resume {run_id} to continue it",
            hg.join("runs").display()
        )));
    }
    std::fs::create_dir_all(dir.join("iterations"))
        .map_err(io_ctx("cannot create the run directory"))?;
    let mut state = Loop::new(req, run_id, dir);
    let ending = match state.setup().and_then(|()| state.iterate()) {
        Ok(ending) => ending,
        Err(e) => {
            state
                .errors
                .push(json!({"at": fsx::utc_now(), "message": e.to_string()}));
            state.error = Some(e.to_string());
            Ending::Error
        }
    };
    let outcome = state.finish(ending);
    drop(lock);
    Ok(outcome)
}

/// One iteration's record in `summary.iterations`.
#[derive(Debug, Clone)]
struct IterationRecord {
    iteration: u32,
    status: String,
    result_path: PathBuf,
    attempt: Option<RunnerResult>,
    reflection: Option<RunnerResult>,
    build: Option<RunnerResult>,
    repairs: Vec<RunnerResult>,
    solved: bool,
}

impl IterationRecord {
    fn to_json(&self) -> Value {
        let phase = |p: &Option<RunnerResult>| p.as_ref().map(RunnerResult::to_json);
        json!({
            "iteration": self.iteration,
            "status": self.status,
            "result_path": self.result_path.to_string_lossy(),
            "attempt": phase(&self.attempt),
            "reflection": phase(&self.reflection),
            "build": phase(&self.build),
            "repairs": self.repairs.iter().map(RunnerResult::to_json).collect::<Vec<_>>(),
            "solved": self.solved,
        })
    }

    /// Rebuilds a finished iteration's record from its result.json (resume).
    fn from_result(iteration: u32, path: PathBuf, data: &Object) -> IterationRecord {
        let phase = |name: &str| {
            data.get("phases")
                .and_then(|p| p.get(name))
                .and_then(runner_result_from_json)
        };
        IterationRecord {
            iteration,
            status: status_of(data),
            attempt: phase("attempt"),
            reflection: phase("reflection"),
            build: phase("build"),
            repairs: Vec::new(),
            solved: data.get("harnessgym_solved") == Some(&Value::Bool(true)),
            result_path: path,
        }
    }
}

fn runner_result_from_json(v: &Value) -> Option<RunnerResult> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let p = |k: &str| s(k).map(PathBuf::from);
    Some(RunnerResult {
        phase: s("phase")?,
        status: s("status").unwrap_or_default(),
        session_id: s("session_id"),
        return_code: v
            .get("return_code")
            .and_then(Value::as_i64)
            .map(|c| c as i32),
        timed_out: v.get("timed_out").and_then(Value::as_bool).unwrap_or(false),
        duration_seconds: v
            .get("duration_seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        stdout_path: p("stdout_path"),
        stderr_path: p("stderr_path"),
        transcript_path: p("transcript_path"),
        prompt_path: p("prompt_path"),
        message: s("message").unwrap_or_default(),
    })
}

struct Loop<'a> {
    config: RunConfig,
    runner: Box<dyn Runner + 'a>,
    mcp: Box<dyn McpActivator + 'a>,
    cancel: CancelToken,
    progress: &'a dyn Progress,
    resume: bool,
    run_id: String,
    dir: PathBuf,
    objective: Objective,
    records: Vec<IterationRecord>,
    template: Option<Value>,
    qualification_rows: Vec<Value>,
    baseline: Option<PostResult>,
    baseline_json: Value,
    best_score: Option<f64>,
    checkpoint: Object,
    checkpoints: Checkpoints,
    errors: Vec<Value>,
    error: Option<String>,
    started: String,
}

impl<'a> Loop<'a> {
    fn new(req: RunRequest<'a>, run_id: String, dir: PathBuf) -> Loop<'a> {
        let objective = Objective {
            higher_is_better: req.config.higher_is_better,
        };
        Loop {
            checkpoints: Checkpoints::new(&dir),
            objective,
            runner: req.runner,
            mcp: req.mcp,
            cancel: req.cancel,
            progress: req.progress,
            resume: req.resume,
            config: req.config,
            run_id,
            dir,
            records: Vec::new(),
            template: None,
            qualification_rows: Vec::new(),
            baseline: None,
            baseline_json: Value::Null,
            best_score: None,
            checkpoint: Object::new(),
            errors: Vec::new(),
            error: None,
            started: fsx::utc_now(),
        }
    }

    fn ws(&self) -> &Path {
        &self.config.workspace
    }

    fn template_dir(&self) -> PathBuf {
        self.dir.join("qualification/workspace_template")
    }

    fn snapshot_dir(&self) -> PathBuf {
        self.dir.join("task_state/initial")
    }

    /// The registry on disk; a damaged file is preserved, recorded, and replaced by an empty one.
    fn load_registry(&mut self) -> io::Result<Registry> {
        match Registry::load(self.ws()) {
            Ok(r) => Ok(r),
            Err(e) => {
                let path = Registry::path(self.ws());
                let kept = fsx::preserve_damaged(&path)?;
                self.progress
                    .note(&format!("warning: {e}; kept it as {}", kept.display()));
                self.errors.push(json!({"at": fsx::utc_now(), "file": path.to_string_lossy(), "message": e.to_string(),
                    "preserved_as": kept.to_string_lossy()}));
                Ok(Registry::default())
            }
        }
    }

    fn setup(&mut self) -> io::Result<()> {
        let mut registry = self.load_registry()?;
        if !Registry::path(self.ws()).exists() {
            registry.save(&self.config.workspace)?;
        }
        if self.resume {
            self.load_previous_state();
        } else {
            // Resets happen before iterations 2..N only: a one-iteration run needs no snapshot.
            if self.config.task_state == TaskState::Reset && self.config.iterations > 1 {
                snapshots::capture(self.ws(), &self.snapshot_dir())?;
            }
            if self.config.qualify_artifacts {
                self.template = Some(qualification::capture_template(
                    self.ws(),
                    &self.template_dir(),
                )?);
            }
            fsx::write_json(
                &self.dir.join("run_config.json"),
                &self.config.to_json(&self.run_id),
            )?;
        }
        let enabled = self.config.optimization_mode && self.config.restore_best;
        if !self.resume || self.checkpoint.is_empty() {
            self.checkpoint = Object::new();
            self.checkpoint.insert("enabled".into(), json!(enabled));
            self.checkpoint.insert("restored".into(), json!(false));
            self.checkpoint.insert("captures".into(), json!([]));
            if self.config.optimization_mode && !self.config.restore_best {
                self.checkpoint
                    .insert("reason".into(), json!("disabled_by_config"));
            }
        }
        if !self.resume {
            if let (true, Some(cmd)) = (
                self.config.optimization_mode,
                self.config.post_attempt_command.clone(),
            ) {
                self.progress.phase_started(0, "baseline");
                let base = post_command::run(
                    &self.config,
                    &cmd,
                    &self.dir.join("baseline"),
                    "baseline",
                    &self.cancel,
                )?;
                self.progress
                    .phase_finished(0, "baseline", &base.status, base.duration_seconds);
                self.baseline_json = base.to_json();
                if base.passed {
                    self.best_score = base.score;
                }
                if enabled && base.passed {
                    if let Some(score) = base.score {
                        let manifest = self.checkpoints.capture(
                            self.ws(),
                            0,
                            score,
                            "baseline_post_attempt_passed",
                        )?;
                        self.record_capture(manifest);
                    }
                }
                self.baseline = Some(base);
            }
        }
        // A summary before the first iteration matters only when there is state to resume from.
        if self.baseline.is_some() {
            self.write_summary("running")?;
        }
        Ok(())
    }

    /// Reads what an interrupted run already did: its summary and its finished iterations.
    fn load_previous_state(&mut self) {
        let summary = fsx::read_json_object(&self.dir.join("summary.json"))
            .ok()
            .flatten()
            .unwrap_or_default();
        self.template = summary
            .get("artifact_qualification")
            .and_then(|q| q.get("template"))
            .cloned()
            .filter(|t| !t.is_null());
        if self.template.is_none() && self.config.qualify_artifacts && self.template_dir().is_dir()
        {
            self.template = Some(json!({"template_path": self.template_dir().to_string_lossy()}));
        }
        self.qualification_rows = summary
            .get("artifact_qualification")
            .and_then(|q| q.get("reports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.baseline_json = summary
            .get("baseline_post_attempt")
            .cloned()
            .unwrap_or(Value::Null);
        self.best_score = summary.get("best_score").and_then(Value::as_f64);
        self.checkpoint = summary
            .get("best_checkpoint")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        self.errors = summary
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.started = summary
            .get("started_at")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(fsx::utc_now);
    }

    /// The first iteration to run: after the last one marked finished. Unfinished iteration
    /// directories are moved aside (never deleted) so the rerun starts clean.
    fn first_iteration(&mut self) -> io::Result<u32> {
        if !self.resume {
            return Ok(1);
        }
        let mut n = 1;
        loop {
            let it = self.dir.join("iterations").join(n.to_string());
            let data = result::read_lenient(&it.join("result.json"));
            if data.get("harnessgym_finished_at").is_none() {
                if it.exists() {
                    let aside = self.dir.join("interrupted").join(format!(
                        "{n}-{}",
                        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
                    ));
                    std::fs::create_dir_all(aside.parent().expect("has parent"))?;
                    std::fs::rename(&it, &aside)?;
                    self.progress.note(&format!(
                        "moved unfinished iteration {n} to {}",
                        aside.display()
                    ));
                }
                return Ok(n);
            }
            self.records.push(IterationRecord::from_result(
                n,
                it.join("result.json"),
                &data,
            ));
            n += 1;
        }
    }

    fn iterate(&mut self) -> io::Result<Ending> {
        let first = self.first_iteration()?;
        if let Some(last) = self.records.last() {
            if last.solved {
                return Ok(Ending::Solved);
            }
        }
        for n in first..=self.config.iterations {
            if self.cancel.is_cancelled() {
                return Ok(Ending::Interrupted);
            }
            match self.iteration(n)? {
                Step::Next => {}
                Step::Stop(ending) => return Ok(ending),
            }
            if n < self.config.iterations {
                self.write_summary("running")?;
            }
        }
        Ok(if self.records.last().is_some_and(|r| r.solved) {
            Ending::Solved
        } else {
            Ending::NotSolved
        })
    }

    /// The context of one phase; a free-standing borrow of the parts so the runner stays mutable.
    fn phase_ctx<'c>(
        config: &'c RunConfig,
        run_id: &'c str,
        cancel: &'c CancelToken,
        at: PhaseAt<'c>,
        phase: Phase,
    ) -> PhaseContext<'c> {
        let timeout = match phase {
            Phase::Attempt => config.attempt_timeout_for(at.n),
            Phase::Reflection => config.reflection_timeout,
            Phase::Build => config.build_timeout,
        };
        PhaseContext {
            config,
            run_id,
            iteration: at.n,
            workspace: &config.workspace,
            phase_dir: at.dir,
            result_path: at.result_path,
            registry: at.registry,
            timeout,
            cancel,
        }
    }

    fn iteration(&mut self, n: u32) -> io::Result<Step> {
        if self.config.task_state == TaskState::Reset && n > 1 {
            snapshots::restore(&self.snapshot_dir(), &self.config.workspace)?;
        }
        let mut registry = self.load_registry()?;
        registry.sync_from_files(&self.config.workspace, None)?;
        let activation =
            activation::activate(&self.config.workspace, &registry, self.mcp.as_ref())?;
        let it = self.dir.join("iterations").join(n.to_string());
        std::fs::create_dir_all(&it)?;
        let result_path = it.join("result.json");
        let now = fsx::utc_now();
        let initial = json!({
            "run_id": self.run_id, "iteration": n, "status": "running", "verified": false,
            "task_path": self.config.task_path.as_ref().map(|p| p.to_string_lossy()),
            "registry_artifact_count": registry.artifacts.len(), "phases": {},
            "created_at": now, "updated_at": now,
        });
        let mut doc = ResultDoc::create(
            result_path.clone(),
            initial.as_object().cloned().unwrap_or_default(),
        )?;
        fsx::write_json(&it.join("activation.json"), &activation)?;
        let context = prompts::artifact_context(&registry, &self.config.workspace);
        let inputs = PromptInputs {
            config: &self.config,
            iteration: n,
            result_path: &result_path,
        };
        let prompt = prompts::attempt(&inputs, &context);
        let telemetry = self.config.workspace.join(".harnessgym/mcp_calls.jsonl");
        let offset = usage::telemetry_offset(&telemetry);

        self.progress.phase_started(n, "attempt");
        let attempt = {
            let ctx = Self::phase_ctx(
                &self.config,
                &self.run_id,
                &self.cancel,
                PhaseAt {
                    n,
                    dir: it.clone(),
                    result_path: &result_path,
                    registry: &registry,
                },
                Phase::Attempt,
            );
            self.runner.start_attempt(&ctx, &prompt)?
        };
        self.progress
            .phase_finished(n, "attempt", &attempt.status, attempt.duration_seconds);
        // Record the phase, and replace a status still at "running" from the runner's status.
        let phase_json = json!({"phases": {"attempt": attempt.to_json()}});
        let fallback = match attempt.status.as_str() {
            "timeout" | "completed" => "incomplete",
            "cancelled" => "interrupted",
            other => other,
        }
        .to_string();
        let record_attempt = move |data: &mut Object| {
            if let Value::Object(updates) = phase_json {
                result::deep_merge(data, updates);
            }
            let open = match data.get("status") {
                None => true,
                Some(Value::String(s)) => s == "running",
                Some(_) => false,
            };
            if open {
                data.insert("status".into(), json!(fallback));
            }
        };
        let mut record = IterationRecord {
            iteration: n,
            status: String::new(),
            result_path: result_path.clone(),
            attempt: Some(attempt.clone()),
            reflection: None,
            build: None,
            repairs: Vec::new(),
            solved: false,
        };
        let usage_for = |registry: &Registry, data: &Object| {
            usage::harness_usage(&usage::UsageInputs {
                activation: &activation,
                registry_paths: registry.artifacts.iter().map(|a| a.path.clone()).collect(),
                result: data,
                attempt: Some(&attempt),
                telemetry: &telemetry,
                telemetry_offset: offset,
            })
        };
        let cmd = self.config.post_attempt_command.clone();
        if cmd.is_some() || self.cancel.is_cancelled() {
            doc.update_with(record_attempt)?;
            if self.cancel.is_cancelled() {
                return self.interrupted(record, &mut doc);
            }
            if let Some(cmd) = cmd {
                self.progress.phase_started(n, "post_attempt");
                let post =
                    post_command::run(&self.config, &cmd, &it, "post_attempt", &self.cancel)?;
                self.progress.phase_finished(
                    n,
                    "post_attempt",
                    &post.status,
                    post.duration_seconds,
                );
                self.apply_post(&mut doc, &post)?;
                if self.cancel.is_cancelled() {
                    return self.interrupted(record, &mut doc);
                }
            }
            doc.update_with(|data| {
                let u = usage_for(&registry, data);
                data.insert("harness_usage".into(), u);
            })?;
        } else {
            // One write for the phase record and the usage: the agent is not running meanwhile.
            doc.update_with(|data| {
                record_attempt(data);
                let u = usage_for(&registry, data);
                data.insert("harness_usage".into(), u);
            })?;
        }
        let data = doc.data().clone();
        let score = extract_score(&data, &self.config.score_key);
        self.checkpoint_decision(n, score, &data, &mut doc)?;

        let verified_solve = is_solved_and_verified(&data);
        let done = self.stop_rule(&data);
        if self.config.attempt_only || (done && !(self.config.build_after_solve && verified_solve))
        {
            return self.close_iteration(record, &mut doc, |_| done);
        }

        // Reflect and build, in the attempt's session.
        let (reflection, build) =
            self.reflect_and_build(n, &it, &result_path, &registry, &mut doc, &attempt)?;
        record.reflection = reflection;
        record.build = build.clone();
        if self.cancel.is_cancelled() {
            return self.interrupted(record, &mut doc);
        }
        let Some(build) = build else {
            return self.close_iteration(record, &mut doc, |_| false);
        };
        let (final_registry, gate, qualification) =
            self.finalize_artifacts(n, &it, &result_path, &mut doc, &build, &mut record)?;
        let registry_fields = json!({
            "registry_artifact_count": final_registry.artifacts.len(),
            "registry_path": Registry::path(self.ws()).to_string_lossy(),
            "harness_quality_gate": gate,
        });

        if done {
            // Solved before the build: the build may have touched task files, so check again.
            let reverified = match self.config.post_attempt_command.clone() {
                Some(cmd) => {
                    let post =
                        post_command::run(&self.config, &cmd, &it, "post_build", &self.cancel)?;
                    self.apply_post(&mut doc, &post)?;
                    post.passed
                }
                None => true,
            };
            return self.close_iteration(record, &mut doc, |data| {
                if let Some(report) = qualification {
                    data.insert("artifact_qualification".into(), report);
                }
                if let Value::Object(fields) = registry_fields {
                    result::deep_merge(data, fields);
                }
                data.insert("primary_task_solved_before_build".into(), json!(true));
                data.insert(
                    "primary_task_reverified_after_build".into(),
                    json!(reverified),
                );
                reverified
            });
        }

        // The usage again, now that the registry knows what the build made.
        let paths_changed = final_registry.artifacts.len() != registry.artifacts.len()
            || final_registry
                .artifacts
                .iter()
                .zip(&registry.artifacts)
                .any(|(a, b)| a.path != b.path);
        let build_completed = build.status == "completed";
        let stop_score = self.config.stop_score;
        let (score_key, objective) = (self.config.score_key.clone(), self.objective);
        self.close_iteration(record, &mut doc, |data| {
            if let Some(report) = qualification {
                data.insert("artifact_qualification".into(), report);
            }
            if let Value::Object(fields) = registry_fields {
                result::deep_merge(data, fields);
            }
            if paths_changed {
                let u = usage_for(&final_registry, data);
                data.insert("harness_usage".into(), u);
            }
            let status = data.get("status");
            let open = matches!(status, None | Some(Value::Null))
                || matches!(
                    status.and_then(Value::as_str),
                    Some("running" | "blocked" | "incomplete")
                );
            if open && build_completed && !is_solved_and_verified(data) {
                data.insert("status".into(), json!("tooling_built"));
            }
            stop_rule(data, stop_score, &score_key, objective)
        })
    }

    fn stop_rule(&self, data: &Object) -> bool {
        stop_rule(
            data,
            self.config.stop_score,
            &self.config.score_key,
            self.objective,
        )
    }

    fn reflect_and_build(
        &mut self,
        n: u32,
        it: &Path,
        result_path: &Path,
        registry: &Registry,
        doc: &mut ResultDoc,
        attempt: &RunnerResult,
    ) -> io::Result<(Option<RunnerResult>, Option<RunnerResult>)> {
        let inputs = PromptInputs {
            config: &self.config,
            iteration: n,
            result_path,
        };
        let prompt = prompts::reflection(&inputs, &doc.read().clone());
        self.progress.phase_started(n, "reflection");
        let reflection = {
            let ctx = Self::phase_ctx(
                &self.config,
                &self.run_id,
                &self.cancel,
                PhaseAt {
                    n,
                    dir: it.to_path_buf(),
                    result_path,
                    registry,
                },
                Phase::Reflection,
            );
            self.runner
                .reflect(&ctx, &prompt, attempt.session_id.as_deref())?
        };
        self.progress.phase_finished(
            n,
            "reflection",
            &reflection.status,
            reflection.duration_seconds,
        );
        if self.cancel.is_cancelled() {
            doc.update(json!({"phases": {"reflection": reflection.to_json()}}))?;
            return Ok((Some(reflection), None));
        }
        let fallback = reflection
            .stdout_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        let selected = prompts::selected_improvement(&doc.read().clone(), fallback.as_deref());
        let prompt = prompts::build(&inputs, &selected);
        let session = reflection.session_id.clone().or(attempt.session_id.clone());
        self.progress.phase_started(n, "build");
        let build = {
            let ctx = Self::phase_ctx(
                &self.config,
                &self.run_id,
                &self.cancel,
                PhaseAt {
                    n,
                    dir: it.to_path_buf(),
                    result_path,
                    registry,
                },
                Phase::Build,
            );
            self.runner
                .build_tooling(&ctx, &prompt, session.as_deref())?
        };
        self.progress
            .phase_finished(n, "build", &build.status, build.duration_seconds);
        // Both records in one write (the reflection's waited while the build ran: nothing reads it
        // in between, and each write of a replaced file costs a flush on ext4).
        doc.update(
            json!({"phases": {"reflection": reflection.to_json(), "build": build.to_json()}}),
        )?;
        Ok((Some(reflection), Some(build)))
    }

    /// Qualify what the build made (repairing through the build session), quarantine what still
    /// fails, re-activate, and return the final registry, the post-build quality gate, and a
    /// passing qualification report not yet recorded in result.json.
    fn finalize_artifacts(
        &mut self,
        n: u32,
        it: &Path,
        result_path: &Path,
        doc: &mut ResultDoc,
        build: &RunnerResult,
        record: &mut IterationRecord,
    ) -> io::Result<(Registry, Value, Option<Value>)> {
        let mut pending = None;
        let mut registry = self.load_registry()?;
        registry.sync_from_files(self.ws(), Some(n.into()))?;
        let template = self.template_dir();
        if self.config.qualify_artifacts && template.is_dir() {
            let mut session = build.session_id.clone();
            let mut last_report = Value::Null;
            let mut passed = false;
            for k in 1..=self.config.artifact_repair_attempts + 1 {
                self.progress.phase_started(n, "qualification");
                let started = Instant::now();
                let qdir = it.join(format!("qualification/attempt_{k}"));
                let mut report = qualification::qualify(
                    self.ws(),
                    &template,
                    &qdir,
                    n,
                    &registry,
                    self.mcp.as_ref(),
                )?;
                let report_path = qdir.join("qualification.json");
                report["report_path"] = json!(report_path.to_string_lossy());
                let status = report["status"].as_str().unwrap_or("failed").to_string();
                self.progress.phase_finished(
                    n,
                    "qualification",
                    &status,
                    started.elapsed().as_secs_f64(),
                );
                let gate = &report["quality_gate"];
                self.qualification_rows.push(json!({
                    "iteration": n, "status": status, "report_path": report_path.to_string_lossy(),
                    "fresh_workspace": report["fresh_workspace"], "active_mcp_count": gate["active_mcp_count"],
                    "active_tool_count": gate["active_tool_count"], "inactive_mcp_count": gate["inactive_mcp_count"],
                    "failed_artifacts": report["failed_artifacts"],
                }));
                // Per-artifact verdicts: what was judged and passed is qualified now, even when
                // a neighbour failed (a repair then only has to fix the failures).
                let qualified = qualification::record_passed(
                    &mut registry,
                    &report,
                    &report_path.to_string_lossy(),
                    n,
                );
                if !qualified.is_empty() {
                    registry.save(self.ws())?;
                }
                report["qualified_artifacts"] = json!(qualified);
                passed = status == "passed";
                fsx::write_json(&report_path, &report)?;
                if passed {
                    // Recorded in result.json by the iteration's last write.
                    pending = Some(report);
                    break;
                }
                // Replace, not merge: a later attempt's report must not inherit an earlier one's keys.
                let stored = report.clone();
                doc.update_with(|data| {
                    data.insert("artifact_qualification".into(), stored);
                })?;
                last_report = report;
                if k > self.config.artifact_repair_attempts
                    || session.is_none()
                    || self.cancel.is_cancelled()
                {
                    break;
                }
                let inputs = PromptInputs {
                    config: &self.config,
                    iteration: n,
                    result_path,
                };
                let prompt = prompts::repair(&inputs, &last_report, k);
                let phase = format!("repair_{k}");
                self.progress.phase_started(n, &phase);
                let repair = {
                    let ctx = Self::phase_ctx(
                        &self.config,
                        &self.run_id,
                        &self.cancel,
                        PhaseAt {
                            n,
                            dir: it.join(&phase),
                            result_path,
                            registry: &registry,
                        },
                        Phase::Build,
                    );
                    self.runner
                        .build_tooling(&ctx, &prompt, session.as_deref())?
                };
                self.progress
                    .phase_finished(n, &phase, &repair.status, repair.duration_seconds);
                doc.update(json!({"phases": {phase: repair.to_json()}}))?;
                session = repair.session_id.clone().or(session);
                record.repairs.push(repair);
                registry = self.load_registry()?;
                registry.sync_from_files(self.ws(), Some(n.into()))?;
            }
            // A cancelled qualification proves nothing about the artifacts: no quarantine.
            if !passed && last_report.is_object() && !self.cancel.is_cancelled() {
                let report_path = last_report["report_path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                // Only the artifacts that failed, each with its own reason and content hash.
                let quarantined =
                    qualification::quarantine_failed(&mut registry, &last_report, &report_path, n);
                last_report["quarantined_artifacts"] = json!(quarantined);
                let target = if report_path.is_empty() {
                    it.join("qualification.json")
                } else {
                    PathBuf::from(&report_path)
                };
                fsx::write_json(&target, &last_report)?;
                registry.save(self.ws())?;
                doc.update(
                    json!({"artifact_qualification": {"quarantined_artifacts": quarantined}}),
                )?;
            }
        }
        let post_build = activation::activate(self.ws(), &registry, self.mcp.as_ref())?;
        fsx::write_json(&it.join("post_build_activation.json"), &post_build)?;
        Ok((registry, activation::gate(&post_build), pending))
    }

    /// Applies the post command's verdict: it alone decides `verified` (the agent's claim is kept
    /// aside as `agent_reported`), and only a passing check's score counts.
    fn apply_post(&mut self, doc: &mut ResultDoc, post: &PostResult) -> io::Result<()> {
        let before = doc.read().clone();
        let mut updates = json!({
            "post_attempt": post.to_json(),
            "verification": {
                "status": if post.passed { "passed" } else if post.status == "completed" { "failed" } else { post.status.as_str() },
                "source": "post_attempt_command",
                "command": post.command, "return_code": post.return_code, "timed_out": post.timed_out,
                "stdout_path": post.stdout_path.to_string_lossy(), "stderr_path": post.stderr_path.to_string_lossy(),
            },
            "verified": post.passed,
        });
        if before.get("status").is_some() || before.get("verified").is_some() {
            updates["agent_reported"] =
                json!({"status": before.get("status"), "verified": before.get("verified")});
        }
        if let (true, Some(score)) = (post.passed, post.score) {
            updates["verification"][&self.config.score_key] = json!(score);
            updates["verification"]["score"] = json!(score);
            updates["metrics"] =
                json!({&self.config.score_key: score, &post.score_key: score, "score": score});
        }
        let status = before.get("status").and_then(Value::as_str).unwrap_or("");
        if self.config.optimization_mode {
            updates["optimization"] =
                self.optimization_state(post.passed.then_some(post.score).flatten());
            let reached = post
                .score
                .zip(self.config.stop_score)
                .is_some_and(|(s, stop)| self.objective.reaches(s, stop));
            if post.passed && reached {
                updates["status"] = json!("solved");
            } else if post.passed {
                let baseline = self.baseline_score();
                let improved = post
                    .score
                    .zip(baseline)
                    .is_some_and(|(s, b)| self.objective.better(s, b));
                updates["status"] = json!(if improved { "improved" } else { "verified" });
            } else if status == "solved" {
                updates["status"] = json!("incomplete");
            }
        } else if post.passed {
            updates["status"] = json!("solved");
        } else if status == "solved" {
            updates["status"] = json!("incomplete");
        }
        doc.update(updates)?;
        Ok(())
    }

    fn baseline_score(&self) -> Option<f64> {
        let passed = self
            .baseline_json
            .get("passed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        passed
            .then(|| self.baseline_json.get("score").and_then(Value::as_f64))
            .flatten()
    }

    /// The per-iteration `optimization` object.
    fn optimization_state(&self, current: Option<f64>) -> Value {
        let baseline = self.baseline_score();
        let mut o = json!({
            "mode": "optimization", "score_key": self.config.score_key, "higher_is_better": self.config.higher_is_better,
            "baseline_score": baseline, "previous_best_score": self.best_score, "current_score": current,
        });
        if let Some(score) = current {
            o["target_reached"] = json!(self
                .config
                .stop_score
                .is_some_and(|stop| self.objective.reaches(score, stop)));
            if let Some(b) = baseline {
                o["improved_from_baseline"] = json!(self.objective.better(score, b));
                o["delta_from_baseline"] = json!(score - b);
                if b != 0.0 {
                    let key = if self.config.higher_is_better {
                        "relative_improvement"
                    } else {
                        "relative_reduction"
                    };
                    let value = if self.config.higher_is_better {
                        score / b - 1.0
                    } else {
                        1.0 - score / b
                    };
                    o[key] = json!(value);
                }
            }
            if let Some(prev) = self.best_score {
                o["improved_from_previous_best"] = json!(self.objective.better(score, prev));
            }
        }
        o
    }

    /// Only verified scores move the best score; in optimization mode a new best is checkpointed.
    fn checkpoint_decision(
        &mut self,
        n: u32,
        score: Option<f64>,
        data: &Object,
        doc: &mut ResultDoc,
    ) -> io::Result<()> {
        let checkpointable = match data.get("post_attempt") {
            Some(Value::Object(p)) => p.get("passed") == Some(&Value::Bool(true)),
            _ => is_solved_and_verified(data),
        };
        let Some(score) = score.filter(|_| checkpointable) else {
            return Ok(());
        };
        if self
            .best_score
            .is_some_and(|best| !self.objective.better(score, best))
        {
            return Ok(());
        }
        self.best_score = Some(score);
        if self.config.optimization_mode && self.config.restore_best {
            let manifest =
                self.checkpoints
                    .capture(self.ws(), n, score, "post_attempt_best_score")?;
            doc.update(json!({"optimization": {"best_checkpoint": manifest}}))?;
            self.record_capture(manifest);
        }
        Ok(())
    }

    fn record_capture(&mut self, manifest: Value) {
        if let Some(Value::Array(list)) = self.checkpoint.get_mut("captures") {
            list.push(manifest.clone());
        }
        self.checkpoint.insert("latest".into(), manifest);
    }

    /// The iteration's last write: `finish` applies final updates and says whether it solved the
    /// task; the finished marker (what `--resume` looks for) goes in the same write.
    fn close_iteration(
        &mut self,
        mut record: IterationRecord,
        doc: &mut ResultDoc,
        finish: impl FnOnce(&mut Object) -> bool,
    ) -> io::Result<Step> {
        let mut solved = false;
        let data = doc.update_with(|data| {
            solved = finish(data);
            data.insert("harnessgym_finished_at".into(), json!(fsx::utc_now()));
            data.insert("harnessgym_solved".into(), json!(solved));
        })?;
        record.status = status_of(data);
        record.solved = solved;
        let damage = result_errors(data, record.iteration);
        self.errors.extend(damage);
        self.records.push(record);
        Ok(if solved {
            Step::Stop(Ending::Solved)
        } else {
            Step::Next
        })
    }

    fn interrupted(
        &mut self,
        mut record: IterationRecord,
        doc: &mut ResultDoc,
    ) -> io::Result<Step> {
        let data = doc.update(json!({"status": "interrupted"}))?;
        record.status = status_of(data);
        let damage = result_errors(data, record.iteration);
        self.errors.extend(damage);
        self.records.push(record);
        Ok(Step::Stop(Ending::Interrupted))
    }

    /// Restores the best checkpoint (optimization mode, normal endings only) and writes the summary.
    fn finish(mut self, ending: Ending) -> RunOutcome {
        let mut ending = ending;
        if matches!(ending, Ending::Solved | Ending::NotSolved)
            && self.config.optimization_mode
            && self.config.restore_best
        {
            if let Err(e) = self.restore_best() {
                self.errors.push(json!({"at": fsx::utc_now(), "message": format!("restoring the best checkpoint failed: {e}")}));
                self.error = Some(format!("restoring the best checkpoint failed: {e}"));
                ending = Ending::Error;
            }
        }
        let final_status = match ending {
            Ending::Interrupted => "interrupted".to_string(),
            Ending::Error => "error".to_string(),
            _ => self
                .records
                .last()
                .map(|r| r.status.clone())
                .unwrap_or_else(|| "not_started".into()),
        };
        let state = match ending {
            Ending::Interrupted => "interrupted",
            Ending::Error => "error",
            _ => "finished",
        };
        self.runner.close();
        if let Err(e) = self.write_summary_with(state, &final_status) {
            self.error
                .get_or_insert(format!("cannot write summary.json: {e}"));
            ending = Ending::Error;
        }
        RunOutcome {
            summary: fsx::read_json_object(&self.dir.join("summary.json"))
                .ok()
                .flatten()
                .map(Value::Object)
                .unwrap_or(Value::Null),
            run_id: self.run_id.clone(),
            last_result: self.records.last().map(|r| r.result_path.clone()),
            run_dir: self.dir.clone(),
            ending,
            final_status,
            error: self.error.clone(),
        }
    }

    fn restore_best(&mut self) -> io::Result<()> {
        if !self.checkpoints.exists() {
            self.checkpoint
                .insert("reason".into(), json!("no_checkpoint_captured"));
            return Ok(());
        }
        self.progress.phase_started(0, "restore_best");
        let started = Instant::now();
        let mut report = self.checkpoints.restore(self.ws())?;
        if let Some(cmd) = self.config.post_attempt_command.clone() {
            let post = post_command::run(
                &self.config,
                &cmd,
                &self.dir.join("checkpoints"),
                "restored_best",
                &self.cancel,
            )?;
            report["post_restore_passed"] = json!(post.passed);
            report["post_restore"] = post.to_json();
        }
        self.progress.phase_finished(
            0,
            "restore_best",
            "completed",
            started.elapsed().as_secs_f64(),
        );
        self.checkpoint.insert("restored".into(), json!(true));
        self.checkpoint.insert("restore".into(), report.clone());
        if let Some(last) = self.records.last() {
            ResultDoc::open(last.result_path.clone())
                .update(json!({"optimization": {"restored_best_checkpoint": report}}))?;
        }
        Ok(())
    }

    fn write_summary(&self, state: &str) -> io::Result<()> {
        let status = self
            .records
            .last()
            .map(|r| r.status.clone())
            .unwrap_or_else(|| "running".into());
        self.write_summary_with(
            state,
            if state == "running" {
                "running"
            } else {
                &status
            },
        )
    }

    fn write_summary_with(&self, state: &str, final_status: &str) -> io::Result<()> {
        let baseline = self.baseline_score();
        let mut verified_scores: Vec<f64> = baseline.into_iter().collect();
        let mut reported_scores = Vec::new();
        let mut usage_rows = Vec::new();
        let mut gate_rows = Vec::new();
        for r in &self.records {
            let data = result::read_lenient(&r.result_path);
            if let Some(s) = extract_score(&data, &self.config.score_key) {
                reported_scores.push(s);
                let post_passed = data
                    .get("post_attempt")
                    .map(|p| p.get("passed") == Some(&Value::Bool(true)));
                if post_passed.unwrap_or_else(|| is_verified(&data)) {
                    verified_scores.push(s);
                }
            }
            if let Some(u) = data.get("harness_usage") {
                usage_rows.push(json!({
                    "iteration": r.iteration, "active_skill_count": u["active_skill_count"], "active_mcp_count": u["active_mcp_count"],
                    "active_tool_count": u["active_tool_count"], "declared_tool_use_count": u["declared_tool_use_count"],
                    "inferred_tool_use_count": u["inferred_tool_use_count"], "used_active_tools": u["used_active_tools"],
                    "mcp_call_count": u["mcp_call_count"],
                }));
            }
            if let Some(g) = data.get("harness_quality_gate").filter(|g| g.is_object()) {
                let q = data.get("artifact_qualification");
                gate_rows.push(json!({
                    "iteration": r.iteration, "status": g["status"], "active_mcp_count": g["active_mcp_count"],
                    "inactive_mcp_count": g["inactive_mcp_count"], "active_tool_count": g["active_tool_count"],
                    "qualification_status": q.and_then(|q| q.get("status")),
                }));
            }
        }
        let best = |scores: &[f64]| {
            scores
                .iter()
                .copied()
                .reduce(|a, b| if self.objective.better(b, a) { b } else { a })
        };
        let best_score = best(&verified_scores);
        let mut optimization = json!({
            "enabled": self.config.optimization_mode, "score_key": self.config.score_key,
            "higher_is_better": self.config.higher_is_better, "baseline_score": baseline, "best_score": best_score,
            "improved": false, "restore_best": self.config.restore_best, "best_checkpoint": self.checkpoint,
        });
        if let (Some(b), Some(s)) = (baseline, best_score) {
            optimization["improved"] = json!(self.objective.better(s, b));
            optimization["absolute_delta_from_baseline"] = json!(s - b);
            if b != 0.0 {
                let (key, value) = if self.config.higher_is_better {
                    ("relative_improvement", s / b - 1.0)
                } else {
                    ("relative_reduction", 1.0 - s / b)
                };
                optimization[key] = json!(value);
            }
        }
        let summary = json!({
            "run_id": self.run_id,
            "state": state,
            "started_at": self.started,
            "updated_at": fsx::utc_now(),
            "iterations": self.records.iter().map(IterationRecord::to_json).collect::<Vec<_>>(),
            "final_status": final_status,
            "solved": self.records.last().is_some_and(|r| r.solved),
            "best_score": best_score,
            "best_reported_score": best(&reported_scores),
            "baseline_post_attempt": self.baseline_json,
            "optimization": optimization,
            "best_checkpoint": self.checkpoint,
            "artifact_qualification": {"template": self.template, "reports": self.qualification_rows},
            "harness_usage": usage_rows,
            "harness_quality_gates": gate_rows,
            "errors": self.errors,
        });
        fsx::write_json(&self.dir.join("summary.json"), &summary)
    }
}

/// Stop when solved and verified (no stop score), or when a verified score reaches the stop score.
fn stop_rule(
    data: &Object,
    stop_score: Option<f64>,
    score_key: &str,
    objective: Objective,
) -> bool {
    match stop_score {
        None => is_solved_and_verified(data),
        Some(stop) => {
            is_verified(data)
                && extract_score(data, score_key).is_some_and(|s| objective.reaches(s, stop))
        }
    }
}

/// Where a phase runs.
struct PhaseAt<'c> {
    n: u32,
    dir: PathBuf,
    result_path: &'c Path,
    registry: &'c Registry,
}

enum Step {
    Next,
    Stop(Ending),
}

/// The damage an iteration's result.json recorded (`harnessgym_errors`), tagged with the
/// iteration, for the run's `summary.json` `errors`.
fn result_errors(data: &Object, iteration: u32) -> Vec<Value> {
    match data.get("harnessgym_errors") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if let Value::Object(m) = &mut e {
                    m.insert("iteration".into(), json!(iteration));
                }
                e
            })
            .collect(),
        _ => Vec::new(),
    }
}
