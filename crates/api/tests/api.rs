//! The API through its public interface: requests in, JSON out, over hand-made run trees.

use harnessgym_api::{Api, ApiError, ApiEvent, ApiOptions, Request, RunsQuery, TextQuery};
use harnessgym_index::WatchOptions;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn write(path: &Path, body: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A workspace with one finished run of two iterations (the second has a damaged result.json).
fn workspace(root: &Path, name: &str) -> PathBuf {
    let ws = root.join(name);
    let run = ws.join(".harnessgym/runs/run-1");
    write(
        &run.join("run_config.json"),
        json!({"run_id": "run-1", "runner": "fake", "iterations": 2, "task_path": "task.md",
               "workspace": ws, "created_at": "2026-11-25T10:00:00+00:00"})
        .to_string(),
    );
    write(
        &run.join("summary.json"),
        json!({"run_id": "run-1", "status": "finished", "final_status": "not_solved",
               "solved": false, "iterations": [], "runner": "fake"})
        .to_string(),
    );
    let it1 = run.join("iterations/1");
    write(
        &it1.join("result.json"),
        json!({"iteration": 1, "status": "failed", "solved": false, "verified": false,
               "phases": {"attempt": {"status": "completed", "return_code": 0, "duration_seconds": 1.5}}})
        .to_string(),
    );
    write(
        &it1.join("attempt.prompt.txt"),
        "Fix the kernel.\nUse the verifier.\n",
    );
    write(&it1.join("attempt.stdout.txt"), "line one\nline two\n");
    write(&it1.join("attempt.stderr.txt"), "\u{1b}[31mred\u{1b}[0m\n");
    let it2 = run.join("iterations/2");
    write(&it2.join("result.json"), "{\"iteration\": 2, \"status\": ");
    write(&it2.join("attempt.stdout.txt"), "second\n");
    ws
}

/// Opens the API and waits for its first index pass, as a client does: `info.indexing` turns
/// null when the pass is over.
fn open(root: &Path, workspaces: Vec<PathBuf>, state: Option<PathBuf>) -> Api {
    let api = open_now(root, workspaces, state);
    wait_indexed(&api);
    api
}

fn wait_indexed(api: &Api) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !call(api, Request::Info).unwrap()["indexing"].is_null() {
        assert!(
            Instant::now() < deadline,
            "the first index pass never ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open_now(root: &Path, workspaces: Vec<PathBuf>, state: Option<PathBuf>) -> Api {
    Api::open(ApiOptions {
        db: root.join("index.sqlite3"),
        state_file: state,
        workspaces,
        shell: "browser".into(),
        watch: WatchOptions {
            debounce: Duration::from_millis(30),
            poll: Duration::from_millis(200),
        },
    })
    .unwrap()
}

/// One request, its answer parsed.
fn call(api: &Api, request: Request) -> Result<Value, ApiError> {
    api.handle(request)
        .map(|text| serde_json::from_str(&text).expect("the API answers JSON"))
}

fn read(api: &Api, path: &Path, start: u64, max: u32) -> Value {
    call(
        api,
        Request::ReadText(TextQuery {
            path: path.to_string_lossy().into(),
            start_line: start,
            max_lines: Some(max),
        }),
    )
    .unwrap()
}

#[test]
fn runs_run_and_iteration_come_from_the_index_and_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);

    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["run_id"], "run-1");
    assert_eq!(runs[0]["iteration_count"], 2);

    let ws_s = ws.canonicalize().unwrap().to_string_lossy().into_owned();
    let run = call(
        &api,
        Request::Run {
            workspace: ws_s.clone(),
            run_id: "run-1".into(),
        },
    )
    .unwrap();
    assert_eq!(run["config"]["runner"], "fake");
    assert_eq!(run["iterations"].as_array().unwrap().len(), 2);
    // The damaged result.json of iteration 2 is an error row naming the file, not a failure.
    let errors = run["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["path"]
            .as_str()
            .unwrap()
            .ends_with("iterations/2/result.json")),
        "{errors:?}"
    );

    let it1 = call(
        &api,
        Request::Iteration {
            workspace: ws_s.clone(),
            run_id: "run-1".into(),
            iteration: 1,
        },
    )
    .unwrap();
    assert_eq!(it1["result"]["status"], "failed");
    let names: Vec<&str> = it1["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "attempt.prompt.txt",
            "attempt.stderr.txt",
            "attempt.stdout.txt",
            "result.json"
        ]
    );
    let it2 = call(
        &api,
        Request::Iteration {
            workspace: ws_s.clone(),
            run_id: "run-1".into(),
            iteration: 2,
        },
    )
    .unwrap();
    assert!(it2["result"].is_null());

    let missing = call(
        &api,
        Request::Iteration {
            workspace: ws_s,
            run_id: "run-1".into(),
            iteration: 9,
        },
    );
    assert!(matches!(missing, Err(ApiError::NotFound(_))), "{missing:?}");
}

#[test]
fn text_windows_match_a_plain_read_anywhere_in_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);
    let path = ws.join(".harnessgym/runs/run-1/iterations/1/big.stdout.txt");
    let lines: Vec<String> = (0..5000).map(|i| format!("line {i} é")).collect();
    // No newline after the last line: it still counts.
    write(&path, lines.join("\n"));
    for (start, max) in [
        (0u64, 10u32),
        (1020, 10),
        (1023, 3),
        (2048, 700),
        (4995, 50),
    ] {
        let w = read(&api, &path, start, max);
        assert_eq!(w["total_lines"], 5000);
        assert_eq!(w["start_line"], start);
        let got: Vec<&str> = w["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let end = (start as usize + max as usize).min(5000);
        assert_eq!(got, lines[start as usize..end], "window at {start}");
    }
    // Past the end: clamped, empty.
    let w = read(&api, &path, 9999, 10);
    assert_eq!(w["start_line"], 5000);
    assert_eq!(w["lines"].as_array().unwrap().len(), 0);
}

#[test]
fn text_windows_follow_growth_and_rewrites() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);
    let path = ws.join(".harnessgym/runs/run-1/iterations/1/attempt.stdout.txt");
    assert_eq!(read(&api, &path, 0, 10)["total_lines"], 2);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    for i in 0..3000 {
        writeln!(f, "appended {i}").unwrap();
    }
    drop(f);
    let w = read(&api, &path, 3001, 5);
    assert_eq!(w["total_lines"], 3002);
    assert_eq!(w["lines"], json!(["appended 2999"]));
    // A rewrite to something shorter starts the line index over.
    write(&path, "only\n");
    let w = read(&api, &path, 0, 10);
    assert_eq!(w["total_lines"], 1);
    assert_eq!(w["lines"], json!(["only"]));
}

#[test]
fn invalid_utf8_crlf_and_huge_lines_are_shown_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);
    let path = ws.join(".harnessgym/runs/run-1/iterations/1/odd.stdout.txt");
    let mut body = b"ok\r\nbad \xff\xfe bytes\n".to_vec();
    body.extend(
        std::iter::repeat_n("é", 100_000)
            .collect::<String>()
            .as_bytes(),
    );
    body.extend_from_slice(b"\nafter\n");
    write(&path, &body);
    let w = read(&api, &path, 0, 10);
    assert_eq!(w["lines"][0], "ok");
    assert_eq!(w["lines"][1], "bad \u{fffd}\u{fffd} bytes");
    let long = w["lines"][2].as_str().unwrap();
    assert!(
        long.len() <= 16 * 1024 && long.len() > 16 * 1024 - 4,
        "{}",
        long.len()
    );
    assert!(
        long.chars().all(|c| c == 'é'),
        "cut on a character boundary"
    );
    assert_eq!(w["cut_lines"], json!([2]));
    assert_eq!(w["lines"][3], "after");
}

#[test]
fn files_outside_the_open_workspaces_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let outside = tmp.path().join("secret.txt");
    write(&outside, "secret\n");
    std::os::unix::fs::symlink(&outside, ws.join(".harnessgym/link.txt")).unwrap();
    let api = open(tmp.path(), vec![ws.clone()], None);
    for p in [
        outside.clone(),
        ws.join("../secret.txt"),
        ws.join(".harnessgym/link.txt"),
        PathBuf::from("/etc/passwd"),
    ] {
        let r = call(
            &api,
            Request::ReadText(TextQuery {
                path: p.to_string_lossy().into(),
                start_line: 0,
                max_lines: None,
            }),
        );
        assert!(matches!(r, Err(ApiError::Forbidden(_))), "{p:?}: {r:?}");
    }
    let r = call(
        &api,
        Request::ReadText(TextQuery {
            path: "relative.txt".into(),
            start_line: 0,
            max_lines: None,
        }),
    );
    assert!(matches!(r, Err(ApiError::BadRequest(_))), "{r:?}");
    let r = call(
        &api,
        Request::ReadText(TextQuery {
            path: ws.join("nope.txt").to_string_lossy().into(),
            start_line: 0,
            max_lines: None,
        }),
    );
    assert!(matches!(r, Err(ApiError::NotFound(_))), "{r:?}");
}

#[test]
fn workspaces_are_remembered_and_a_damaged_list_is_kept_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let ws2 = workspace(tmp.path(), "ws2");
    let state = tmp.path().join("state/workspaces.json");
    {
        let api = open(tmp.path(), vec![ws.clone()], Some(state.clone()));
        let list = call(
            &api,
            Request::AddWorkspace {
                path: ws2.to_string_lossy().into(),
            },
        )
        .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);
        let not_ws = tmp.path().join("plain");
        std::fs::create_dir_all(&not_ws).unwrap();
        let r = call(
            &api,
            Request::AddWorkspace {
                path: not_ws.to_string_lossy().into(),
            },
        );
        assert!(matches!(r, Err(ApiError::NotFound(_))), "{r:?}");
    }
    let api = open(tmp.path(), vec![], Some(state.clone()));
    let list = call(&api, Request::Workspaces).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[1]["indexed"]["run_count"], 1);
    call(
        &api,
        Request::RemoveWorkspace {
            path: ws.canonicalize().unwrap().to_string_lossy().into(),
        },
    )
    .unwrap();
    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "only ws2's run is listed"
    );
    drop(api);

    write(&state, "{not json");
    let api = open(tmp.path(), vec![], Some(state.clone()));
    assert_eq!(call(&api, Request::Workspaces).unwrap(), json!([]));
    assert_eq!(
        std::fs::read_to_string(state.with_extension("json.corrupt")).unwrap(),
        "{not json"
    );
}

#[test]
fn a_growing_phase_file_sends_a_change_event() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);
    let sub = api.subscribe();
    // Let the watcher's first pass finish before writing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(ApiEvent::Indexed { .. })) = sub.next(Duration::from_millis(100)) {
            break;
        }
    }
    let path = ws.join(".harnessgym/runs/run-1/iterations/2/attempt.stdout.txt");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(f, "live line").unwrap();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    while Instant::now() < deadline && seen.is_none() {
        if let Ok(Some(ApiEvent::Change { change })) = sub.next(Duration::from_millis(100)) {
            if change.run_id.as_deref() == Some("run-1") && change.iteration == Some(2) {
                seen = Some(change);
            }
        }
    }
    assert!(seen.is_some(), "no change event for iteration 2");
    let w = read(&api, &path, 0, 10);
    assert_eq!(w["lines"], json!(["second", "live line"]));
}

#[test]
fn workspaces_that_cannot_be_opened_are_problems_not_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let api = open(
        tmp.path(),
        vec![tmp.path().join("missing"), plain.clone(), ws],
        None,
    );
    let info = call(&api, Request::Info).unwrap();
    let problems: Vec<&str> = info["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("missing"), "{problems:?}");
    assert!(
        problems[1].contains("no HarnessGym workspace"),
        "{problems:?}"
    );
    // The good one is open and indexed.
    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(
        call(&api, Request::Workspaces)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_directory_holding_workspaces_is_one_open_entry_with_their_sum() {
    let tmp = tempfile::tempdir().unwrap();
    let holder = tmp.path().join("many");
    workspace(&holder, "a");
    workspace(&holder, "b");
    let api = open(tmp.path(), vec![holder.clone()], None);
    let list = call(&api, Request::Workspaces).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["indexed"]["kind"], "directory", "{list}");
    assert_eq!(list[0]["indexed"]["run_count"], 2, "{list}");
    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    // Errors of both workspaces (each has a damaged result.json), none of closed ones.
    let errors = call(&api, Request::Errors(Default::default())).unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 2, "{errors}");
}

#[test]
fn a_file_rewritten_longer_between_reads_is_indexed_afresh() {
    // A log rotated or a phase re-run: the file is truncated and rewritten past its old size
    // between two reads. Reusing the old line index as if the file had been appended to would
    // count lines that are not there and start windows mid-line.
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path(), "ws");
    let api = open(tmp.path(), vec![ws.clone()], None);
    let path = ws.join(".harnessgym/runs/run-1/iterations/1/attempt.stdout.txt");
    write(&path, "a\n".repeat(3000));
    let before = read(&api, &path, 0, 10);
    assert_eq!(before["total_lines"], 3000);
    let long: Vec<String> = (0..10)
        .map(|i| format!("{i}:{}", "x".repeat(998)))
        .collect();
    write(&path, long.join("\n") + "\n");
    assert!(std::fs::metadata(&path).unwrap().len() > 6000);
    let w = read(&api, &path, 0, 20);
    assert_eq!(w["total_lines"], 10);
    assert_eq!(w["lines"], json!(long));
    // The version tells a reader that its earlier windows are stale.
    let rewritten = w["version"].as_u64().unwrap();
    assert_ne!(rewritten, before["version"].as_u64().unwrap());
    let w = read(&api, &path, 9, 5);
    assert_eq!(w["lines"][0].as_str().unwrap(), long[9]);
    // Appends after that still reuse (and extend) the index.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(f, "eleven").unwrap();
    drop(f);
    let w = read(&api, &path, 10, 5);
    assert_eq!(w["total_lines"], 11);
    assert_eq!(w["lines"], json!(["eleven"]));
    assert_eq!(w["version"], rewritten, "an append keeps the version");
}

#[test]
fn requests_are_answered_while_the_first_index_pass_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("big");
    let text = "the agent printed a line about the kernel\n".repeat(500);
    for r in 0..300 {
        let run = ws.join(format!(".harnessgym/runs/run-{r:03}"));
        write(
            &run.join("run_config.json"),
            json!({"run_id": format!("run-{r:03}"), "runner": "fake"}).to_string(),
        );
        let it = run.join("iterations/1");
        write(
            &it.join("result.json"),
            json!({"iteration": 1, "status": "failed"}).to_string(),
        );
        write(&it.join("attempt.stdout.txt"), &text);
    }
    let api = open_now(tmp.path(), vec![ws.clone()], None);
    let events = api.subscribe();

    let info = call(&api, Request::Info).unwrap();
    assert_eq!(info["indexing"]["targets_total"], 1, "{info}");
    let during = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert!(during.as_array().unwrap().len() <= 300);

    let mut fractions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no indexed event");
        match events.next(Duration::from_millis(100)).unwrap() {
            Some(ApiEvent::Progress { progress }) => fractions.push(progress.fraction),
            Some(ApiEvent::Indexed { report }) => {
                assert_eq!(report.runs, 300);
                break;
            }
            _ => {}
        }
    }
    assert!(!fractions.is_empty(), "no progress event");
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    assert!(fractions.iter().all(|f| (0.0..=1.0).contains(f)));
    assert!(call(&api, Request::Info).unwrap()["indexing"].is_null());
    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 300);
}

/// A workspace whose text takes the index seconds: `runs` runs with about 0.75 MB of output of
/// many distinct words each, plus the word `needlexyz` once per run.
fn slow_workspace(path: &Path, runs: usize) {
    for r in 0..runs {
        let run = path.join(format!(".harnessgym/runs/slow-{r:03}"));
        write(
            &run.join("run_config.json"),
            json!({"run_id": format!("slow-{r:03}"), "runner": "fake"}).to_string(),
        );
        let it = run.join("iterations/1");
        write(
            &it.join("result.json"),
            json!({"iteration": 1, "status": "failed"}).to_string(),
        );
        let mut text = String::with_capacity(800_000);
        let mut i = (r as u64) * 100_003;
        while text.len() < 750_000 {
            for k in 0..10u64 {
                let w = i.wrapping_mul(2_654_435_761).wrapping_add(k * 40_503) % 1_000_003;
                text.push_str(&format!("w{w:x} "));
            }
            text.push('\n');
            i += 1;
        }
        text.push_str("needlexyz\n");
        write(&it.join("attempt.stdout.txt"), text);
    }
}

#[test]
fn opening_a_workspace_during_a_long_first_index_answers_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = tmp.path().join("slow");
    slow_workspace(&slow, 80);
    let other = workspace(tmp.path(), "other");
    let api = open_now(tmp.path(), vec![slow.clone()], None);
    let events = api.subscribe();
    // The pass is reading the text.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no progress");
        if let Some(ApiEvent::Progress { progress }) =
            events.next(Duration::from_millis(100)).unwrap()
        {
            if progress.files_done > 0 {
                break;
            }
        }
    }
    // Adding a workspace restarts the watcher: the running pass is cut short, not waited for.
    let t = Instant::now();
    call(
        &api,
        Request::AddWorkspace {
            path: other.to_string_lossy().into(),
        },
    )
    .unwrap();
    let took = t.elapsed();
    let t = Instant::now();
    wait_indexed(&api);
    let pass = t.elapsed();
    assert!(
        took * 3 < pass,
        "adding took {took:?}, a whole pass {pass:?}"
    );

    // Nothing was lost by cutting the first pass short.
    let runs = call(&api, Request::Runs(RunsQuery::default())).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 81);
    let found = call(
        &api,
        Request::Search {
            query: "needlexyz".into(),
            limit: Some(100),
        },
    )
    .unwrap();
    assert_eq!(found["matching_chunks"], 80, "{found}");
}
