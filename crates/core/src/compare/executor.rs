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
use super::trial::{prepare_trial, run_prepared, Prepared, TrialEnv, TrialOutcome};
use super::{CompareEvents, TrialKey};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

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

/// Runs up to `jobs` trials at once in threads of this process. While they run, the workspaces
/// of the next `jobs` trials are prepared (copied) by as many stager threads, so with a real
/// agent the copy never sits between two attempts; trials still start strictly in the order given.
#[derive(Debug, Clone, Copy)]
pub struct LocalExecutor {
    pub jobs: usize,
}

impl LocalExecutor {
    pub fn new(jobs: usize) -> LocalExecutor {
        LocalExecutor { jobs: jobs.max(1) }
    }
}

/// The shared queue: positions prepared ahead, the next to prepare and the next to run.
struct Queue {
    ready: BTreeMap<usize, Prepared>,
    next_prepare: usize,
    next_run: usize,
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
        let n = trials.len();
        let jobs = self.jobs.min(n).max(1);
        let queue = Mutex::new(Queue {
            ready: BTreeMap::new(),
            next_prepare: 0,
            next_run: 0,
        });
        let changed = Condvar::new();
        let tick = Duration::from_millis(50);
        let stager = || loop {
            let pos = {
                let mut q = queue.lock().expect("queue");
                loop {
                    if env.cancel.is_cancelled() || q.next_prepare >= n {
                        return;
                    }
                    // At most `jobs` workspaces wait beyond the trials already started.
                    if q.next_prepare < q.next_run + jobs {
                        break;
                    }
                    q = changed.wait_timeout(q, tick).expect("queue").0;
                }
                q.next_prepare += 1;
                q.next_prepare - 1
            };
            let prepared = prepare_trial(config, trials[pos]);
            queue.lock().expect("queue").ready.insert(pos, prepared);
            changed.notify_all();
        };
        let worker = || loop {
            let (pos, prepared) = {
                let mut q = queue.lock().expect("queue");
                loop {
                    if env.cancel.is_cancelled() || q.next_run >= n {
                        return;
                    }
                    let next = q.next_run;
                    if let Some(p) = q.ready.remove(&next) {
                        q.next_run += 1;
                        break (next, p);
                    }
                    q = changed.wait_timeout(q, tick).expect("queue").0;
                }
            };
            changed.notify_all();
            let key = trials[pos];
            sink.started(key);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                run_prepared(config, key, env, sink.events(), prepared, false)
            }))
            .unwrap_or_else(|panic| {
                TrialOutcome::Lost(format!(
                    "the trial's worker panicked: {}",
                    super::trial::panic_message(&panic)
                ))
            });
            sink.finished(key, outcome);
        };
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(stager);
                s.spawn(worker);
            }
        });
    }
}
