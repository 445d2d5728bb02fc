//! The trial-executor seam: a stand-in for a scale-out executor ships each trial as
//! (serialised config, key) to a "remote" worker, which rebuilds the config, runs the trial and
//! leaves `trial.json`; the executor reports back by reading that file. The compare must come
//! out the same as with the local executor.

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::compare::report::Trial;
use harnessgym_core::compare::trial::run_trial;
use harnessgym_core::compare::{
    self, CompareConfig, CompareEnding, CompareEvents, CompareRequest, CompareValues,
    LocalExecutor, QuietEvents, Start, TrialEnv, TrialExecutor, TrialKey, TrialOutcome, TrialSink,
};
use harnessgym_core::harness::activation::McpNotSupported;
use harnessgym_core::runner::fake::{FakeRunner, FakeScript};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn env() -> TrialEnv {
    TrialEnv {
        runner: Arc::new(|rc| {
            let script = rc
                .fake_script
                .as_ref()
                .map(|p| FakeScript::load(p))
                .transpose()?;
            Ok(Box::new(FakeRunner::new(script)) as Box<_>)
        }),
        mcp: Arc::new(|_| Box::new(McpNotSupported)),
        cancel: CancelToken::new(),
        cwd: std::env::temp_dir(),
    }
}

fn config(dir: &Path, out: &str) -> CompareConfig {
    let tpl = dir.join("tpl");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(tpl.join("task.md"), "task\n").unwrap();
    let script = dir.join("script.json");
    std::fs::write(
        &script,
        json!({"plain": {"default": {"iterations": {"1": {"attempt": {"files": {"n.txt": "1"}}}}}},
               "harnessed": {"default": {"iterations": {"1": {"attempt": {"files": {"n.txt": "2"}}}}}}})
        .to_string(),
    )
    .unwrap();
    CompareConfig::from_values(
        CompareValues {
            workspace_template: Some(tpl),
            output_dir: dir.join(out),
            task: Some("task.md".into()),
            trials: 2,
            runner: "fake".into(),
            higher_is_better: true,
            post_command: Some(r#"printf '{"score": %s}\n' "$(cat n.txt)""#.into()),
            fake_script: Some(script),
            ..CompareValues::default()
        },
        dir,
    )
    .unwrap()
}

/// Runs every trial on its own thread from a serialised config, one at a time, in the order given.
struct ShippingExecutor {
    order: Mutex<Vec<TrialKey>>,
}

impl TrialExecutor for ShippingExecutor {
    fn name(&self) -> &str {
        "shipping"
    }
    fn slots(&self) -> usize {
        1
    }
    fn execute(
        &self,
        config: &CompareConfig,
        trials: &[TrialKey],
        env: &TrialEnv,
        sink: &dyn TrialSink,
    ) {
        let shipped: Value = config.to_json();
        for &key in trials {
            self.order.lock().unwrap().push(key);
            sink.started(key);
            let (shipped, env) = (shipped.clone(), env.clone());
            let path = config.trial_root(key).join("trial.json");
            let finished = std::thread::spawn(move || {
                let remote = CompareConfig::from_json(&shipped, Path::new("/")).unwrap();
                matches!(
                    run_trial(&remote, key, &env, &QuietEvents),
                    TrialOutcome::Finished(_)
                )
            })
            .join()
            .unwrap();
            let outcome = if finished {
                TrialOutcome::Finished(Box::new(Trial::read(&path).unwrap()))
            } else {
                TrialOutcome::Interrupted
            };
            sink.finished(key, outcome);
        }
    }
}

#[test]
fn a_scale_out_executor_gives_the_local_result() {
    let dir = tempfile::tempdir().unwrap();
    let shipping = ShippingExecutor {
        order: Mutex::new(Vec::new()),
    };
    let run = |out: &str, executor: &dyn TrialExecutor| {
        compare::run(CompareRequest {
            config: config(dir.path(), out),
            start: Start::Fresh,
            executor,
            env: env(),
            events: &QuietEvents,
        })
        .unwrap()
    };
    let remote = run("remote", &shipping);
    let local = run("local", &LocalExecutor::new(2));
    assert_eq!(remote.ending, CompareEnding::Finished);
    assert_eq!(local.ending, CompareEnding::Finished);
    let labels: Vec<String> = shipping
        .order
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.label())
        .collect();
    assert_eq!(labels, ["plain 1", "harnessed 1", "plain 2", "harnessed 2"]);
    for outcome in [&remote, &local] {
        let p = &outcome.report.paired.as_ref().unwrap();
        assert_eq!((p.harnessed_better, p.plain_better), (2, 0));
        assert_eq!(
            outcome.report.summary["harnessed"].post_score.best,
            Some(2.0)
        );
    }
    assert_eq!(
        remote.report.execution.as_ref().unwrap()["executor"],
        "shipping"
    );
}

/// Counts events to show progress arrives tagged with its trial.
#[derive(Default)]
struct Counting {
    phases: Mutex<Vec<(String, String)>>,
}

impl CompareEvents for Counting {
    fn trial_phase(&self, key: TrialKey, phase: &str, status: Option<&str>, _seconds: f64) {
        if status.is_some() {
            self.phases
                .lock()
                .unwrap()
                .push((key.label(), phase.to_string()));
        }
    }
}

#[test]
fn progress_is_reported_per_trial_and_phase() {
    let dir = tempfile::tempdir().unwrap();
    let events = Counting::default();
    let outcome = compare::run(CompareRequest {
        config: config(dir.path(), "out"),
        start: Start::Fresh,
        executor: &LocalExecutor::new(1),
        env: env(),
        events: &events,
    })
    .unwrap();
    assert_eq!(outcome.ending, CompareEnding::Finished);
    let phases = events.phases.lock().unwrap();
    let of = |label: &str| -> Vec<&str> {
        phases
            .iter()
            .filter(|(l, _)| l == label)
            .map(|(_, p)| p.as_str())
            .collect()
    };
    assert_eq!(of("harnessed 2"), ["prepare", "attempt", "post"]);
}

#[test]
fn a_cancelled_compare_records_nothing_in_flight_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let env = env();
    env.cancel.cancel();
    let outcome = compare::run(CompareRequest {
        config: config(dir.path(), "out"),
        start: Start::Fresh,
        executor: &LocalExecutor::new(1),
        env,
        events: &QuietEvents,
    })
    .unwrap();
    assert_eq!(outcome.ending, CompareEnding::Interrupted);
    assert_eq!(outcome.report.state.as_deref(), Some("interrupted"));
    assert!(outcome.report.trials.is_empty());
    let stored = outcome.report.config.clone().unwrap();
    let resumed = compare::run(CompareRequest {
        config: CompareConfig::from_json(&stored, Path::new("/")).unwrap(),
        start: Start::Resume,
        executor: &LocalExecutor::new(2),
        env: self::env(),
        events: &QuietEvents,
    })
    .unwrap();
    assert_eq!(resumed.ending, CompareEnding::Finished);
    assert_eq!(resumed.report.trials.len(), 4);
}
