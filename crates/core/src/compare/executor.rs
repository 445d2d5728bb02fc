//! Where trials run. [`TrialExecutor`] is the seam: the local executor runs N trials at once in
//! threads of this process, each in its own workspace copy; a scale-out executor (Slurm,
//! Kubernetes) will submit each trial as a job instead.
//!
//! A trial is fully described by the compare configuration (serialisable: [`CompareConfig::to_json`])
//! and its [`TrialKey`], and its whole result is the `trial.json` it writes under its trial root.
//! So a remote executor can ship `(config, key)` to a worker that calls [`run_trial`] on a shared
//! filesystem, and report back by reading that `trial.json` ([`Trial::read`]).
//!
//! [`run_trial`]: super::trial::run_trial
//! [`Trial::read`]: super::report::Trial::read

use super::config::CompareConfig;
use super::trial::{run_trial, TrialEnv, TrialOutcome};
use super::{CompareEvents, TrialKey};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Receives what an executor does; called from any thread.
pub trait TrialSink: Sync {
    /// A trial was handed to a worker.
    fn started(&self, key: TrialKey);
    /// A trial ended: recorded (its `trial.json` is written) or interrupted.
    fn finished(&self, key: TrialKey, outcome: TrialOutcome);
    /// Where phase progress goes.
    fn events(&self) -> &dyn CompareEvents;
}

/// Runs trials. Implementations must start trials in the order given (it interleaves the arms),
/// run each in its own workspace, report every trial they start exactly once through the sink,
/// and stop starting trials once `env.cancel` is set.
pub trait TrialExecutor: Sync {
    /// A short name for the report (`local`, `slurm`, …).
    fn name(&self) -> &str;
    /// How many trials may run at once.
    fn slots(&self) -> usize;
    /// Runs `trials` and returns when all have ended or cancellation stopped the rest.
    fn execute(
        &self,
        config: &CompareConfig,
        trials: &[TrialKey],
        env: &TrialEnv,
        sink: &dyn TrialSink,
    );
}

/// Runs up to `jobs` trials at once in threads of this process.
#[derive(Debug, Clone, Copy)]
pub struct LocalExecutor {
    pub jobs: usize,
}

impl LocalExecutor {
    pub fn new(jobs: usize) -> LocalExecutor {
        LocalExecutor { jobs: jobs.max(1) }
    }
}

impl TrialExecutor for LocalExecutor {
    fn name(&self) -> &str {
        "local"
    }

    fn slots(&self) -> usize {
        self.jobs
    }

    fn execute(
        &self,
        config: &CompareConfig,
        trials: &[TrialKey],
        env: &TrialEnv,
        sink: &dyn TrialSink,
    ) {
        let next = AtomicUsize::new(0);
        let worker = || loop {
            if env.cancel.is_cancelled() {
                return;
            }
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(&key) = trials.get(i) else { return };
            sink.started(key);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                run_trial(config, key, env, sink.events())
            }))
            .unwrap_or_else(|panic| {
                TrialOutcome::Lost(format!(
                    "the trial's worker panicked: {}",
                    super::trial::panic_message(&panic)
                ))
            });
            sink.finished(key, outcome);
        };
        let workers = self.jobs.min(trials.len()).max(1);
        if workers == 1 {
            worker();
        } else {
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(worker);
                }
            });
        }
    }
}
