//! Damage never stops indexing: every problem is a row in the errors table, and the rest of the
//! tree is indexed.

mod common;
use common::*;
use harnessgym_index::Filter;
use serde_json::json;
use std::time::Duration;

fn kinds_for(idx: &harnessgym_index::Index, path_suffix: &str) -> Vec<String> {
    let mut k: Vec<String> = idx
        .errors(&all())
        .unwrap()
        .into_iter()
        .filter(|e| e.path.ends_with(path_suffix))
        .map(|e| e.kind)
        .collect();
    k.sort();
    k
}

#[test]
fn every_kind_of_damage_is_a_row_and_the_rest_is_indexed() {
    let ws = Ws::new();
    ws.our_run("good", &["blocked", "solved"], Some("finished"));
    // Truncated result.json, invalid summary, non-object registry, invalid UTF-8 in JSON and text.
    ws.our_run("damaged", &["blocked", "failed"], Some("finished"));
    ws.write(
        ".harnessgym/runs/damaged/iterations/1/result.json",
        r#"{"status": "blocked", "phases": {"attempt": {"st"#,
    );
    ws.write(".harnessgym/runs/damaged/summary.json", "{not json}");
    ws.write(
        ".harnessgym/runs/damaged/iterations/2/result.json",
        b"{\"status\": \"failed\", \"summary\": \"bad \xff byte\"}".as_slice(),
    );
    ws.write(
        ".harnessgym/runs/damaged/iterations/2/attempt.stdout.txt",
        b"fine line\nbinary \xfe\xff here zebra\n".as_slice(),
    );
    ws.write(".harnessgym/registry.json", "[1, 2, 3]");
    ws.write(".harnessgym/activation.json", "");
    // An empty iteration directory and a run that never wrote summary.json.
    ws.our_run("crashed", &["blocked"], None);
    std::fs::create_dir_all(ws.run_dir("crashed").join("iterations/2")).unwrap();
    ws.age(".harnessgym/runs/crashed", Duration::from_secs(3600));
    ws.our_run("live", &["running"], None);
    // Telemetry: a good line, garbage, a non-object, and a line still being written.
    ws.write(
        ".harnessgym/mcp_calls.jsonl",
        concat!(
            r#"{"created_at": "2026-11-25T10:00:00Z", "duration_ms": 5, "method": "tools/call", "server": "s", "status": "ok", "tool_name": "t", "request_bytes": 1, "response_bytes": 2}"#,
            "\n%%% garbage\n[1]\n",
            r#"{"created_at": "2026-11-25T10:00:01Z", "tool_na"#
        ),
    );

    let (d, db) = db();
    let (idx, out) = index(&db, &[ws.path()]);
    let _ = d;
    assert_eq!(out.report.runs, 4, "{:?}", out.report);

    assert_eq!(
        kinds_for(&idx, "damaged/iterations/1/result.json"),
        ["truncated_json"]
    );
    assert_eq!(kinds_for(&idx, "damaged/summary.json"), ["invalid_json"]);
    assert_eq!(
        kinds_for(&idx, "damaged/iterations/2/result.json"),
        ["invalid_utf8"]
    );
    assert_eq!(
        kinds_for(&idx, "damaged/iterations/2/attempt.stdout.txt"),
        ["invalid_utf8"]
    );
    assert_eq!(kinds_for(&idx, ".harnessgym/registry.json"), ["not_object"]);
    assert_eq!(
        kinds_for(&idx, ".harnessgym/activation.json"),
        ["empty_file"]
    );
    assert_eq!(kinds_for(&idx, "crashed/iterations/2"), ["empty_iteration"]);
    assert_eq!(kinds_for(&idx, "runs/crashed"), ["missing_summary"]);
    assert_eq!(
        kinds_for(&idx, "mcp_calls.jsonl"),
        ["bad_line", "bad_line", "incomplete_line"]
    );
    let errs = idx.errors(&all()).unwrap();
    let line_err = errs
        .iter()
        .find(|e| e.kind == "bad_line" && e.message.contains("not valid JSON"))
        .unwrap();
    assert_eq!(line_err.line, Some(2));
    let summary_err = errs
        .iter()
        .find(|e| e.path.ends_with("damaged/summary.json"))
        .unwrap();
    assert_eq!(summary_err.run_id.as_deref(), Some("damaged"));
    assert!(
        summary_err.message.contains("invalid JSON"),
        "{summary_err:?}"
    );

    // The damaged JSON still gives what it can: the UTF-8-damaged result is read lossily.
    let its = idx.iterations(&run_filter("damaged")).unwrap();
    assert_eq!(its.len(), 2);
    assert!(!its[0].has_result);
    assert_eq!(its[1].status.as_deref(), Some("failed"));
    assert_eq!(its[1].summary.as_deref(), Some("bad \u{fffd} byte"));
    // The text with invalid UTF-8 is searchable around the damage.
    let hits = idx.search("zebra", &all()).unwrap();
    assert_eq!(hits.hits.len(), 1);
    assert_eq!(hits.hits[0].line, 2);

    // States: a final summary wins; no summary → inferred from the files' age.
    let state = |id: &str| {
        let r = &idx.runs(&run_filter(id)).unwrap()[0];
        (r.state.clone(), r.state_source.clone())
    };
    assert_eq!(state("good"), ("finished".into(), "summary".into()));
    assert_eq!(state("crashed"), ("interrupted".into(), "inferred".into()));
    assert_eq!(state("live"), ("running".into(), "inferred".into()));
    // A damaged summary: the run is still listed, its state inferred (its files are fresh).
    assert_eq!(state("damaged"), ("running".into(), "inferred".into()));
    let crashed = &idx.iterations(&run_filter("crashed")).unwrap();
    assert_eq!(crashed.len(), 2);
    assert_eq!(crashed[1].file_count, 0);

    // One good call survived the garbage around it.
    assert_eq!(idx.calls(&all()).unwrap().len(), 1);

    // Repairing the files clears their errors on the next pass.
    ws.write(
        ".harnessgym/runs/damaged/summary.json",
        json!({"run_id": "damaged", "state": "error", "final_status": "error"}).to_string(),
    );
    ws.write(".harnessgym/registry.json", r#"{"artifacts": []}"#);
    ws.append(
        ".harnessgym/mcp_calls.jsonl",
        "me\": \"t2\", \"status\": \"ok\"}\n",
    );
    let (idx, _) = index(&db, &[ws.path()]);
    assert!(kinds_for(&idx, "damaged/summary.json").is_empty());
    assert!(kinds_for(&idx, ".harnessgym/registry.json").is_empty());
    assert_eq!(kinds_for(&idx, "mcp_calls.jsonl"), ["bad_line", "bad_line"]);
    assert_eq!(state("damaged"), ("error".into(), "summary".into()));
    let calls = idx.calls(&all()).unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.tool.as_deref() == Some("t2"))
            .count(),
        1
    );
}

#[test]
fn a_file_rewritten_while_it_is_read_never_stops_indexing() {
    let ws = Ws::new();
    ws.our_run("busy", &["running"], Some("running"));
    let result = ws.run_dir("busy").join("iterations/1/result.json");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, result) = (stop.clone(), result.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // In place, not atomic (as the original writes): readers see torn files.
                let body = json!({"status": "running", "summary": "x".repeat((n % 7) as usize * 4000), "n": n})
                    .to_string();
                let mut f = std::fs::File::create(&result).unwrap();
                for part in body.as_bytes().chunks(997) {
                    f.write_all(part).unwrap();
                }
                n += 1;
            }
            let body =
                json!({"status": "solved", "summary": "final", "verified": true}).to_string();
            std::fs::write(&result, body).unwrap();
        })
    };
    let (_d, db) = db();
    let mut idx = harnessgym_index::Index::open(&db).unwrap();
    for _ in 0..25 {
        idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    let it = &idx.iterations(&run_filter("busy")).unwrap()[0];
    assert_eq!(it.status.as_deref(), Some("solved"));
    assert_eq!(it.summary.as_deref(), Some("final"));
    let errs = idx
        .errors(&Filter {
            run: Some("busy".into()),
            ..Filter::default()
        })
        .unwrap();
    assert!(
        errs.is_empty(),
        "stale errors after the writer stopped: {errs:?}"
    );
}
