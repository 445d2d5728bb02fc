//! The watcher follows appends, new and deleted runs, and a workspace that disappears and comes
//! back, and emits change events. Every wait polls with a deadline.

mod common;
use common::*;
use harnessgym_index::{
    ChangeAction, ChangeEvent, ChangeKind, Index, WatchEvent, WatchOptions, Watcher,
};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

struct Events {
    rx: Receiver<WatchEvent>,
    seen: Vec<ChangeEvent>,
}

impl Events {
    /// Waits for a change event matching `pred`.
    fn expect(&mut self, what: &str, pred: impl Fn(&ChangeEvent) -> bool) -> ChangeEvent {
        if let Some(e) = self.seen.iter().find(|e| pred(e)).cloned() {
            self.seen.clear();
            return e;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} event; saw {:?}", self.seen);
            if let Ok(WatchEvent::Change(e)) = self.rx.recv_timeout(left) {
                self.seen.push(e.clone());
                if pred(&e) {
                    self.seen.clear();
                    return e;
                }
            }
        }
    }
}

#[test]
fn the_watcher_follows_the_tree_and_reports_changes() {
    let ws = Ws::new();
    ws.our_run("r1", &["blocked"], Some("running"));
    ws.write(".harnessgym/mcp_calls.jsonl", "");
    let (_d, db) = db();
    let (tx, rx) = channel();
    let watcher = Watcher::start(
        &db,
        &[ws.path()],
        WatchOptions {
            debounce: Duration::from_millis(30),
            poll: Duration::from_millis(100),
        },
        move |e| {
            let _ = tx.send(e);
        },
    )
    .unwrap();
    let mut ev = Events {
        rx,
        seen: Vec::new(),
    };
    let reader = Index::open(&db).unwrap();
    ev.expect("initial run", |e| {
        e.kind == ChangeKind::Run && e.action == ChangeAction::Added
    });

    // A transcript grows.
    ws.append(
        ".harnessgym/runs/r1/iterations/1/attempt.transcript.txt",
        "the agent typed wombat\n",
    );
    ev.expect("iteration update", |e| {
        e.kind == ChangeKind::Iteration
            && e.iteration == Some(1)
            && e.action == ChangeAction::Updated
    });
    wait_for("wombat searchable", 20, || {
        let h = reader.search("wombat", &all()).unwrap().hits;
        (h.len() == 1 && h[0].line == 3).then_some(())
    });

    // The telemetry log grows.
    ws.append(
        ".harnessgym/mcp_calls.jsonl",
        "{\"tool_name\": \"probe\", \"status\": \"ok\", \"duration_ms\": 4, \"run_id\": \"r1\", \"iteration\": 1}\n",
    );
    let e = ev.expect("calls", |e| e.kind == ChangeKind::Calls);
    assert_eq!(e.calls_added, Some(1));
    wait_for("the call", 20, || {
        (reader.calls(&all()).unwrap().len() == 1).then_some(())
    });

    // A new run appears, written file by file.
    ws.our_run("r2", &["blocked", "solved"], None);
    ev.expect("new run", |e| {
        e.kind == ChangeKind::Run
            && e.action == ChangeAction::Added
            && e.run_id.as_deref() == Some("r2")
    });
    wait_for("r2 with two iterations", 20, || {
        let r = reader.runs(&run_filter("r2")).unwrap();
        (r.len() == 1 && r[0].iteration_count == 2).then_some(())
    });
    ws.write(
        ".harnessgym/runs/r2/summary.json",
        r#"{"state": "finished", "final_status": "solved"}"#,
    );
    wait_for("r2 finished", 20, || {
        (reader.runs(&run_filter("r2")).unwrap()[0].state == "finished").then_some(())
    });

    // A run is deleted.
    std::fs::remove_dir_all(ws.run_dir("r1")).unwrap();
    ev.expect("removed run", |e| {
        e.kind == ChangeKind::Run
            && e.action == ChangeAction::Removed
            && e.run_id.as_deref() == Some("r1")
    });
    wait_for("r1 gone", 20, || {
        reader
            .runs(&run_filter("r1"))
            .unwrap()
            .is_empty()
            .then_some(())
    });

    // The whole workspace is moved away, then comes back.
    let path = ws.path();
    let aside = path.with_file_name(format!(
        "{}-aside",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::rename(&path, &aside).unwrap();
    ev.expect("workspace removed", |e| {
        e.kind == ChangeKind::Workspace && e.action == ChangeAction::Removed
    });
    wait_for("no runs", 20, || {
        reader.runs(&all()).unwrap().is_empty().then_some(())
    });
    std::fs::rename(&aside, &path).unwrap();
    ev.expect("workspace back", |e| {
        e.kind == ChangeKind::Workspace && e.action == ChangeAction::Added
    });
    wait_for("r2 back", 20, || {
        (reader.runs(&all()).unwrap().len() == 1).then_some(())
    });
    // And it is watched again.
    ws.append(
        ".harnessgym/runs/r2/iterations/2/attempt.stdout.txt",
        "numbat\n",
    );
    wait_for("numbat searchable", 20, || {
        (reader.search("numbat", &all()).unwrap().hits.len() == 1).then_some(())
    });
    assert!(watcher.is_running());
    watcher.stop().unwrap();
}
