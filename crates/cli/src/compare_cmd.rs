//! `harnessgym compare`: plain vs harnessed trials, interleaved, N at a time.
//!
//! Exit codes: 0 when the compare finished — every planned trial has a record and the report is
//! complete (invalid trials and trial errors are results, recorded in the report, not failures
//! of the command); 1 when it could not run or the report could not be written; 2 for usage
//! problems; 130 when interrupted (every trial's processes are ended and the report says
//! `"state": "interrupted"`; `--resume` finishes it).

use crate::exit;
use crate::run::{
    checked_runner, install_signal_handlers, make_runner, mcp_activator, RunnerChoiceError,
};
use clap::Args;
use harnessgym_core::cancel::CancelToken;
use harnessgym_core::compare::report::{CompareReport, NumberSummary, Trial};
use harnessgym_core::compare::{
    self, CompareConfig, CompareEnding, CompareError, CompareEvents, CompareRequest, CompareValues,
    LocalExecutor, Start, TrialEnv, TrialKey,
};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Flags of `harnessgym compare`: the original's names and defaults, plus `--jobs`, `--resume`,
/// `--json`, `--fake-script` and `--codex-extra-arg`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Task file; a relative path is looked up in the template first.
    #[arg(long, conflicts_with = "task_text")]
    task: Option<String>,
    /// Inline task text.
    #[arg(long)]
    task_text: Option<String>,
    /// Clean workspace copied for every trial.
    #[arg(long)]
    workspace_template: Option<PathBuf>,
    /// Workspace or .harnessgym directory whose artifacts the harnessed arm gets.
    #[arg(long)]
    artifact_source: Option<PathBuf>,
    /// Where trial workspaces and compare_report.json go.
    #[arg(long)]
    output_dir: PathBuf,
    /// Trials per arm.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    trials: i64,
    /// Iterations per trial (attempt-only).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    iterations: i64,
    #[arg(long, default_value = "5m")]
    attempt_timeout: String,
    /// Per-iteration attempt timeouts, comma-separated; the last one repeats.
    #[arg(long)]
    attempt_timeouts: Option<String>,
    /// Kept for compatibility; compare trials are attempt-only.
    #[arg(long, default_value = "1s")]
    build_timeout: String,
    /// Kept for compatibility; compare trials are attempt-only.
    #[arg(long, default_value = "1s")]
    reflection_timeout: String,
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
    #[arg(long)]
    claude_max_budget_usd: Option<f64>,
    /// Extra argument for Claude Code (repeatable).
    #[arg(long = "claude-extra-arg", allow_hyphen_values = true)]
    claude_extra_args: Vec<String>,
    /// Extra argument for every `codex exec` (repeatable).
    #[arg(long = "codex-extra-arg", allow_hyphen_values = true)]
    codex_extra_args: Vec<String>,
    #[arg(long, allow_negative_numbers = true)]
    stop_score: Option<f64>,
    /// Key of the agent's own score in result.json.
    #[arg(long, default_value = "score")]
    score_key: String,
    #[arg(long)]
    higher_is_better: bool,
    #[arg(long, default_value = "reset", value_parser = ["continue", "reset"])]
    task_state: String,
    /// Accepted for compatibility; trials are attempt-only.
    #[arg(long)]
    build_after_solve: bool,
    /// Independent check run in each trial workspace after the attempt; its JSON verdict and
    /// score are the post score.
    #[arg(long)]
    post_command: Option<String>,
    #[arg(long, default_value = "score")]
    post_score_key: String,
    #[arg(long, default_value = "2m")]
    post_timeout: String,
    /// Harnessed trials are invalid unless copied artifacts activate an MCP tool (default).
    #[arg(long, overrides_with = "no_require_active_harness")]
    require_active_harness: bool,
    #[arg(long)]
    no_require_active_harness: bool,
    /// Harnessed trials are invalid unless an MCP tool call succeeded.
    #[arg(long, overrides_with = "no_require_harness_tool_use")]
    require_harness_tool_use: bool,
    #[arg(long)]
    no_require_harness_tool_use: bool,
    /// Replace an earlier compare in --output-dir.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Trials run at once, each in its own workspace copy.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    jobs: u32,
    /// Finish the interrupted compare in --output-dir (its settings come from its report).
    #[arg(long)]
    resume: bool,
    /// Print a machine-readable summary on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// Fake-runner scenario for every trial, or per arm and trial:
    /// {"plain": {"1": SCENARIO, "default": SCENARIO}, "harnessed": {…}}.
    #[arg(long)]
    fake_script: Option<PathBuf>,
}

impl CompareArgs {
    fn values(&self) -> CompareValues {
        CompareValues {
            workspace_template: self.workspace_template.clone(),
            output_dir: self.output_dir.clone(),
            task: self.task.clone(),
            task_text: self.task_text.clone(),
            artifact_source: self.artifact_source.clone(),
            trials: self.trials,
            iterations: self.iterations,
            attempt_timeout: self.attempt_timeout.clone(),
            attempt_timeouts: self.attempt_timeouts.clone(),
            build_timeout: self.build_timeout.clone(),
            reflection_timeout: self.reflection_timeout.clone(),
            runner: self.runner.clone(),
            codex_bin: self.codex_bin.clone(),
            claude_bin: self.claude_bin.clone(),
            claude_model: self.claude_model.clone(),
            claude_permission_mode: self.claude_permission_mode.clone(),
            claude_max_budget_usd: self.claude_max_budget_usd,
            claude_extra_args: self.claude_extra_args.clone(),
            codex_extra_args: self.codex_extra_args.clone(),
            stop_score: self.stop_score,
            score_key: self.score_key.clone(),
            higher_is_better: self.higher_is_better,
            task_state: self.task_state.clone(),
            build_after_solve: self.build_after_solve,
            post_command: self.post_command.clone().filter(|c| !c.trim().is_empty()),
            post_score_key: self.post_score_key.clone(),
            post_timeout: self.post_timeout.clone(),
            require_active_harness: !self.no_require_active_harness,
            require_harness_tool_use: self.require_harness_tool_use
                && !self.no_require_harness_tool_use,
            fake_script: self.fake_script.clone(),
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("harnessgym: error: {message} (see harnessgym compare --help)");
    ExitCode::from(exit::USAGE)
}

pub fn main(args: CompareArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let config = if args.resume {
        if args.task.is_some() || args.task_text.is_some() || args.workspace_template.is_some() {
            return usage("--resume takes its settings from the report in --output-dir; give only --output-dir (and --jobs, --json)");
        }
        let out = if args.output_dir.is_absolute() {
            args.output_dir.clone()
        } else {
            cwd.join(&args.output_dir)
        };
        let path = out.join("compare_report.json");
        let report = match CompareReport::read(&path) {
            Ok(r) => r,
            Err(e) => return usage(&format!("cannot resume: {e}")),
        };
        let Some(stored) = report.config.as_ref() else {
            return usage(&format!(
                "cannot resume: {} has no settings (it was not written by this tool)",
                path.display()
            ));
        };
        match CompareConfig::from_json(stored, &cwd) {
            Ok(c) => c,
            Err(e) => return usage(&format!("cannot resume: {e}")),
        }
    } else {
        match CompareConfig::from_values(args.values(), &cwd) {
            Ok(c) => c,
            Err(e) => return usage(&e.to_string()),
        }
    };

    // The runner is checked once, on the template, before anything is written.
    let probe = match config.probe_run_config(&cwd) {
        Ok(p) => p,
        Err(e) => return usage(&e.to_string()),
    };
    if let Err(code) = checked_runner(&probe) {
        return code;
    }

    let cancel = CancelToken::new();
    install_signal_handlers(
        &cancel,
        "ending every trial's processes and writing the report",
    );
    let display = Display::new(args.json, config.schedule());
    let env = TrialEnv {
        runner: Arc::new(|rc| {
            make_runner(rc).map_err(|e| match e {
                RunnerChoiceError::Usage(m) | RunnerChoiceError::Unavailable(m) => m,
            })
        }),
        mcp: Arc::new(mcp_activator),
        cancel,
        cwd,
    };
    let start = if args.resume {
        Start::Resume
    } else if args.overwrite {
        Start::Overwrite
    } else {
        Start::Fresh
    };
    let executor = LocalExecutor::new(args.jobs as usize);
    let outcome = compare::run(CompareRequest {
        config,
        start,
        executor: &executor,
        env,
        events: &display,
    });
    display.finish();
    match outcome {
        Ok(outcome) => report(&outcome, args.json),
        Err(CompareError::Usage(m)) => usage(&m),
        Err(e) => {
            eprintln!("harnessgym: error: {e}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Python's rendering of an optional float: `None`, or the shortest round-trip form.
fn py(v: Option<f64>) -> String {
    v.map_or("None".into(), |x| format!("{x:?}"))
}

fn show(v: Option<f64>) -> String {
    v.map_or("invalid".into(), |x| format!("{x:?}"))
}

fn report(outcome: &compare::CompareOutcome, json_out: bool) -> ExitCode {
    let code = match outcome.ending {
        CompareEnding::Finished => 0,
        CompareEnding::Interrupted => exit::INTERRUPTED,
        CompareEnding::Error => exit::ERROR,
    };
    let r = &outcome.report;
    let out_dir = outcome
        .report_path
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let invalid: Vec<Value> = r
        .trials
        .iter()
        .filter(|t| !t.comparison_valid || t.post_valid == Some(false))
        .map(|t| {
            json!({"group": t.group, "trial": t.trial,
                   "reason": if t.comparison_invalid_reason.is_empty() { &t.post_invalid_reason } else { &t.comparison_invalid_reason }})
        })
        .collect();
    let errors: Vec<Value> = r
        .trials
        .iter()
        .filter(|t| !t.error.is_empty())
        .map(|t| json!({"group": t.group, "trial": t.trial, "error": t.error}))
        .collect();
    let warnings = r
        .fairness
        .as_ref()
        .map(|f| f.warnings.clone())
        .unwrap_or_default();
    if json_out {
        let machine = json!({
            "report_path": outcome.report_path.to_string_lossy(),
            "output_dir": out_dir,
            "state": r.state,
            "exit_code": code,
            "trials_planned": r.trials.len() + r.pending.as_ref().map_or(0, Vec::len),
            "trials_recorded": r.trials.len(),
            "pending": r.pending,
            "summary": r.summary,
            "paired": r.paired.as_ref().map(|p| json!({
                "metric": p.metric, "metric_source": p.metric_source, "higher_is_better": p.higher_is_better,
                "count": p.count, "harnessed_better": p.harnessed_better, "plain_better": p.plain_better,
                "ties": p.ties, "median_delta_harnessed_minus_plain": p.median_delta_harnessed_minus_plain,
                "unpaired": p.unpaired,
            })),
            "score_labels": r.score_labels,
            "invalid_trials": invalid,
            "errors": errors,
            "fairness_warnings": warnings,
            "error": outcome.error,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&machine).unwrap_or_default()
        );
    } else {
        println!("Compare report: {}", outcome.report_path.display());
        for group in ["plain", "harnessed"] {
            let Some(s) = r.summary.get(group) else {
                continue;
            };
            println!(
                "{group}: n={} median_attempt={} median_cumulative_attempt={} best_post_score={} post_valid={} post_invalid={}",
                s.count,
                py(s.attempt_duration_seconds.median),
                py(s.cumulative_attempt_duration_seconds.median),
                py(s.post_score.best),
                s.post_score.valid_count.unwrap_or(s.post_score.count),
                s.post_score.invalid_count.unwrap_or(0),
            );
        }
        let line =
            |name: &str,
             label: &str,
             pick: &dyn Fn(&compare::report::GroupSummary) -> &NumberSummary| {
                let parts: Vec<String> = ["plain", "harnessed"]
                    .iter()
                    .filter_map(|g| r.summary.get(*g).map(|s| (g, pick(s))))
                    .map(|(g, n)| {
                        if n.count == 0 && n.invalid_count.unwrap_or(0) == 0 {
                            return format!("{g} none");
                        }
                        format!(
                            "{g} median={} best={} (n={}, invalid={})",
                            show(n.median),
                            show(n.best),
                            n.count,
                            n.invalid_count.unwrap_or(0)
                        )
                    })
                    .collect();
                println!("{name} ({label}): {}", parts.join(" · "));
            };
        if r.trials.iter().any(|t| t.post_result.is_some()) {
            line(
                "post_score",
                "independent, invalid trials ranked worst",
                &|s| &s.post_score,
            );
        }
        line("score", "agent-reported, not independent", &|s| &s.score);
        if let Some(p) = &r.paired {
            println!(
                "paired on {} ({}): harnessed better {}, plain better {}, ties {} of {} pair(s); median harnessed - plain = {} ({} is better)",
                p.metric,
                p.metric_source.replace('_', "-"),
                p.harnessed_better,
                p.plain_better,
                p.ties,
                p.count,
                p.median_delta_harnessed_minus_plain
                    .map_or("n/a".into(), |d| format!("{d:?}")),
                if p.higher_is_better { "higher" } else { "lower" }
            );
            for u in &p.unpaired {
                println!(
                    "unpaired: {} {} ({}); not counted",
                    u.group, u.trial, u.reason
                );
            }
        }
        for t in &invalid {
            println!(
                "invalid: {} {}: {}",
                t["group"].as_str().unwrap_or(""),
                t["trial"],
                t["reason"].as_str().unwrap_or("")
            );
        }
        for w in &warnings {
            eprintln!("harnessgym: warning: {w}");
        }
    }
    match outcome.ending {
        CompareEnding::Interrupted => eprintln!(
            "harnessgym: compare interrupted; finish it with: harnessgym compare --output-dir {out_dir} --resume"
        ),
        CompareEnding::Error => eprintln!(
            "harnessgym: error: {}",
            outcome.error.as_deref().unwrap_or("the compare failed")
        ),
        CompareEnding::Finished => {}
    }
    ExitCode::from(code)
}

// --- progress ------------------------------------------------------------------------------

#[derive(Clone)]
enum RowState {
    Queued,
    Running { phase: String, since: Instant },
    Done { summary: String, seconds: f64 },
    Interrupted,
}

struct Row {
    key: TrialKey,
    state: RowState,
}

struct Board {
    rows: Vec<Row>,
    drawn: usize,
    started: Instant,
}

/// A live table of trials on a terminal; plain lines otherwise. Goes to stderr under `--json`.
struct Display {
    to_stderr: bool,
    live: bool,
    board: Arc<Mutex<Board>>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn emit(to_stderr: bool, text: &str) {
    if to_stderr {
        let mut e = std::io::stderr();
        let _ = e.write_all(text.as_bytes());
        let _ = e.flush();
    } else {
        let mut o = std::io::stdout();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }
}

fn trial_summary(t: &Trial) -> String {
    let mut parts = Vec::new();
    if !t.error.is_empty() {
        parts.push("error".to_string());
    } else if t.comparison_valid {
        parts.push("valid".to_string());
    } else {
        parts.push("invalid".to_string());
    }
    if let Some(p) = &t.post_result {
        match (t.post_valid, t.post_score) {
            (Some(true), Some(s)) => parts.push(format!("post {s:?}")),
            _ => parts.push(format!("post {} (worst)", p.status)),
        }
    }
    if let Some(s) = t.score {
        parts.push(format!("agent score {s:?}"));
    }
    parts.join(" · ")
}

impl Display {
    fn new(to_stderr: bool, schedule: Vec<TrialKey>) -> Display {
        let live = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let board = Arc::new(Mutex::new(Board {
            rows: schedule
                .into_iter()
                .map(|key| Row {
                    key,
                    state: RowState::Queued,
                })
                .collect(),
            drawn: 0,
            started: Instant::now(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = live.then(|| {
            let (board, stop) = (board.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    {
                        let mut b = board.lock().expect("board");
                        redraw(&mut b, to_stderr, None);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        });
        Display {
            to_stderr,
            live,
            board,
            stop,
            ticker: Mutex::new(ticker),
        }
    }

    fn update(&self, key: TrialKey, change: impl FnOnce(&mut Row)) {
        let mut b = self.board.lock().expect("board");
        if let Some(row) = b.rows.iter_mut().find(|r| r.key == key) {
            change(row);
        }
        if self.live {
            redraw(&mut b, self.to_stderr, None);
        }
    }

    fn line(&self, text: &str) {
        if self.live {
            let mut b = self.board.lock().expect("board");
            redraw(&mut b, self.to_stderr, Some(text));
        } else {
            emit(self.to_stderr, &format!("{text}\n"));
        }
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().expect("ticker").take() {
            let _ = t.join();
        }
        if self.live {
            let mut b = self.board.lock().expect("board");
            redraw(&mut b, self.to_stderr, None);
            b.drawn = 0;
        }
    }
}

/// Redraws the table in place; `note` is printed above it first (scrolling with the output).
fn redraw(b: &mut Board, to_stderr: bool, note: Option<&str>) {
    let mut text = String::new();
    if b.drawn > 0 {
        text.push_str(&format!("\x1b[{}A\r", b.drawn));
    }
    text.push_str("\x1b[J");
    if let Some(n) = note {
        text.push_str(n);
        text.push('\n');
    }
    let (mut done, mut running, mut queued, mut bad) = (0, 0, 0, 0);
    for r in &b.rows {
        match &r.state {
            RowState::Done { summary, .. } => {
                done += 1;
                if !summary.starts_with("valid") {
                    bad += 1;
                }
            }
            RowState::Running { .. } => running += 1,
            RowState::Queued | RowState::Interrupted => queued += 1,
        }
    }
    // Every row when they fit; otherwise the running ones, the latest finished, the next queued.
    let limit = 20;
    let shown: Vec<&Row> = if b.rows.len() <= limit {
        b.rows.iter().collect()
    } else {
        let run: Vec<&Row> = b
            .rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Running { .. }))
            .collect();
        let fin: Vec<&Row> = b
            .rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Done { .. } | RowState::Interrupted))
            .collect();
        let que: Vec<&Row> = b
            .rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Queued))
            .take(3)
            .collect();
        let keep = limit.saturating_sub(run.len() + que.len());
        let mut v: Vec<&Row> = fin[fin.len().saturating_sub(keep)..].to_vec();
        v.extend(run);
        v.extend(que);
        v.sort_by_key(|r| r.key.schedule_index());
        v
    };
    let mut lines = 0;
    for r in shown {
        let label = r.key.label();
        let row = match &r.state {
            RowState::Queued => format!("  {label:<14} queued"),
            RowState::Interrupted => format!("  {label:<14} interrupted"),
            RowState::Running { phase, since } => format!(
                "\x1b[1m▸ {label:<14} {phase:<9} {:>6.1}s\x1b[0m",
                since.elapsed().as_secs_f64()
            ),
            RowState::Done { summary, seconds } => {
                let mark = if summary.starts_with("valid") {
                    "✓"
                } else {
                    "✗"
                };
                format!("{mark} {label:<14} done      {seconds:>6.1}s  {summary}")
            }
        };
        text.push_str(&row);
        text.push('\n');
        lines += 1;
    }
    text.push_str(&format!(
        "  {done}/{} recorded · {running} running · {queued} waiting · {bad} invalid · {:.1}s\n",
        b.rows.len(),
        b.started.elapsed().as_secs_f64()
    ));
    b.drawn = lines + 1;
    emit(to_stderr, &text);
}

impl CompareEvents for Display {
    fn trial_started(&self, key: TrialKey) {
        self.update(key, |r| {
            r.state = RowState::Running {
                phase: "start".into(),
                since: Instant::now(),
            };
        });
        if !self.live {
            emit(self.to_stderr, &format!("{} · started\n", key.label()));
        }
    }

    fn trial_phase(&self, key: TrialKey, phase: &str, status: Option<&str>, seconds: f64) {
        if self.live {
            if status.is_none() {
                let phase = phase.to_string();
                self.update(key, move |r| {
                    r.state = RowState::Running {
                        phase,
                        since: Instant::now(),
                    }
                });
            }
        } else if let Some(status) = status {
            emit(
                self.to_stderr,
                &format!("{} · {phase} · {status} · {seconds:.1}s\n", key.label()),
            );
        }
    }

    fn trial_finished(&self, key: TrialKey, trial: &Trial) {
        let summary = trial_summary(trial);
        let seconds = trial
            .timings
            .as_ref()
            .and_then(|t| t.get("total_seconds").copied())
            .unwrap_or(trial.duration_seconds);
        if !self.live {
            emit(
                self.to_stderr,
                &format!("{} · recorded · {summary} · {seconds:.1}s\n", key.label()),
            );
        }
        self.update(key, |r| r.state = RowState::Done { summary, seconds });
    }

    fn trial_interrupted(&self, key: TrialKey) {
        self.update(key, |r| r.state = RowState::Interrupted);
        if !self.live {
            emit(self.to_stderr, &format!("{} · interrupted\n", key.label()));
        }
    }

    fn note(&self, text: &str) {
        self.line(text);
    }
}
