//! `harnessgym compare`: fair A/B trials of the plain agent against the harnessed one
//! (spec/harness.md §7), with the original's layout and files:
//!
//! ```text
//! <output>/compare_report.json
//! <output>/<plain|harnessed>/trial_<i>/{workspace/, trial.json, post.stdout.txt, post.stderr.txt}
//! ```
//!
//! What is fixed compared with the original (spec/harness.md §10 items 1 and 21):
//! * The arms are interleaved (plain 1, harnessed 1, plain 2, …), so drift in time or quota hits
//!   both alike; with `jobs > 1` trials of both arms run side by side.
//! * The report is written before the first trial and rewritten, atomically, as each trial ends
//!   (as is that trial's `trial.json`): a crash loses at most the trials in flight, and
//!   `--resume` runs exactly those that have no record. A compare without a post command writes
//!   its report (post status `not_run`).
//! * One trial's error is recorded on that trial (which becomes invalid) and the others go on.
//! * The artifact source is validated before any trial runs.
//! * Invalid trials rank worst in the `score` and `post_score` summaries; trials whose
//!   counterpart has no record are listed as unpaired and never counted in the paired result.
//! * `score` (the agent's own claim) and `post_score` (the independent post command) are kept
//!   apart and labelled (`score_labels`, `score_source`, `post_score_source`).
//! * Fairness warnings when the arms differ in anything but the harness.

pub mod config;
pub mod executor;
pub mod report;
pub mod stats;
pub mod trial;
pub mod workspace;

pub use config::{CompareConfig, CompareValues};
pub use executor::{LocalExecutor, TrialExecutor, TrialSink};
pub use report::{CompareReport, Trial};
pub use trial::{TrialEnv, TrialOutcome};

use crate::fsx;
use report::PendingTrial;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The two arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Plain,
    Harnessed,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Plain => "plain",
            Group::Harnessed => "harnessed",
        }
    }
}

/// One trial of one arm (1-based index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrialKey {
    pub group: Group,
    pub index: u32,
}

impl TrialKey {
    /// `compare-<group>-<i>`.
    pub fn run_id(self) -> String {
        format!("compare-{}-{}", self.group.as_str(), self.index)
    }

    /// Position in the interleaved schedule: 0 = plain 1, 1 = harnessed 1, 2 = plain 2, …
    pub fn schedule_index(self) -> u32 {
        (self.index - 1) * 2 + u32::from(self.group == Group::Harnessed)
    }

    /// `plain 1`.
    pub fn label(self) -> String {
        format!("{} {}", self.group.as_str(), self.index)
    }
}

/// Live progress of a compare; called from every worker thread.
pub trait CompareEvents: Sync {
    fn trial_started(&self, _key: TrialKey) {}
    /// A phase started (`status` None) or ended.
    fn trial_phase(&self, _key: TrialKey, _phase: &str, _status: Option<&str>, _seconds: f64) {}
    fn trial_finished(&self, _key: TrialKey, _trial: &Trial) {}
    fn trial_interrupted(&self, _key: TrialKey) {}
    fn note(&self, _text: &str) {}
}

/// Ignores progress.
pub struct QuietEvents;
impl CompareEvents for QuietEvents {}

/// What to do with an output directory that already holds a compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Refuse it.
    Fresh,
    /// Remove its trials and report first (`--overwrite`).
    Overwrite,
    /// Keep its recorded trials and run the others (`--resume`).
    Resume,
}

/// Everything a compare needs from outside.
pub struct CompareRequest<'a> {
    pub config: CompareConfig,
    pub start: Start,
    pub executor: &'a dyn TrialExecutor,
    pub env: TrialEnv,
    pub events: &'a dyn CompareEvents,
}

/// How a compare ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareEnding {
    /// Every planned trial has a record (valid or not) and the report is complete.
    Finished,
    /// Stopped by Ctrl-C; `--resume` runs the trials without a record.
    Interrupted,
    /// The report could not be written, or trials were left without a record.
    Error,
}

/// The outcome of [`run`].
#[derive(Debug)]
pub struct CompareOutcome {
    pub ending: CompareEnding,
    pub report: CompareReport,
    pub report_path: PathBuf,
    pub error: Option<String>,
}

/// A problem that stops a compare before any trial runs.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Busy(String),
}

/// Runs (or resumes) a compare.
pub fn run(req: CompareRequest) -> Result<CompareOutcome, CompareError> {
    let config = &req.config;
    let out = &config.output_dir;
    std::fs::create_dir_all(out).map_err(|e| {
        CompareError::Io(format!(
            "cannot create output directory {}: {e}",
            out.display()
        ))
    })?;
    let _lock = lock(out)?;
    let report_path = config.report_path();
    let mut created_at = fsx::utc_now();
    let mut finished = BTreeMap::new();
    let mut notes = Vec::new();
    match req.start {
        Start::Fresh => {
            if holds_compare(out) {
                return Err(CompareError::Usage(format!(
                    "output directory {} already holds a compare; pass --resume to finish it or --overwrite to replace it",
                    out.display()
                )));
            }
        }
        Start::Overwrite => {
            for dir in ["plain", "harnessed", "interrupted"] {
                fsx::remove_any(&out.join(dir)).map_err(|e| {
                    CompareError::Io(format!("cannot remove {}: {e}", out.join(dir).display()))
                })?;
            }
            fsx::remove_any(&report_path).map_err(|e| {
                CompareError::Io(format!("cannot remove {}: {e}", report_path.display()))
            })?;
        }
        Start::Resume => {
            let previous = CompareReport::read(&report_path)
                .map_err(|e| CompareError::Usage(format!("cannot resume: {e}")))?;
            created_at = previous.created_at;
            for key in config.schedule() {
                let root = config.trial_root(key);
                match Trial::read(&root.join("trial.json")) {
                    Ok(t) if t.state.as_deref() == Some("finished") => {
                        finished.insert(key.schedule_index(), t);
                    }
                    _ if root.exists() => {
                        let aside = out.join("interrupted").join(format!(
                            "{}-trial_{}-{}",
                            key.group.as_str(),
                            key.index,
                            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
                        ));
                        std::fs::create_dir_all(out.join("interrupted"))
                            .and_then(|()| std::fs::rename(&root, &aside))
                            .map_err(|e| {
                                CompareError::Io(format!(
                                    "cannot move the unfinished trial {} aside: {e}",
                                    root.display()
                                ))
                            })?;
                        req.events.note(&format!(
                            "{}: unfinished; moved to {} and run again",
                            key.label(),
                            aside.display()
                        ));
                    }
                    _ => {}
                }
            }
            notes.push(format!(
                "resumed: {} of {} trials were recorded before this session",
                finished.len(),
                config.schedule().len()
            ));
        }
    }
    if config.harness_dir.is_none() {
        notes.push(
            "no --artifact-source: the harnessed arm gets no harness, so both arms run the same agent (an A/A comparison)"
                .into(),
        );
    }

    let coordinator = Coordinator {
        config,
        events: req.events,
        created_at,
        execution: json!({"executor": req.executor.name(), "jobs": req.executor.slots()}),
        notes,
        state: Mutex::new(State {
            finished,
            ..State::default()
        }),
    };
    let initial = coordinator.write("running");
    if let Err(e) = initial {
        return Err(CompareError::Io(format!(
            "cannot write {}: {e}",
            report_path.display()
        )));
    }
    let todo: Vec<TrialKey> = {
        let st = coordinator.state.lock().expect("compare state");
        config
            .schedule()
            .into_iter()
            .filter(|k| !st.finished.contains_key(&k.schedule_index()))
            .collect()
    };
    req.executor.execute(config, &todo, &req.env, &coordinator);

    let (pending, write_error) = {
        let st = coordinator.state.lock().expect("compare state");
        (
            config.schedule().len() - st.finished.len(),
            st.write_error.clone(),
        )
    };
    let (mut ending, mut error) = if pending == 0 {
        (CompareEnding::Finished, None)
    } else if req.env.cancel.is_cancelled() {
        (CompareEnding::Interrupted, None)
    } else {
        (
            CompareEnding::Error,
            Some(format!("{pending} trial(s) ended without a record")),
        )
    };
    let state = match ending {
        CompareEnding::Finished => "finished",
        CompareEnding::Interrupted => "interrupted",
        CompareEnding::Error => "error",
    };
    let report = match coordinator.write(state) {
        Ok(r) => r,
        Err(e) => {
            ending = CompareEnding::Error;
            error = Some(format!("cannot write {}: {e}", report_path.display()));
            coordinator.build(state)
        }
    };
    if error.is_none() {
        error = write_error.filter(|_| ending == CompareEnding::Error);
    }
    Ok(CompareOutcome {
        ending,
        report,
        report_path,
        error,
    })
}

/// True when `out` already holds a compare report or trial directories.
fn holds_compare(out: &Path) -> bool {
    out.join("compare_report.json").exists()
        || ["plain", "harnessed"].iter().any(|g| {
            std::fs::read_dir(out.join(g)).is_ok_and(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("trial_"))
            })
        })
}

/// One compare per output directory: an advisory `flock` released when the process dies.
fn lock(out: &Path) -> Result<File, CompareError> {
    let path = out.join(".compare.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| CompareError::Io(format!("cannot create {}: {e}", path.display())))?;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(CompareError::Busy(format!(
            "another compare is running in {}; wait for it to finish or stop it first",
            out.display()
        )));
    }
    Ok(file)
}

#[derive(Default)]
struct State {
    finished: BTreeMap<u32, Trial>,
    running: BTreeSet<u32>,
    interrupted: BTreeSet<u32>,
    write_error: Option<String>,
}

struct Coordinator<'a> {
    config: &'a CompareConfig,
    events: &'a dyn CompareEvents,
    created_at: String,
    execution: Value,
    notes: Vec<String>,
    state: Mutex<State>,
}

impl Coordinator<'_> {
    fn build(&self, state: &str) -> CompareReport {
        let st = self.state.lock().expect("compare state");
        self.build_from(&st, state)
    }

    fn build_from(&self, st: &State, state: &str) -> CompareReport {
        let c = self.config;
        let trials: Vec<Trial> = st.finished.values().cloned().collect();
        let pending: Vec<PendingTrial> = c
            .schedule()
            .into_iter()
            .filter(|k| !st.finished.contains_key(&k.schedule_index()))
            .map(|k| {
                let i = k.schedule_index();
                PendingTrial {
                    group: k.group.as_str().into(),
                    trial: k.index,
                    state: if st.running.contains(&i) {
                        "running"
                    } else if st.interrupted.contains(&i) {
                        "interrupted"
                    } else {
                        "queued"
                    }
                    .into(),
                    extra: fsx::Object::new(),
                }
            })
            .collect();
        let higher = c.values.higher_is_better;
        let paired = report::pair(&trials, c.trials, c.values.post_command.is_some(), higher);
        let unpaired: BTreeSet<(String, u32)> = paired
            .unpaired
            .iter()
            .map(|u| (u.group.clone(), u.trial))
            .collect();
        let mut fairness = report::fairness(&trials, None, self.notes.clone());
        let hashes: BTreeSet<String> = trials
            .iter()
            .filter_map(|t| t.fairness.as_ref()?.get("template_sha256")?.as_str())
            .map(str::to_string)
            .collect();
        if hashes.len() == 1 {
            fairness.template_sha256 = hashes.into_iter().next();
        }
        CompareReport {
            created_at: self.created_at.clone(),
            workspace_template: c.workspace_template.to_string_lossy().into(),
            artifact_source: c
                .artifact_source
                .as_ref()
                .map(|p| p.to_string_lossy().into()),
            summary: report::summarize(&trials, higher, &unpaired),
            trials,
            state: Some(state.into()),
            updated_at: Some(fsx::utc_now()),
            tool: Some(json!({"name": "harnessgym-rs", "version": env!("CARGO_PKG_VERSION")})),
            config: Some(c.to_json()),
            pending: Some(pending),
            paired: Some(paired),
            fairness: Some(fairness),
            score_labels: Some(BTreeMap::from([
                ("score".into(), report::AGENT_SCORE_LABEL.into()),
                ("post_score".into(), report::POST_SCORE_LABEL.into()),
            ])),
            execution: Some(self.execution.clone()),
            extra: fsx::Object::new(),
        }
    }

    /// Rewrites the report (under the state lock, so writes never reorder).
    fn write(&self, state: &str) -> io::Result<CompareReport> {
        let mut st = self.state.lock().expect("compare state");
        let report = self.build_from(&st, state);
        match report.write(&self.config.report_path()) {
            Ok(()) => Ok(report),
            Err(e) => {
                st.write_error = Some(format!(
                    "cannot write {}: {e}",
                    self.config.report_path().display()
                ));
                Err(e)
            }
        }
    }
}

impl TrialSink for Coordinator<'_> {
    fn started(&self, key: TrialKey) {
        self.state
            .lock()
            .expect("compare state")
            .running
            .insert(key.schedule_index());
        self.events.trial_started(key);
    }

    fn finished(&self, key: TrialKey, outcome: TrialOutcome) {
        let i = key.schedule_index();
        {
            let mut st = self.state.lock().expect("compare state");
            st.running.remove(&i);
            match outcome {
                TrialOutcome::Finished(t) => {
                    self.events.trial_finished(key, &t);
                    st.finished.insert(i, *t);
                }
                TrialOutcome::Interrupted => {
                    st.interrupted.insert(i);
                    self.events.trial_interrupted(key);
                }
                TrialOutcome::Lost(message) => {
                    let t = trial::lost_trial(self.config, key, &message);
                    self.events.trial_finished(key, &t);
                    st.finished.insert(i, t);
                }
            }
        }
        if let Err(e) = self.write("running") {
            self.events.note(&format!(
                "warning: cannot write {}: {e}",
                self.config.report_path().display()
            ));
        }
    }

    fn events(&self) -> &dyn CompareEvents {
        self.events
    }
}
