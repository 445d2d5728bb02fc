//! A large output is indexed for search in chunks with bounded memory: the file never loads whole.
//! (Alone in its test binary, so the process's peak RSS is this test's.)

mod common;
use common::*;
use std::io::{Seek, SeekFrom, Write};

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_large_stdout_is_indexed_in_bounded_memory() {
    const SIZE: u64 = 96 << 20;
    let ws = Ws::new();
    ws.our_run("big", &["running"], Some("running"));
    let path = ws.run_dir("big").join("iterations/1/attempt.stdout.txt");
    {
        // Mostly a sparse hole (cheap to make), text at the start and a needle near the end.
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"first line\nsecond line\n").unwrap();
        f.seek(SeekFrom::Start(SIZE - 64)).unwrap();
        f.write_all(b"\nneedle in the haystack\n").unwrap();
        f.set_len(SIZE).unwrap();
    }
    let (_d, db) = db();
    let mut idx = harnessgym_index::Index::open(&db).unwrap();
    let before = peak_rss_kb();
    let out = idx.index_paths(&[ws.path()], &mut |_| {}).unwrap();
    let grown_mb = (peak_rss_kb().saturating_sub(before)) / 1024;
    assert!(out.report.bytes_read >= SIZE);
    if before > 0 {
        assert!(
            grown_mb < 40,
            "indexing a {} MB file grew the peak RSS by {grown_mb} MB",
            SIZE >> 20
        );
    }
    let hits = idx.search("needle haystack", &all()).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].line, 4);
    assert_eq!(hits[0].byte_offset, (SIZE - 63) as i64);
    assert_eq!(hits[0].snippet, "needle in the haystack");
    let it = &idx.iterations(&run_filter("big")).unwrap()[0];
    let stdout = it
        .phase_files
        .iter()
        .find(|f| f.stream == "stdout")
        .unwrap();
    assert_eq!(stdout.size as u64, SIZE);
}
