//! `harnessgym compare` end to end on the fake runner: layout and report shape, the summary
//! statistics against hand-computed values, interleaving, a crash and `--resume`, Ctrl-C,
//! `--jobs 2` against `--jobs 1`, and the up-front checks.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The post command: the independent score is the number the agent left in answer.txt (a trial
/// that left none prints broken JSON, which does not pass).
const POST: &str =
    r#"printf '{"status": "passed", "score": %s}\n' "$(cat answer.txt 2>/dev/null)""#;

/// A template with a task and a few files, and an artifact source with one tool.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tpl = dir.path().join("tpl");
        std::fs::create_dir_all(tpl.join("src/__pycache__")).unwrap();
        std::fs::create_dir_all(tpl.join(".git")).unwrap();
        std::fs::write(
            tpl.join("task.md"),
            "Make answer.txt as large as you can.\n",
        )
        .unwrap();
        std::fs::write(tpl.join("src/kernel.py"), "x = 1\n").unwrap();
        std::fs::write(tpl.join("src/__pycache__/kernel.pyc"), "junk").unwrap();
        std::fs::write(tpl.join(".git/HEAD"), "ref: x").unwrap();
        std::fs::write(tpl.join("flash_bench_out.txt"), "junk").unwrap();
        let hg = dir.path().join("source/.harnessgym");
        std::fs::create_dir_all(hg.join("tools")).unwrap();
        std::fs::write(hg.join("tools/probe.py"), "print('probe')\n").unwrap();
        Fixture { dir }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn script(&self, name: &str, v: Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        p
    }
    fn cmd(&self, out: &str, extra: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.arg("compare")
            .args([
                "--runner",
                "fake",
                "--task",
                "task.md",
                "--workspace-template",
            ])
            .arg(self.path("tpl"))
            .arg("--output-dir")
            .arg(self.path(out))
            .args(extra)
            .current_dir(self.dir.path());
        cmd
    }
    fn run(&self, out: &str, extra: &[&str]) -> Output {
        self.cmd(out, extra).output().unwrap()
    }
}

/// Attempt that leaves `answer` for the post command and claims `claimed` in result.json.
fn attempt(answer: u32, claimed: u32) -> Value {
    json!({"iterations": {"1": {"attempt": {"files": {"answer.txt": answer.to_string()},
                                            "result": {"score": claimed}}}}})
}

/// Plain: 5 every time. Harnessed: better (8, claims 9), worse (3, claims 2), the agent crashes
/// (exit 139, claims 100), HarnessGym itself fails in the trial (a write over a directory).
fn scenario(f: &Fixture) -> PathBuf {
    f.script(
        "scenario.json",
        json!({
            "plain": {"default": attempt(5, 5)},
            "harnessed": {
                "1": attempt(8, 9),
                "2": attempt(3, 2),
                "3": {"iterations": {"1": {"attempt": {"status": "failed", "return_code": 139,
                        "files": {"answer.txt": "100"}, "result": {"score": 100}}}}},
                "4": {"iterations": {"1": {"attempt": {"files": {".harnessgym": "not a directory"}}}}}
            }
        }),
    )
}

fn standard(f: &Fixture, out: &str, extra: &[&str]) -> Output {
    let script = scenario(f);
    let mut args = vec![
        "--trials",
        "4",
        "--higher-is-better",
        "--no-require-active-harness",
        "--post-command",
        POST,
        "--fake-script",
        script.to_str().unwrap(),
    ];
    let source = f.path("source");
    args.extend(["--artifact-source", source.to_str().unwrap()]);
    args.extend_from_slice(extra);
    f.run(out, &args)
}

fn trial<'a>(report: &'a Value, group: &str, i: u64) -> &'a Value {
    report["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["group"] == group && t["trial"] == i)
        .unwrap_or_else(|| panic!("no {group} {i}"))
}

#[test]
fn layout_report_shape_and_trial_outcomes() {
    let f = Fixture::new();
    let out = standard(&f, "out", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let root = f.path("out");
    let report = read_json(&root.join("compare_report.json"));

    // Layout: every trial has its workspace, trial.json and post logs; the template's excluded
    // entries are not copied; only the harnessed arm has the tool.
    for group in ["plain", "harnessed"] {
        for i in 1..=4 {
            let t = root.join(format!("{group}/trial_{i}"));
            for f in [
                "trial.json",
                "post.stdout.txt",
                "post.stderr.txt",
                "workspace/task.md",
            ] {
                assert!(t.join(f).exists(), "{}", t.join(f).display());
            }
            let ws = t.join("workspace");
            assert!(!ws.join(".git").exists() && !ws.join("flash_bench_out.txt").exists());
            assert!(!ws.join("src/__pycache__").exists());
            assert_eq!(
                ws.join(".harnessgym/tools/probe.py").exists(),
                group == "harnessed"
            );
            assert!(ws
                .join(format!(
                    ".harnessgym/runs/compare-{group}-{i}/run_config.json"
                ))
                .is_file());
            // trial.json is the report's entry.
            assert_eq!(read_json(&t.join("trial.json")), *trial(&report, group, i));
        }
    }

    // Report shape: the original's keys, plus ours.
    for key in [
        "created_at",
        "workspace_template",
        "artifact_source",
        "trials",
        "summary",
    ] {
        assert!(report.get(key).is_some(), "{key}");
    }
    assert_eq!(report["state"], "finished");
    assert_eq!(report["pending"], json!([]));
    assert_eq!(report["trials"].as_array().unwrap().len(), 8);
    let t = trial(&report, "harnessed", 1);
    for key in [
        "group",
        "trial",
        "workspace",
        "run_id",
        "run_dir",
        "result_path",
        "status",
        "solved",
        "error",
        "duration_seconds",
        "attempt_duration_seconds",
        "cumulative_attempt_duration_seconds",
        "iterations_completed",
        "iterations",
        "score",
        "copied_artifacts",
        "mcp_telemetry",
        "mcp_call_count",
        "mcp_called_tools",
        "runner_validation",
        "harness_validation",
        "comparison_valid",
        "comparison_invalid_reason",
        "post_result",
        "objective_post_valid",
        "post_valid",
        "post_invalid_reason",
        "post_score",
        "post_treated_as_worst",
    ] {
        assert!(t.get(key).is_some(), "trial lacks {key}");
    }
    assert_eq!(t["run_id"], "compare-harnessed-1");
    assert_eq!(t["copied_artifacts"], json!([".harnessgym/tools/probe.py"]));
    assert_eq!(trial(&report, "plain", 1)["copied_artifacts"], json!([]));
    assert_eq!(
        trial(&report, "plain", 1)["harness_validation"],
        json!({"required": false, "valid": true, "reason": ""})
    );

    // The agent's claim and the independent score are kept apart and labelled.
    assert_eq!(t["score"], json!(9.0));
    assert_eq!(t["post_score"], json!(8.0));
    assert_eq!(t["score_source"], "agent_reported");
    assert_eq!(t["post_score_source"], "independent");
    assert!(report["score_labels"]["score"]
        .as_str()
        .unwrap()
        .starts_with("agent_reported"));
    assert!(report["score_labels"]["post_score"]
        .as_str()
        .unwrap()
        .starts_with("independent"));

    // The agent crash: runner-invalid, its post score (100!) not counted, treated as worst.
    let crash = trial(&report, "harnessed", 3);
    assert_eq!(crash["runner_validation"]["valid"], false);
    assert_eq!(
        crash["runner_validation"]["reason"],
        "runner attempt failed in iteration(s): 1"
    );
    assert_eq!(
        crash["runner_validation"]["failed_attempts"][0]["attempt_return_code"],
        139
    );
    assert_eq!(crash["post_result"]["score"], json!(100.0));
    assert_eq!(crash["post_valid"], false);
    assert_eq!(crash["post_score"], Value::Null);
    assert_eq!(crash["post_treated_as_worst"], true);
    assert_eq!(
        crash["post_invalid_reason"],
        "runner attempt failed in iteration(s): 1"
    );

    // HarnessGym failing inside one trial is recorded on it; the trials after it ran.
    let broken = trial(&report, "harnessed", 4);
    assert!(!broken["error"].as_str().unwrap().is_empty(), "{broken}");
    assert_eq!(broken["comparison_valid"], false);
    assert!(broken["comparison_invalid_reason"]
        .as_str()
        .unwrap()
        .starts_with("runner trial raised exception: "));
    assert_eq!(broken["status"], "failed");
    assert_eq!(trial(&report, "plain", 4)["comparison_valid"], true);

    // The per-arm scenarios are a difference between trials: a fairness warning says so.
    let warnings = report["fairness"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("fake_script_sha256")),
        "{warnings:?}"
    );
    assert!(report["fairness"]["differences"]
        .get("template_sha256")
        .is_none());

    // The printed summary: the original's lines first.
    let text = stdout(&out);
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Compare report: "))
        .collect();
    assert!(!lines.is_empty(), "{text}");
    assert!(lines[1].starts_with("plain: n=4 median_attempt="), "{text}");
    assert!(
        lines[1].ends_with("best_post_score=5.0 post_valid=4 post_invalid=0"),
        "{text}"
    );
    assert!(
        lines[2].ends_with("best_post_score=8.0 post_valid=2 post_invalid=2"),
        "{text}"
    );
    assert!(
        text.contains("paired on post_score (independent): harnessed better 1, plain better 3"),
        "{text}"
    );
}

#[test]
fn summary_statistics_match_hand_computed_values() {
    let f = Fixture::new();
    let out = standard(&f, "out", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out/compare_report.json"));
    let (p, h) = (&r["summary"]["plain"], &r["summary"]["harnessed"]);

    assert_eq!(p["count"], 4);
    assert_eq!(
        strip(
            &p["post_score"],
            &["valid_only", "source", "invalid_stats", "ranked_count"]
        ),
        json!({"count": 4, "min": 5.0, "median": 5.0, "max": 5.0, "best": 5.0, "valid_count": 4,
               "invalid_count": 0, "not_run_count": 0, "invalid_treated_as_worst": false})
    );
    // Harnessed post scores: valid 8 and 3; two invalid trials ranked below them (higher is
    // better): [invalid, invalid, 3, 8]. min and median land on invalid trials.
    assert_eq!(
        h["post_score"],
        json!({"count": 2, "min": null, "median": null, "max": 8.0, "best": 8.0,
               "valid_count": 2, "invalid_count": 2, "not_run_count": 0,
               "invalid_treated_as_worst": true, "ranked_count": 4,
               "invalid_stats": ["min", "median"], "source": "independent",
               "valid_only": {"count": 2, "min": 3.0, "median": 5.5, "max": 8.0, "best": 8.0}})
    );
    // Agent-reported: valid claims 9 and 2; the crash's claim of 100 is not believed.
    assert_eq!(
        strip(&h["score"], &["valid_only"]),
        json!({"count": 2, "min": null, "median": null, "max": 9.0, "best": 9.0,
               "invalid_count": 2, "ranked_count": 4, "invalid_stats": ["min", "median"],
               "source": "agent_reported"})
    );
    assert_eq!(h["comparison_valid"], json!({"valid": 2, "invalid": 2}));
    assert_eq!(p["comparison_valid"], json!({"valid": 4}));
    assert_eq!(h["post_status"], json!({"completed": 4}));
    assert_eq!(h["error_count"], 1);
    assert_eq!(
        h["invalid_reasons"]["runner attempt failed in iteration(s): 1"],
        1
    );
    assert_eq!(h["iterations_completed"]["median"], json!(1.0));
    assert_eq!(h["iterations_completed"]["count"], 4);
    assert_eq!(
        h["iterations_completed"]["min"],
        json!(0.0),
        "the broken trial ran none"
    );

    // Paired: 5 vs 8 harnessed, 5 vs 3 plain, 5 vs invalid plain (twice); deltas 3 and -2.
    let paired = &r["paired"];
    assert_eq!(paired["metric"], "post_score");
    assert_eq!(paired["metric_source"], "independent");
    assert_eq!(
        (
            &paired["count"],
            &paired["harnessed_better"],
            &paired["plain_better"],
            &paired["ties"]
        ),
        (&json!(4), &json!(1), &json!(3), &json!(0))
    );
    assert_eq!(paired["median_delta_harnessed_minus_plain"], json!(0.5));
    assert_eq!(paired["unpaired"], json!([]));
    let winners: Vec<&str> = paired["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["winner"].as_str().unwrap())
        .collect();
    assert_eq!(winners, ["harnessed", "plain", "plain", "plain"]);
}

fn strip(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    for k in keys {
        v.as_object_mut().unwrap().remove(*k);
    }
    v
}

#[test]
fn arms_are_interleaved_and_trials_do_not_overlap_with_one_job() {
    let f = Fixture::new();
    let mut cmd = bin();
    let out = cmd
        .args([
            "compare",
            "--runner",
            "fake",
            "--task-text",
            "do it",
            "--trials",
            "3",
        ])
        .arg("--workspace-template")
        .arg(f.path("tpl"))
        .arg("--output-dir")
        .arg(f.path("out"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out/compare_report.json"));
    let mut trials: Vec<&Value> = r["trials"].as_array().unwrap().iter().collect();
    // The report lists trials in schedule order …
    let listed: Vec<String> = trials
        .iter()
        .map(|t| format!("{} {}", t["group"].as_str().unwrap(), t["trial"]))
        .collect();
    let expected = [
        "plain 1",
        "harnessed 1",
        "plain 2",
        "harnessed 2",
        "plain 3",
        "harnessed 3",
    ];
    assert_eq!(listed, expected);
    // … and they really ran in that order, one after the other.
    trials.sort_by_key(|t| t["started_at"].as_str().unwrap().to_string());
    let ran: Vec<String> = trials
        .iter()
        .map(|t| format!("{} {}", t["group"].as_str().unwrap(), t["trial"]))
        .collect();
    assert_eq!(ran, expected);
    for w in trials.windows(2) {
        assert!(
            w[0]["finished_at"].as_str().unwrap() <= w[1]["started_at"].as_str().unwrap(),
            "{} overlaps {}",
            w[0]["run_id"],
            w[1]["run_id"]
        );
    }
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t["schedule_index"], i);
    }
    // Progress lines (not a terminal) follow the same order.
    let text = stdout(&out);
    let starts: Vec<&str> = text.lines().filter(|l| l.ends_with(" · started")).collect();
    assert_eq!(starts.len(), 6);
    assert!(starts[0].starts_with("plain 1") && starts[1].starts_with("harnessed 1"));
}

#[test]
fn without_a_post_command_the_report_is_written_and_post_is_not_run() {
    let f = Fixture::new();
    let script = f.script(
        "s.json",
        json!({"plain": {"default": attempt(1, 4)}, "harnessed": {"default": attempt(1, 6)}}),
    );
    let out = f.run(
        "out",
        &[
            "--trials",
            "2",
            "--higher-is-better",
            "--fake-script",
            script.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out/compare_report.json"));
    for group in ["plain", "harnessed"] {
        let s = &r["summary"][group];
        assert_eq!(s["post_status"], json!({"not_run": 2}));
        assert_eq!(s["post_score"]["not_run_count"], 2);
        assert_eq!(s["post_score"]["invalid_count"], 0);
        assert_eq!(s["post_score"]["invalid_treated_as_worst"], false);
    }
    assert_eq!(trial(&r, "plain", 1)["post_result"], Value::Null);
    assert_eq!(trial(&r, "plain", 1)["post_valid"], Value::Null);
    assert_eq!(trial(&r, "plain", 1)["post_treated_as_worst"], false);
    // No independent score: the pairing uses the agent's claims, and says so.
    assert_eq!(r["paired"]["metric"], "score");
    assert_eq!(r["paired"]["metric_source"], "agent_reported");
    assert_eq!(r["paired"]["harnessed_better"], 2);
    // No artifact source: an A/A comparison, and the report warns.
    let warnings = r["fairness"]["warnings"].to_string();
    assert!(warnings.contains("A/A"), "{warnings}");
    assert!(stdout(&out).contains("paired on score (agent-reported)"));
}

#[test]
fn harnessed_trials_need_an_active_harness_by_default() {
    let f = Fixture::new();
    let source = f.path("source");
    let out = f.run(
        "out",
        &[
            "--post-command",
            "echo '{\"score\": 1}'",
            "--artifact-source",
            source.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out/compare_report.json"));
    let h = trial(&r, "harnessed", 1);
    assert_eq!(h["harness_validation"]["valid"], false);
    assert_eq!(h["harness_validation"]["active_harness_required"], true);
    assert_eq!(
        h["harness_validation"]["reason"],
        "harnessed trial invalid: copied artifacts did not activate any generated MCP tools"
    );
    assert_eq!(h["post_valid"], false);
    assert_eq!(h["post_treated_as_worst"], true);
    assert_eq!(r["summary"]["harnessed"]["post_score"]["invalid_count"], 1);
    assert_eq!(trial(&r, "plain", 1)["post_score"], json!(1.0));
}

/// The report with everything that depends on time or on the output directory taken out.
fn normalized(report: &Value, out: &Path) -> Value {
    fn walk(v: &mut Value, root: &str) {
        match v {
            Value::Object(map) => {
                for k in [
                    "created_at",
                    "updated_at",
                    "started_at",
                    "finished_at",
                    "duration_seconds",
                    "attempt_duration_seconds",
                    "cumulative_attempt_duration_seconds",
                    "timings",
                    "execution",
                ] {
                    map.remove(k);
                }
                for (_, child) in map.iter_mut() {
                    walk(child, root);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, root)),
            Value::String(s) => *s = s.replace(root, "OUT"),
            _ => {}
        }
    }
    let mut v = report.clone();
    walk(&mut v, &out.to_string_lossy());
    v
}

#[test]
fn two_jobs_give_the_same_report_as_one_apart_from_timings() {
    let f = Fixture::new();
    let one = standard(&f, "one", &["--jobs", "1"]);
    assert_eq!(code(&one), 0, "{}", stderr(&one));
    let two = standard(&f, "two", &["--jobs", "2"]);
    assert_eq!(code(&two), 0, "{}", stderr(&two));
    let r1 = read_json(&f.path("one/compare_report.json"));
    let r2 = read_json(&f.path("two/compare_report.json"));
    assert_eq!(r1["execution"]["jobs"], 1);
    assert_eq!(r2["execution"]["jobs"], 2);
    assert_eq!(
        normalized(&r1, &f.path("one")),
        normalized(&r2, &f.path("two"))
    );
    // With two jobs, plain i and harnessed i ran side by side.
    let starts =
        |r: &Value, g: &str, i: u64| trial(r, g, i)["started_at"].as_str().unwrap().to_string();
    let ends =
        |r: &Value, g: &str, i: u64| trial(r, g, i)["finished_at"].as_str().unwrap().to_string();
    assert!(starts(&r2, "harnessed", 1) < ends(&r2, "plain", 1));
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn recorded(root: &Path) -> usize {
    ["plain", "harnessed"]
        .iter()
        .flat_map(|g| (1..=3).map(move |i| root.join(format!("{g}/trial_{i}/trial.json"))))
        .filter(|p| p.exists())
        .count()
}

#[test]
fn a_killed_compare_keeps_its_records_and_resume_finishes_it() {
    let f = Fixture::new();
    let slow = f.script(
        "slow.json",
        json!({"iterations": {"1": {"attempt": {"delay_ms": 400, "files": {"answer.txt": "2"}}}}}),
    );
    let mut child = f
        .cmd(
            "out",
            &[
                "--trials",
                "3",
                "--post-command",
                POST,
                "--fake-script",
                slow.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = f.path("out");
    wait_for("two recorded trials", Duration::from_secs(20), || {
        recorded(&root) >= 2
    });
    // A crash: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();

    // The report is at most one trial behind the trial.json files (the kill may fall between
    // a trial's record and the report's rewrite); trial.json is the truth.
    let before = read_json(&root.join("compare_report.json"));
    assert_eq!(before["state"], "running");
    let kept = before["trials"].as_array().unwrap().len();
    let on_disk = recorded(&root);
    assert!(
        kept + 1 >= on_disk && kept <= on_disk && on_disk < 6,
        "{kept} in the report, {on_disk} on disk"
    );
    assert_eq!(
        before["pending"].as_array().unwrap().len(),
        6 - kept,
        "{}",
        before["pending"]
    );
    // Trials whose counterpart has no record are listed, and left out of the summaries.
    let unpaired = before["paired"]["unpaired"].as_array().unwrap().len();
    for g in ["plain", "harnessed"] {
        let in_report = before["trials"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["group"] == g)
            .count() as u64;
        let s = &before["summary"][g];
        assert_eq!(
            s["count"].as_u64().unwrap() + s["unpaired_count"].as_u64().unwrap(),
            in_report
        );
    }
    assert_eq!(
        before["summary"]["plain"]["count"],
        before["summary"]["harnessed"]["count"]
    );
    assert_eq!(unpaired as u64, kept as u64 % 2, "{}", before["paired"]);
    let records: Vec<(PathBuf, Value)> = ["plain", "harnessed"]
        .iter()
        .flat_map(|g| (1..=3).map(move |i| format!("{g}/trial_{i}/trial.json")))
        .map(|rel| root.join(rel))
        .filter(|p| p.exists())
        .map(|p| {
            let v = read_json(&p);
            (p, v)
        })
        .collect();

    // Without --resume the directory is refused.
    let again = f.run("out", &["--trials", "3"]);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));

    let out = bin()
        .args(["compare", "--resume", "--output-dir"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = read_json(&root.join("compare_report.json"));
    assert_eq!(after["state"], "finished");
    assert_eq!(after["trials"].as_array().unwrap().len(), 6);
    assert_eq!(after["pending"], json!([]));
    assert_eq!(after["created_at"], before["created_at"]);
    // Recorded trials were not run again; the one in flight was, from a fresh copy.
    for (path, record) in &records {
        assert_eq!(read_json(path), *record, "{} was rewritten", path.display());
    }
    assert_eq!(after["summary"]["plain"]["post_score"]["valid_count"], 3);
    // The trial in flight and the workspace prepared ahead of it were moved aside.
    let interrupted: Vec<_> = std::fs::read_dir(root.join("interrupted"))
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    assert!(interrupted.len() <= 2, "{interrupted:?}");
    let notes = after["fairness"]["warnings"].to_string();
    assert!(notes.contains("resumed"), "{notes}");
}

#[test]
fn ctrl_c_ends_every_trials_processes_and_leaves_a_resumable_report() {
    let f = Fixture::new();
    // Each trial's post command records its shell's pid and then hangs.
    let hang = r#"echo $$ > ../pid; sleep 60; echo '{"score": 1}'"#;
    let child = f
        .cmd(
            "out",
            &["--trials", "2", "--jobs", "2", "--post-command", hang],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = f.path("out");
    let pids = [
        root.join("plain/trial_1/pid"),
        root.join("harnessed/trial_1/pid"),
    ];
    wait_for("both post commands", Duration::from_secs(20), || {
        pids.iter()
            .all(|p| std::fs::read_to_string(p).is_ok_and(|s| s.ends_with('\n')))
    });
    // One compare per output directory.
    let second = bin()
        .args(["compare", "--resume", "--output-dir"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(code(&second), 1, "{}", stderr(&second));
    assert!(
        stderr(&second).contains("another compare is running"),
        "{}",
        stderr(&second)
    );
    let started = Instant::now();
    // SAFETY: plain kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(15));
    for p in &pids {
        let pid: i32 = std::fs::read_to_string(p).unwrap().trim().parse().unwrap();
        assert!(!alive(pid), "post command {pid} still running");
    }
    let r = read_json(&root.join("compare_report.json"));
    assert_eq!(r["state"], "interrupted");
    assert_eq!(r["trials"], json!([]));
    let states: Vec<&str> = r["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["interrupted", "interrupted", "queued", "queued"]);
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
}

#[test]
fn problems_are_refused_before_any_trial_runs() {
    let f = Fixture::new();
    let refused = |args: &[&str], needle: &str| {
        let out = f.run("out", args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(!f.path("out").exists(), "{args:?} wrote something");
    };
    refused(&["--artifact-source", "/no/such/dir"], "does not exist");
    std::fs::create_dir_all(f.path("empty/.harnessgym/tools")).unwrap();
    refused(
        &["--artifact-source", f.path("empty").to_str().unwrap()],
        "holds no harness artifacts",
    );
    std::fs::create_dir_all(f.path("plainws")).unwrap();
    refused(
        &["--artifact-source", f.path("plainws").to_str().unwrap()],
        "not a .harnessgym directory or workspace",
    );
    let bad = f.path("bad/.harnessgym");
    std::fs::create_dir_all(bad.join("tools")).unwrap();
    std::fs::write(bad.join("tools/t.py"), "x").unwrap();
    std::fs::write(bad.join("registry.json"), "{not json").unwrap();
    refused(
        &["--artifact-source", f.path("bad").to_str().unwrap()],
        "registry is unusable",
    );
    refused(&["--trials", "0"], "trials must be positive");
    refused(&["--post-timeout", "soon"], "invalid timeout duration");
    let broken = f.script(
        "broken.json",
        json!({"harnessed": {"2": {"iterations": {"1": {"attempt": {"files": {"../x": "y"}}}}}}}),
    );
    refused(
        &["--fake-script", broken.to_str().unwrap()],
        "leaves the workspace",
    );
    let out = bin()
        .args([
            "compare",
            "--runner",
            "fake",
            "--task",
            "nope.md",
            "--output-dir",
        ])
        .arg(f.path("out"))
        .arg("--workspace-template")
        .arg(f.path("tpl"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not found in the workspace template"));
    let out = bin()
        .args([
            "compare",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--output-dir",
        ])
        .arg(f.path("tpl/out"))
        .arg("--workspace-template")
        .arg(f.path("tpl"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("inside the workspace template"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn overwrite_replaces_and_json_prints_the_summary() {
    let f = Fixture::new();
    assert_eq!(code(&f.run("out", &[])), 0);
    let out = f.run("out", &["--overwrite", "--json", "--post-command", POST]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["state"], "finished");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["trials_planned"], 2);
    assert_eq!(summary["trials_recorded"], 2);
    assert_eq!(summary["summary"]["plain"]["count"], 1);
    assert_eq!(summary["paired"]["metric"], "post_score");
    assert!(summary["report_path"]
        .as_str()
        .unwrap()
        .ends_with("out/compare_report.json"));
    // The demo attempt leaves no answer.txt: the post command's output does not parse.
    assert_eq!(summary["invalid_trials"].as_array().unwrap().len(), 2);
    // Progress went to stderr.
    assert!(stderr(&out).contains("plain 1 · started"));
}

#[test]
fn resume_needs_a_report_written_by_this_tool() {
    let f = Fixture::new();
    let resume = |dir: &Path| {
        bin()
            .args(["compare", "--resume", "--output-dir"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let out = resume(&f.path("nothing"));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot resume"), "{}", stderr(&out));
    // A report in the original's shape has no settings to resume from.
    std::fs::create_dir_all(f.path("orig")).unwrap();
    std::fs::write(
        f.path("orig/compare_report.json"),
        r#"{"created_at": "2026-01-01T00:00:00+00:00", "workspace_template": "/t", "artifact_source": null, "trials": [], "summary": {}}"#,
    )
    .unwrap();
    let out = resume(&f.path("orig"));
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("has no settings"), "{}", stderr(&out));
    // Settings come from the report, not the command line.
    let out = bin()
        .args(["compare", "--resume", "--task", "task.md", "--output-dir"])
        .arg(f.path("orig"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("takes its settings from the report"));
}

/// An artifact source whose harness holds a real MCP server (the harness tests' fixture).
fn source_with_server(f: &Fixture) -> PathBuf {
    let server = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/mcp_server.py"),
    )
    .unwrap();
    let srv = f.path("mcp_source/.harnessgym/mcp/good");
    std::fs::create_dir_all(&srv).unwrap();
    std::fs::write(srv.join("server.py"), server).unwrap();
    let manifest = json!({
        "name": "good", "command": "python3", "args": ["server.py"],
        "cwd": ".harnessgym/mcp/good", "enabled_tools": ["probe"],
        "timeouts": {"startup_seconds": 10, "tool_seconds": 20}, "self_test": true,
    });
    std::fs::write(srv.join("mcp.json"), manifest.to_string()).unwrap();
    f.path("mcp_source")
}

#[test]
fn a_copied_mcp_server_activates_in_the_harnessed_arm_only() {
    let f = Fixture::new();
    let source = source_with_server(&f);
    let source = source.to_str().unwrap();
    let out = f.run(
        "out",
        &["--post-command", POST, "--artifact-source", source],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out/compare_report.json"));
    let h = trial(&r, "harnessed", 1);
    assert_eq!(
        h["harness_validation"]["valid"], true,
        "{}",
        h["harness_validation"]
    );
    assert!(
        h["harness_validation"]["active_tool_count"]
            .as_i64()
            .unwrap()
            >= 1
    );
    assert_eq!(h["harness_validation"]["active_mcp_count"], 1);
    assert!(h["iterations"][0]["active_tool_count"].as_i64().unwrap() >= 1);
    assert_eq!(
        trial(&r, "plain", 1)["iterations"][0]["active_tool_count"],
        0
    );

    // Demanding tool use: the fake agent calls nothing, so the harnessed trial is invalid.
    let out = f.run(
        "out2",
        &["--artifact-source", source, "--require-harness-tool-use"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&f.path("out2/compare_report.json"));
    let h = trial(&r, "harnessed", 1);
    assert_eq!(h["harness_validation"]["tool_use_required"], true);
    assert_eq!(
        h["harness_validation"]["reason"],
        "harnessed trial invalid: generated MCP tools activated but no MCP tool calls were recorded"
    );
    assert_eq!(
        r["summary"]["harnessed"]["comparison_valid"],
        json!({"invalid": 1})
    );
}
