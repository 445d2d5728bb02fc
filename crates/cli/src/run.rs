//! `harnessgym run`.

use crate::exit;
use crate::progress::TerminalProgress;
use clap::Args;
use harnessgym_core::cancel::CancelToken;
use harnessgym_core::config::{values_from_json, RunConfig, RunValues};
use harnessgym_core::fsx;
use harnessgym_core::harness::activation::{McpActivator, SupervisedMcp};
use harnessgym_core::orchestrator::{self, Ending, RunOutcome, RunRequest, StartError};
use harnessgym_core::runner::claude::ClaudeRunner;
use harnessgym_core::runner::codex::CodexRunner;
use harnessgym_core::runner::fake::{FakeRunner, FakeScript};
use harnessgym_core::runner::preflight;
use harnessgym_core::runner::tui_goal::TuiGoalRunner;
use harnessgym_core::runner::Runner;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `harnessgym run`: the original's names and defaults, plus `--json`, `--resume`
/// and `--fake-script`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Task file (Markdown or text).
    #[arg(long, conflicts_with = "task_text")]
    task: Option<String>,
    /// Inline task text.
    #[arg(long)]
    task_text: Option<String>,
    /// Workspace directory the agent works in (must exist).
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// Number of iterations.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    iterations: i64,
    /// Attempt phase timeout (90, 45m, 1h30m, 2.5s, 500ms).
    #[arg(long, default_value = "45m")]
    attempt_timeout: String,
    /// Per-iteration attempt timeouts, comma-separated; the last one repeats.
    #[arg(long)]
    attempt_timeouts: Option<String>,
    /// Build (and repair) phase timeout.
    #[arg(long, default_value = "20m")]
    build_timeout: String,
    /// Reflection phase timeout (default: the build timeout).
    #[arg(long)]
    reflection_timeout: Option<String>,
    /// Runner backend.
    #[arg(long, default_value = "exec", value_parser = ["exec", "claude", "tui-goal", "fake"])]
    runner: String,
    #[arg(long, default_value = "codex")]
    codex_bin: String,
    #[arg(long, default_value = "claude")]
    claude_bin: String,
    #[arg(long)]
    claude_model: Option<String>,
    #[arg(long, default_value = "bypassPermissions")]
    claude_permission_mode: String,
    /// Per-phase spend cap passed to Claude Code.
    #[arg(long)]
    claude_max_budget_usd: Option<f64>,
    /// Extra argument for Claude Code (repeatable; use --claude-extra-arg=--flag for dashes).
    #[arg(long = "claude-extra-arg", allow_hyphen_values = true)]
    claude_extra_args: Vec<String>,
    /// Extra argument for every `codex exec` (repeatable; use --codex-extra-arg=-c for dashes).
    #[arg(long = "codex-extra-arg", allow_hyphen_values = true)]
    codex_extra_args: Vec<String>,
    /// Run id (letters, digits, '-', '_', '.'); generated when absent.
    #[arg(long)]
    run_id: Option<String>,
    /// After a verified solve, still reflect and build.
    #[arg(long)]
    build_after_solve: bool,
    /// Stop once a verified score reaches this value.
    #[arg(long, allow_negative_numbers = true)]
    stop_score: Option<f64>,
    /// Metric key.
    #[arg(long, default_value = "score")]
    score_key: String,
    /// Higher scores are better (default: lower is better).
    #[arg(long)]
    higher_is_better: bool,
    /// Between iterations: keep the workspace (continue) or restore the initial task files (reset).
    #[arg(long, default_value = "continue", value_parser = ["continue", "reset"])]
    task_state: String,
    #[arg(long, default_value = "deep", value_parser = ["standard", "deep"])]
    harness_depth: String,
    /// Independent check run after every attempt; its JSON verdict decides `verified`.
    #[arg(long)]
    post_attempt_command: Option<String>,
    /// Key read from the post command's JSON (default: --score-key).
    #[arg(long)]
    post_attempt_score_key: Option<String>,
    #[arg(long, default_value = "2m")]
    post_attempt_timeout: String,
    /// Optimization mode: baseline, best checkpoints and restore.
    #[arg(long)]
    optimization_mode: bool,
    #[arg(long, overrides_with = "no_restore_best")]
    restore_best: bool,
    #[arg(long)]
    no_restore_best: bool,
    #[arg(long, overrides_with = "no_qualify_artifacts")]
    qualify_artifacts: bool,
    #[arg(long)]
    no_qualify_artifacts: bool,
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    artifact_repair_attempts: i64,
    /// JSON scenario for the fake runner.
    #[arg(long)]
    fake_script: Option<PathBuf>,
    /// Continue the interrupted run RUN_ID at its first unfinished iteration.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<String>,
    /// Print a machine-readable summary on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    fn values(self) -> RunValues {
        RunValues {
            workspace: self.workspace,
            task: self.task,
            task_text: self.task_text,
            iterations: self.iterations,
            attempt_timeout: self.attempt_timeout,
            attempt_timeouts: self.attempt_timeouts,
            build_timeout: self.build_timeout,
            reflection_timeout: self.reflection_timeout,
            runner: self.runner,
            codex_bin: self.codex_bin,
            claude_bin: self.claude_bin,
            claude_model: self.claude_model,
            claude_permission_mode: self.claude_permission_mode,
            claude_max_budget_usd: self.claude_max_budget_usd,
            claude_extra_args: self.claude_extra_args,
            codex_extra_args: self.codex_extra_args,
            run_id: self.run_id,
            build_after_solve: self.build_after_solve,
            stop_score: self.stop_score,
            score_key: self.score_key,
            higher_is_better: self.higher_is_better,
            task_state: self.task_state,
            attempt_only: false,
            harness_depth: self.harness_depth,
            post_attempt_command: self.post_attempt_command,
            post_attempt_score_key: self.post_attempt_score_key,
            post_attempt_timeout: self.post_attempt_timeout,
            optimization_mode: self.optimization_mode,
            restore_best: !self.no_restore_best,
            qualify_artifacts: !self.no_qualify_artifacts,
            artifact_repair_attempts: self.artifact_repair_attempts,
            fake_script: self.fake_script,
        }
    }
}

pub fn main(args: RunArgs) -> ExitCode {
    let json_out = args.json;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let resume = args.resume.clone();
    let config = match &resume {
        Some(id) => resume_config(&args.workspace, &cwd, id),
        None if args.task.is_none() && args.task_text.is_none() => {
            Err("provide --task FILE or --task-text TEXT".to_string())
        }
        None => RunConfig::from_values(args.values(), &cwd).map_err(|e| e.to_string()),
    };
    let config = match config {
        Ok(c) => c,
        Err(message) => return crate::usage_error(&message),
    };
    let runner = match checked_runner(&config) {
        Ok(runner) => runner,
        Err(code) => return code,
    };

    let cancel = CancelToken::new();
    install_signal_handlers(
        &cancel,
        "ending the agent's processes and writing the summary",
    );
    let progress = TerminalProgress::new(json_out, config.iterations);
    let request = RunRequest {
        config,
        runner,
        mcp: mcp_activator(&cancel),
        cancel,
        progress: &progress,
        resume: resume.is_some(),
    };
    let outcome = orchestrator::run(request);
    progress.finish();
    match outcome {
        Ok(outcome) => report(&outcome, json_out),
        Err(StartError::Usage(message)) => crate::usage_error(&message),
        Err(e) => {
            eprintln!("harnessgym: error: {e}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Why no runner can be made for a configuration; both are usage problems.
pub(crate) enum RunnerChoiceError {
    /// Printed as a usage error (a bad fake script).
    Usage(String),
    /// A runner this build does not have.
    Unavailable(String),
}

/// The runner a configuration asks for (shared with `compare`, which makes one per trial).
/// The runner `config` asks for, after its preflight (warnings printed). On a problem the one
/// line is printed and the exit code to end with is returned (`run` and `compare` alike).
pub(crate) fn checked_runner(config: &RunConfig) -> Result<Box<dyn Runner>, ExitCode> {
    let runner = match make_runner(config) {
        Ok(runner) => runner,
        Err(RunnerChoiceError::Usage(message)) => return Err(crate::usage_error(&message)),
        Err(RunnerChoiceError::Unavailable(message)) => {
            eprintln!("harnessgym: error: {message}");
            return Err(ExitCode::from(exit::USAGE));
        }
    };
    match preflight::check(config) {
        Ok(report) => {
            for w in report.warnings {
                eprintln!("harnessgym: warning: {w}");
            }
            Ok(runner)
        }
        Err(message) => {
            eprintln!("harnessgym: error: {message}");
            Err(ExitCode::from(exit::ERROR))
        }
    }
}

pub(crate) fn make_runner(config: &RunConfig) -> Result<Box<dyn Runner>, RunnerChoiceError> {
    Ok(match config.runner.as_str() {
        "fake" => {
            let script = match &config.fake_script {
                Some(path) => Some(FakeScript::load(path).map_err(RunnerChoiceError::Usage)?),
                None => None,
            };
            Box::new(FakeRunner::new(script))
        }
        "exec" => Box::new(CodexRunner::new(
            &config.codex_bin,
            &config.codex_extra_args,
        )),
        "claude" => Box::new(ClaudeRunner::new(config)),
        "tui-goal" => Box::new(TuiGoalRunner::new(&config.codex_bin)),
        other => {
            return Err(RunnerChoiceError::Unavailable(format!(
                "the {other} runner is not available in this build yet; use exec, claude or fake"
            )))
        }
    })
}

/// The MCP activator a run uses (shared with `compare`, which makes one per trial).
pub(crate) fn mcp_activator(cancel: &CancelToken) -> Box<dyn McpActivator> {
    Box::new(SupervisedMcp::new(cancel.clone()))
}

/// The configuration of run `id`, rebuilt from its `run_config.json`.
fn resume_config(workspace: &Path, cwd: &Path, id: &str) -> Result<RunConfig, String> {
    harnessgym_core::config::validate_run_id(id).map_err(|e| e.to_string())?;
    let ws = if workspace.is_absolute() {
        workspace.to_path_buf()
    } else {
        cwd.join(workspace)
    };
    let path = orchestrator::run_dir(&ws, id).join("run_config.json");
    let map = match fsx::read_json_object(&path) {
        Ok(Some(map)) => map,
        Ok(None) => {
            return Err(format!(
                "cannot resume run {id}: {} does not exist",
                path.display()
            ))
        }
        Err(e) => return Err(format!("cannot resume run {id}: {e}")),
    };
    let mut values = values_from_json(&map).map_err(|e| e.to_string())?;
    values.task_text = map
        .get("task_text")
        .and_then(Value::as_str)
        .map(str::to_string);
    values.run_id = Some(id.to_string());
    RunConfig::from_values(values, cwd).map_err(|e| format!("cannot resume run {id}: {e}"))
}

/// First SIGINT/SIGTERM: say what is being stopped (`doing`) and cancel; second: exit 130.
pub(crate) fn install_signal_handlers(cancel: &CancelToken, doing: &'static str) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let cancel = cancel.clone();
    std::thread::spawn(move || {
        for (count, _) in signals.forever().enumerate() {
            if count == 0 {
                eprintln!("\nharnessgym: stopping: {doing} (Ctrl-C again to quit at once)");
                cancel.cancel();
            } else {
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        }
    });
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn report(outcome: &RunOutcome, json_out: bool) -> ExitCode {
    let code = match outcome.ending {
        Ending::Solved => exit::SOLVED,
        Ending::NotSolved => exit::NOT_SOLVED,
        Ending::Interrupted => exit::INTERRUPTED,
        Ending::Error => exit::ERROR,
    };
    let summary = &outcome.summary;
    if json_out {
        let machine = json!({
            "run_id": outcome.run_id,
            "run_dir": outcome.run_dir.to_string_lossy(),
            "ending": format!("{:?}", outcome.ending).to_lowercase(),
            "exit_code": code,
            "final_status": outcome.final_status,
            "solved": summary["solved"],
            "best_score": summary["best_score"],
            "iterations": summary["iterations"].as_array().map_or(0, Vec::len),
            "summary_path": outcome.run_dir.join("summary.json").to_string_lossy(),
            "last_result": outcome.last_result.as_ref().map(|p| p.to_string_lossy()),
            "error": outcome.error,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&machine).unwrap_or_default()
        );
    } else {
        println!("Run id: {}", outcome.run_id);
        println!("Run artifacts: {}", outcome.run_dir.display());
        println!("Final status: {}", outcome.final_status);
        println!(
            "Solved and verified: {}",
            py_bool(summary["solved"].as_bool().unwrap_or(false))
        );
        if let Some(last) = &outcome.last_result {
            println!("Final result: {}", last.display());
        }
        if summary["optimization"]["enabled"] == json!(true) {
            let improved = &summary["optimization"]["improved"];
            println!(
                "Optimization improved: {}",
                improved.as_bool().map_or("None", py_bool)
            );
            println!(
                "Best score: {}",
                summary["best_score"]
                    .as_f64()
                    .map_or("None".into(), |s| format!("{s:?}"))
            );
        }
        match outcome.ending {
            Ending::Interrupted => eprintln!(
                "harnessgym: run interrupted; continue it with: harnessgym run --workspace {} --resume {}",
                summary_workspace(outcome),
                outcome.run_id
            ),
            Ending::Error => eprintln!(
                "harnessgym: error: {}; continue with --resume {}",
                outcome.error.as_deref().unwrap_or("the run failed"),
                outcome.run_id
            ),
            _ => {}
        }
    }
    ExitCode::from(code)
}

fn summary_workspace(outcome: &RunOutcome) -> String {
    // RUN = <ws>/.harnessgym/runs/<id>
    outcome
        .run_dir
        .ancestors()
        .nth(3)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into())
}
