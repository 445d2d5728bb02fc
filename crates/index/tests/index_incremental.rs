//! Rows keyed by path + size + mtime: a second pass reads nothing, appends are read from the last
//! offset, rewrites and removals are followed.

mod common;
use common::*;
use harnessgym_index::{ChangeAction, ChangeKind, Filter, GroupBy};

fn call(tool: &str, status: &str, ms: u32) -> String {
    format!(
        r#"{{"created_at": "2026-11-25T10:00:00Z", "duration_ms": {ms}, "method": "tools/call", "server": "srv", "status": "{status}", "tool_name": "{tool}", "request_bytes": 10, "response_bytes": 100, "run_id": "r1", "iteration": 1, "phase": "attempt"}}"#
    ) + "\n"
}

#[test]
fn reindex_touches_only_what_changed() {
    let ws = Ws::new();
    ws.our_run(
        "r1",
        &["blocked", "tooling_built", "solved"],
        Some("finished"),
    );
    ws.our_run("r2", &["failed"], Some("interrupted"));
    ws.write(
        ".harnessgym/mcp_calls.jsonl",
        call("a", "ok", 5) + &call("b", "tool_error", 7),
    );
    let (_d, db) = db();
    let (mut idx, first) = index(&db, &[ws.path()]);
    let r = &first.report;
    assert_eq!((r.runs, r.iterations, r.calls), (2, 4, 2));
    assert_eq!(r.files_indexed, r.files_seen);
    assert!(first
        .events
        .iter()
        .any(|e| e.kind == ChangeKind::Run && e.action == ChangeAction::Added));

    let again = idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    assert_eq!(again.report.files_indexed, 0);
    assert_eq!(again.report.files_unchanged, first.report.files_seen);
    assert!(again.events.is_empty(), "{:?}", again.events);

    // Appending calls reads only the new lines.
    ws.append(".harnessgym/mcp_calls.jsonl", &call("a", "timeout", 900));
    let out = idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    assert_eq!(out.report.files_indexed, 1);
    assert!(
        out.report.bytes_read < 400,
        "read {} bytes",
        out.report.bytes_read
    );
    assert_eq!(idx.calls(&all()).unwrap().len(), 3);
    let calls_event = out
        .events
        .iter()
        .find(|e| e.kind == ChangeKind::Calls)
        .unwrap();
    assert_eq!(calls_event.calls_added, Some(1));

    // Rewriting the log (not an append) re-reads it from the start, without duplicates.
    ws.write(".harnessgym/mcp_calls.jsonl", call("z", "ok", 1));
    idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    let calls = idx.calls(&all()).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].tool.as_deref(), Some("z"));
    assert_eq!(calls[0].line, 1);

    // Appending to a transcript makes the new words searchable at the right line.
    let tr = ".harnessgym/runs/r1/iterations/2/attempt.transcript.txt";
    ws.append(tr, "third line has quokka\n");
    let out = idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    assert_eq!(out.report.files_indexed, 1);
    let hits = idx.search("quokka", &all()).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].line, hits[0].iteration), (3, Some(2)));
    assert_eq!(hits[0].phase.as_deref(), Some("attempt"));
    assert_eq!(hits[0].stream.as_deref(), Some("transcript"));
    assert!(out.events.iter().any(|e| e.kind == ChangeKind::Iteration
        && e.iteration == Some(2)
        && e.action == ChangeAction::Updated));
    // Old words are still found exactly once.
    assert_eq!(
        idx.search(
            "second line",
            &Filter {
                run: Some("r1".into()),
                iteration: Some(2),
                phase: Some("attempt".into()),
                ..all()
            }
        )
        .unwrap()
        .hits
        .iter()
        .filter(|h| h.stream.as_deref() == Some("transcript"))
        .count(),
        1
    );

    // A changed result.json updates its iteration.
    ws.write(
        ".harnessgym/runs/r2/iterations/1/result.json",
        r#"{"status": "solved", "verified": true, "phases": {"build": {"status": "timeout", "timed_out": true}}}"#,
    );
    idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    let it = &idx.iterations(&run_filter("r2")).unwrap()[0];
    assert_eq!(it.status.as_deref(), Some("solved"));
    assert_eq!(it.solved, Some(true));
    assert_eq!(it.phases.len(), 1);
    assert_eq!(it.phases[0].phase, "build");
    assert_eq!(it.phases[0].timed_out, Some(true));

    // Removing a file, an iteration, a run.
    std::fs::remove_file(ws.run_dir("r1").join("summary.json")).unwrap();
    std::fs::remove_dir_all(ws.run_dir("r1").join("iterations/3")).unwrap();
    std::fs::remove_dir_all(ws.run_dir("r2")).unwrap();
    let out = idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    assert!(out.events.iter().any(|e| e.kind == ChangeKind::Run
        && e.action == ChangeAction::Removed
        && e.run_id.as_deref() == Some("r2")));
    assert!(out.events.iter().any(|e| e.kind == ChangeKind::Iteration
        && e.action == ChangeAction::Removed
        && e.iteration == Some(3)));
    let runs = idx.runs(&all()).unwrap();
    assert_eq!(runs.len(), 1);
    assert!(!runs[0].has_summary);
    assert_eq!(runs[0].iteration_count, 2);
    assert_eq!(runs[0].state, "running"); // fresh files, no summary any more
    assert!(idx.search("r2", &all()).unwrap().hits.is_empty());

    // The workspace disappears: its rows go, the workspace stays known as absent.
    let path = ws.path();
    drop(ws);
    let out = idx
        .index_paths(std::slice::from_ref(&path), &mut |_| {})
        .unwrap();
    assert_eq!(
        out.report.missing_workspaces,
        vec![path.to_string_lossy().to_string()]
    );
    assert!(idx.runs(&all()).unwrap().is_empty());
    assert_eq!(idx.calls(&all()).unwrap().len(), 0);
    let known = idx.workspaces().unwrap();
    assert_eq!(known.len(), 1);
    assert!(!known[0].present);
}

#[test]
fn queries_filter_and_call_stats_aggregate() {
    let ws = Ws::new();
    ws.our_run("20261125T100000Z-aaaaaaaa", &["solved"], Some("finished"));
    ws.our_run("20261126T100000Z-bbbbbbbb", &["failed"], Some("error"));
    let mut log = String::new();
    for ms in 1..=100 {
        log += &call("fast", if ms % 10 == 0 { "tool_error" } else { "ok" }, ms);
    }
    log += &call("slow", "timeout", 5000);
    // The original's format: completed/error/timeout, argument/result byte fields.
    log += r#"{"argument_json_bytes": 2, "argument_keys": [], "created_at": "2026-11-24T13:39:03.567281Z", "duration_ms": 12, "error_message": "boom", "method": "tools/call", "request_id": 3, "result_json_bytes": 40, "server": "legacy", "status": "error", "tool_name": "slow"}"#;
    log += "\n";
    ws.write(".harnessgym/mcp_calls.jsonl", log);
    let (_d, db) = db();
    let (idx, _) = index(&db, &[ws.path()]);

    let s = idx.call_stats(&all(), GroupBy::Tool).unwrap();
    assert_eq!(s.total.count, 102);
    let fast = s.groups.iter().find(|g| g.key == "fast").unwrap();
    assert_eq!((fast.count, fast.ok, fast.errors), (100, 90, 10));
    assert_eq!(fast.by_status["tool_error"], 10);
    assert_eq!(fast.duration_ms.p50, Some(50.0));
    assert_eq!(fast.duration_ms.p95, Some(95.0));
    assert_eq!(fast.duration_ms.max, Some(100.0));
    assert_eq!(fast.request_bytes.total, 1000);
    assert_eq!(fast.response_bytes.max, Some(100));
    let slow = s.groups.iter().find(|g| g.key == "slow").unwrap();
    assert_eq!(slow.by_status.len(), 2);
    assert_eq!(slow.errors, 2);
    let by_server = idx.call_stats(&all(), GroupBy::Server).unwrap();
    let legacy = by_server.groups.iter().find(|g| g.key == "legacy").unwrap();
    assert_eq!(
        (
            legacy.count,
            legacy.request_bytes.total,
            legacy.response_bytes.total
        ),
        (1, 2, 40)
    );

    let f = |status: &str| Filter {
        status: Some(status.into()),
        ..all()
    };
    assert_eq!(idx.calls(&f("failure")).unwrap().len(), 12);
    assert_eq!(idx.calls(&f("tool_error")).unwrap().len(), 10);
    assert_eq!(
        idx.calls(&Filter {
            tool: Some("slow".into()),
            ..all()
        })
        .unwrap()
        .len(),
        2
    );
    let old = idx
        .calls(&Filter {
            until_ms: Some(harnessgym_index::parse_time_arg("2026-11-25").unwrap()),
            ..all()
        })
        .unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].format, "original");
    assert_eq!(old[0].error_message.as_deref(), Some("boom"));
    assert_eq!(
        idx.call_stats(
            &Filter {
                server: Some("legacy".into()),
                ..all()
            },
            GroupBy::Tool
        )
        .unwrap()
        .total
        .count,
        1
    );

    let runs = idx.runs(&f("error")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, "20261126T100000Z-bbbbbbbb");
    let since = Filter {
        since_ms: Some(harnessgym_index::parse_time_arg("2026-11-25T12:00:00Z").unwrap()),
        ..all()
    };
    assert_eq!(idx.runs(&since).unwrap().len(), 0); // started_at from summary.json: 09:59 on the 25th
    let all_runs = idx.runs(&all()).unwrap();
    assert_eq!(all_runs.len(), 2);
    assert_eq!(all_runs[0].origin.as_deref(), Some("harnessgym-rs"));
    let ws_filter = Filter {
        workspace: Some(ws.path().to_string_lossy().into()),
        ..all()
    };
    assert_eq!(idx.runs(&ws_filter).unwrap().len(), 2);
    let other = Filter {
        workspace: Some("/nonexistent/place".into()),
        ..all()
    };
    assert!(idx.runs(&other).unwrap().is_empty());
    assert_eq!(idx.iterations(&f("solved")).unwrap().len(), 1);
    let it = &idx.iterations(&f("solved")).unwrap()[0];
    assert_eq!(it.phase_files.len(), 8);
    assert_eq!(it.phases.len(), 2);
    assert_eq!(it.score, Some(10.0));
    assert!(idx.search("  ", &all()).is_err());
}

/// Enough output in `run` (over 8 MB) that a workspace's text waits for every workspace's JSON.
fn big_output(ws: &Ws, run: &str) {
    let filler = "build output line with nothing to find in it\n".repeat(200_000);
    ws.write(
        &format!(".harnessgym/runs/{run}/iterations/1/build.stdout.txt"),
        filler,
    );
}

#[test]
fn runs_are_committed_before_their_text_and_progress_only_moves_forward() {
    let ws_a = Ws::new();
    let ws_b = Ws::new();
    for i in 0..6 {
        ws_a.our_run(&format!("a{i}"), &["failed", "solved"], Some("finished"));
        ws_b.our_run(&format!("b{i}"), &["failed"], None);
    }
    big_output(&ws_a, "a0");
    big_output(&ws_b, "b0");
    let (_d, db) = db();
    let mut idx = harnessgym_index::Index::open(&db).unwrap();
    let reader = harnessgym_index::Index::open(&db).unwrap();
    let mut seen = Vec::new();
    // What a second connection sees when runs first become visible, during the pass.
    let mut first_visible = None;
    let report = idx
        .index_paths(&[ws_a.path(), ws_b.path()], &mut |p| {
            if first_visible.is_none() {
                let runs = reader.runs(&all()).unwrap();
                if !runs.is_empty() {
                    let hits = reader.search("kernel_ops", &all()).unwrap().matching_chunks;
                    first_visible = Some((runs, hits, p));
                }
            }
            seen.push(p);
        })
        .unwrap()
        .report;

    // A first sweep reads the JSON of both workspaces: every run is listed, complete, before
    // any text is read.
    let (runs, hits, at) = first_visible.expect("runs visible before the pass ended");
    assert_eq!(at.targets_done, 0, "still in the first workspace: {at:?}");
    assert_eq!(runs.len(), 12, "{runs:?}");
    for r in &runs {
        let want = if r.run_id.starts_with('a') { 2 } else { 1 };
        assert_eq!(r.iteration_count, want, "{r:?}");
    }
    assert_eq!(hits, 0, "no text was read yet");

    assert!(seen.iter().all(|p| p.targets_total == 2));
    assert!(
        seen.windows(2).all(|w| w[0].fraction <= w[1].fraction),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!((last.targets_done, last.fraction), (2, 1.0));
    assert_eq!(last.files_done, last.files_total);
    assert_eq!(reader.runs(&all()).unwrap().len(), 12);
    assert_eq!(
        reader.search("kernel_ops", &all()).unwrap().matching_chunks,
        (6 * 2 + 6) * 8
    );
    // Each file counted once, although the first sweep read the JSON files.
    assert_eq!(report.files_seen, last.files_total);
    assert_eq!(report.files_indexed, last.files_total);
    assert_eq!(report.files_unchanged, 0);
}

#[test]
fn small_workspaces_are_indexed_whole_one_after_the_other() {
    let ws_a = Ws::new();
    let ws_b = Ws::new();
    ws_a.our_run("a0", &["failed", "solved"], Some("finished"));
    ws_b.our_run("b0", &["failed"], None);
    let (_d, db) = db();
    let mut idx = harnessgym_index::Index::open(&db).unwrap();
    let mut first_done = None;
    let report = idx
        .index_paths(&[ws_a.path(), ws_b.path()], &mut |p| {
            if p.targets_done == 1 && first_done.is_none() {
                first_done = Some(p);
            }
        })
        .unwrap()
        .report;
    // Nothing deferred: the first workspace was finished, all its 22 files (config, summary,
    // 2 × result, activation and 8 phase files), before any file of the second was read.
    let p = first_done.unwrap();
    assert_eq!((p.files_done, p.files_total, p.fraction), (22, 22, 0.5));
    assert_eq!(report.files_seen, report.files_indexed);
    assert_eq!(report.files_unchanged, 0);
    assert_eq!(
        idx.search("kernel_ops", &all()).unwrap().matching_chunks,
        24
    );
}

#[test]
fn a_long_pass_hands_on_the_changes_it_has_committed() {
    let ws_a = Ws::new();
    let ws_b = Ws::new();
    for i in 0..3 {
        ws_a.our_run(&format!("a{i}"), &["failed"], Some("finished"));
        ws_b.our_run(&format!("b{i}"), &["failed"], Some("finished"));
    }
    big_output(&ws_a, "a0");
    big_output(&ws_b, "b0");
    let (_d, db) = db();
    let mut idx = harnessgym_index::Index::open(&db).unwrap();
    let reader = harnessgym_index::Index::open(&db).unwrap();
    let work: Vec<_> = idx
        .targets_for(&[ws_a.path(), ws_b.path()])
        .unwrap()
        .into_iter()
        .map(|t| (t, harnessgym_index::Scope::Full))
        .collect();
    // Each batch of events, with the runs a second connection sees when it arrives.
    let mut batches = Vec::new();
    let out = idx
        .refresh_live(&work, &mut |_| {}, &mut |events| {
            let visible = reader.runs(&all()).unwrap().len();
            batches.push((events, visible));
        })
        .unwrap();
    let (first, visible) = batches.first().expect("changes handed on during the pass");
    let added: Vec<_> = first
        .iter()
        .filter(|e| e.kind == ChangeKind::Run && e.action == ChangeAction::Added)
        .collect();
    assert_eq!(
        added.len(),
        6,
        "every run, after the first sweep: {first:?}"
    );
    assert_eq!(*visible, 6, "what the events announce is committed");
    // The text of a0 (deferred) comes later, in a batch or at the end.
    let later: Vec<_> = batches[1..]
        .iter()
        .flat_map(|(b, _)| b.iter())
        .chain(out.events.iter())
        .collect();
    assert!(
        later
            .iter()
            .any(|e| e.kind == ChangeKind::Iteration && e.run_id.as_deref() == Some("a0")),
        "{later:?}"
    );
}
