//! Index benchmark: generates a synthetic corpus of run trees and measures, in one run, the full
//! index against a plain sequential read of the same bytes, a re-index with nothing changed,
//! write-to-queryable latency through the watcher, call-stats over all calls, a search over the
//! whole corpus, and peak RSS.
//!
//! ```text
//! cargo run --release -p harnessgym_index --example index_bench -- [--scale 1.0] [--dir DIR] [--json] [--no-cold] [--only-full]
//! ```
//! `--scale 1` is the issue's corpus: 2,000 runs × 5 iterations, 20 MB of phase text per 100 runs
//! (400 MB), 1,000,000 MCP calls. The corpus is kept in `DIR` (default
//! `target/index-bench/scale-<s>`) and reused by later runs with the same scale.

use harnessgym_index::{Filter, GroupBy, Index, WatchEvent, WatchOptions, Watcher};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Params {
    workspaces: usize,
    runs_per_ws: usize,
    iterations: usize,
    text_per_run: usize,
    calls: usize,
}

impl Params {
    fn scaled(scale: f64) -> Params {
        let runs = ((2000.0 * scale).round() as usize).max(1);
        let workspaces = ((20.0 * scale).round() as usize).clamp(1, 20);
        Params {
            workspaces,
            runs_per_ws: runs.div_ceil(workspaces),
            iterations: 5,
            text_per_run: 200_000,
            calls: ((1_000_000.0 * scale).round() as usize).max(100),
        }
    }
}

/// A vocabulary with a Zipf-like frequency (rank r has weight ~1/r), plus code-ish tokens.
struct Words {
    vocab: Vec<String>,
}

impl Words {
    fn new(rng: &mut Rng) -> Words {
        let common = [
            "the", "a", "to", "of", "and", "in", "is", "for", "that", "it", "with", "on", "this",
            "as", "be", "file", "test", "error", "run", "python", "def", "return", "import",
            "self", "kernel", "tool", "verifier", "result", "output", "score", "fix", "bug",
            "value", "check",
        ];
        let mut vocab: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        while vocab.len() < 30_000 {
            let len = 3 + rng.below(9) as usize;
            let mut w: String = (0..len)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            match rng.below(10) {
                0 => w.push_str("_fn"),
                1 => w = format!("{w}.py"),
                2 => w.push_str(&rng.below(100).to_string()),
                _ => {}
            }
            vocab.push(w);
        }
        Words { vocab }
    }
    fn word(&self, rng: &mut Rng) -> &str {
        let n = self.vocab.len() as f64;
        let idx = ((n.ln() * rng.unit()).exp() as usize).saturating_sub(1);
        &self.vocab[idx.min(self.vocab.len() - 1)]
    }
    /// About `bytes` of lines of 6–18 words, with some hex ids and numbers.
    fn text(&self, rng: &mut Rng, bytes: usize, out: &mut Vec<u8>) {
        let start = out.len();
        while out.len() - start < bytes {
            let n = 6 + rng.below(13);
            for i in 0..n {
                if i > 0 {
                    out.push(b' ');
                }
                if rng.below(30) == 0 {
                    let _ = write!(out, "{:08x}", rng.next() as u32);
                } else {
                    out.extend_from_slice(self.word(rng).as_bytes());
                }
            }
            out.push(b'\n');
        }
    }
}

const TOOLS: &[&str] = &[
    "run_probe",
    "list_cases",
    "bench_kernel",
    "diff_outputs",
    "trace_dump",
    "search_ir",
    "rank_variants",
    "rollback",
    "profile",
    "check_numerics",
    "layout_view",
    "read_log",
];
const SERVERS: &[&str] = &["probe", "bench", "trace", "search", "numerics", "layout"];

fn generate(dir: &Path, p: &Params) -> std::io::Result<()> {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let words = Words::new(&mut rng);
    let mut buf = Vec::with_capacity(1 << 20);
    let calls_per_ws = p.calls / p.workspaces;
    for w in 0..p.workspaces {
        let ws = dir.join(format!("ws{w:02}"));
        let hg = ws.join(".harnessgym");
        fs::create_dir_all(hg.join("runs"))?;
        fs::write(
            hg.join("registry.json"),
            r#"{"artifacts": [{"id": "tool:.harnessgym/tools/probe.py", "kind": "tool", "path": ".harnessgym/tools/probe.py", "description": "probe", "iteration": 1, "created_at": "2026-11-25T10:00:00+00:00", "metadata": {}}], "metadata": {}, "updated_at": "2026-11-25T10:00:00+00:00", "version": 1}"#,
        )?;
        let mut run_ids = Vec::new();
        for r in 0..p.runs_per_ws {
            let run_id = format!(
                "202611{:02}T{:02}{:02}{:02}Z-{:08x}",
                1 + (r % 28),
                r % 24,
                (w * 7 + r) % 60,
                r % 60,
                rng.next() as u32
            );
            run_ids.push(run_id.clone());
            let run = hg.join("runs").join(&run_id);
            let original = r % 10 == 9;
            fs::create_dir_all(&run)?;
            fs::write(
                run.join("run_config.json"),
                format!(
                    r#"{{"run_id": "{run_id}", "runner": "fake", "iterations": {}, "task_path": "/w/task.md", "score_key": "score", "attempt_only": false, "optimization_mode": false{}}}"#,
                    p.iterations,
                    if original {
                        ""
                    } else {
                        r#", "tool": {"name": "harnessgym-rs", "version": "0.1.0"}"#
                    }
                ),
            )?;
            let per_file = p.text_per_run / (p.iterations * 12);
            for it in 1..=p.iterations {
                let idir = run.join("iterations").join(it.to_string());
                fs::create_dir_all(&idir)?;
                let status = ["blocked", "incomplete", "tooling_built", "solved", "failed"]
                    [rng.below(5) as usize];
                fs::write(
                    idir.join("result.json"),
                    format!(
                        r#"{{"run_id": "{run_id}", "iteration": {it}, "status": "{status}", "verified": {}, "metrics": {{"score": {}}}, "summary": "{} {} {}", "created_at": "2026-11-25T10:{:02}:00+00:00", "updated_at": "2026-11-25T10:{:02}:30+00:00", "phases": {{"attempt": {{"phase": "attempt", "status": "completed", "return_code": 0, "timed_out": false, "duration_seconds": {:.3}, "session_id": "s-{run_id}"}}, "reflection": {{"phase": "reflection", "status": "completed", "return_code": 0, "timed_out": false, "duration_seconds": 1.5}}, "build": {{"phase": "build", "status": "completed", "return_code": 0, "timed_out": false, "duration_seconds": 2.5}}}}, "harness_usage": {{"mcp_call_count": {}, "active_tool_count": 3}}}}"#,
                        status == "solved",
                        rng.below(1000),
                        words.word(&mut rng),
                        words.word(&mut rng),
                        words.word(&mut rng),
                        it % 60,
                        it % 60,
                        rng.unit() * 100.0,
                        rng.below(50)
                    ),
                )?;
                fs::write(
                    idir.join("activation.json"),
                    r#"{"mcp_servers": [{"artifact_path": ".harnessgym/mcp/probe/mcp.json", "name": "probe", "active": true, "quality_gate": {"status": "passed"}}], "quality_gate": {"status": "passed", "active_mcp_count": 1, "inactive_mcp_count": 0, "active_tool_count": 3, "warnings": []}, "quarantined_artifacts": [], "skills": [], "warnings": []}"#,
                )?;
                for phase in ["attempt", "reflection", "build"] {
                    for (stream, share) in [
                        ("prompt", 0.6),
                        ("stdout", 1.0),
                        ("stderr", 0.4),
                        ("transcript", 2.0),
                    ] {
                        buf.clear();
                        words.text(&mut rng, (per_file as f64 * share) as usize, &mut buf);
                        fs::write(idir.join(format!("{phase}.{stream}.txt")), &buf)?;
                    }
                }
            }
            // Most runs end with a summary; some are the original's (no state), some never ended.
            if r % 50 != 49 {
                fs::write(
                    run.join("summary.json"),
                    format!(
                        r#"{{"run_id": "{run_id}", {}"final_status": "solved", "solved": true, "best_score": {}, "iterations": []}}"#,
                        if original {
                            ""
                        } else {
                            r#""state": "finished", "errors": [], "#
                        },
                        rng.below(100)
                    ),
                )?;
            }
        }
        // Telemetry: ours (80 %) and the original's (20 %) formats in one log.
        let mut out = BufWriter::with_capacity(1 << 20, File::create(hg.join("mcp_calls.jsonl"))?);
        for c in 0..calls_per_ws {
            let tool = TOOLS[(rng.below(TOOLS.len() as u64 * 3) as usize).min(TOOLS.len() - 1)];
            let server = SERVERS[rng.below(SERVERS.len() as u64) as usize];
            let dur = (rng.unit() * rng.unit() * 2000.0) as u64 + 1;
            let ts = format!(
                "2026-11-25T{:02}:{:02}:{:02}.{:06}Z",
                (c / 3600) % 24,
                (c / 60) % 60,
                c % 60,
                rng.below(1_000_000)
            );
            if c % 5 == 4 {
                let status = ["completed", "completed", "completed", "error", "timeout"]
                    [rng.below(5) as usize];
                writeln!(
                    out,
                    r#"{{"argument_json_bytes": {}, "argument_keys": ["path"], "created_at": "{ts}", "duration_ms": {dur}, "error_message": "", "method": "tools/call", "request_id": {c}, "result_json_bytes": {}, "server": "{server}", "status": "{status}", "tool_name": "{tool}"}}"#,
                    rng.below(500),
                    rng.below(20000)
                )?;
            } else {
                let status = match rng.below(100) {
                    0..=89 => "ok",
                    90..=94 => "tool_error",
                    95..=96 => "protocol_error",
                    97..=98 => "timeout",
                    _ => "cancelled",
                };
                let run_id = &run_ids[rng.below(run_ids.len() as u64) as usize];
                writeln!(
                    out,
                    r#"{{"created_at": "{ts}", "duration_ms": {dur}, "error_message": "", "iteration": {}, "method": "tools/call", "phase": "attempt", "request_bytes": {}, "request_id": {c}, "response_bytes": {}, "run_id": "{run_id}", "server": "{server}", "status": "{status}", "tool_name": "{tool}"}}"#,
                    1 + rng.below(p.iterations as u64),
                    rng.below(500),
                    rng.below(20000)
                )?;
            }
        }
        out.flush()?;
    }
    Ok(())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                files_under(&e.path(), out);
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
}

/// Reads every file once, sequentially, one thread (the physical limit of any indexer).
fn plain_read(files: &[PathBuf]) -> (u64, f64) {
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    for f in files {
        if let Ok(mut file) = File::open(f) {
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
    }
    (total, started.elapsed().as_secs_f64())
}

fn status_kb(key: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Syncs and drops the page cache; false where that is not allowed.
fn drop_caches() -> bool {
    let _ = std::process::Command::new("sync").status();
    fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

fn reset_peak_rss() {
    let _ = fs::write("/proc/self/clear_refs", "5");
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[k]
}

fn main() {
    let mut scale = 1.0f64;
    let mut dir: Option<PathBuf> = None;
    let mut json = false;
    let mut only_full = false;
    let mut no_cold = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).expect("--scale N"),
            "--dir" => dir = args.next().map(PathBuf::from),
            "--json" => json = true,
            "--only-full" => only_full = true,
            "--no-cold" => no_cold = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let params = Params::scaled(scale);
    let dir = dir.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/index-bench")
            .join(format!("scale-{scale}"))
    });
    let corpus = dir.join("corpus");
    let marker = dir.join("corpus.done");
    if !marker.exists() {
        let _ = fs::remove_dir_all(&corpus);
        eprintln!("generating the corpus in {} …", corpus.display());
        let t = Instant::now();
        generate(&corpus, &params).expect("generate corpus");
        fs::write(&marker, "ok").unwrap();
        eprintln!("generated in {:.1}s", t.elapsed().as_secs_f64());
    }
    let mut files = Vec::new();
    files_under(&corpus, &mut files);
    files.sort();
    // Warm the page cache, then time the plain read (both sides run on a warm cache).
    plain_read(&files);
    let (bytes, read_s) = plain_read(&files);
    let db_path = dir.join("index.sqlite3");
    for ext in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{ext}", db_path.display()));
    }
    let workspaces: Vec<PathBuf> = (0..params.workspaces)
        .map(|w| corpus.join(format!("ws{w:02}")))
        .collect();

    // Cold cache (when allowed, i.e. as root on Linux): the disk's own limit, both sides.
    let mut cold: Option<(f64, f64)> = None;
    if !no_cold && drop_caches() {
        let (_, cold_read) = plain_read(&files);
        drop_caches();
        let mut index = Index::open(&db_path).unwrap();
        let t = Instant::now();
        index.index_paths(&workspaces, &mut |_| {}).unwrap();
        cold = Some((cold_read, t.elapsed().as_secs_f64()));
        drop(index);
        for ext in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{ext}", db_path.display()));
        }
        plain_read(&files);
    }

    reset_peak_rss();
    let mut index = Index::open(&db_path).unwrap();
    // When the runs list fills, as a second connection (the app) sees it at each progress report.
    let watcher_conn = rusqlite::Connection::open(&db_path).unwrap();
    let (mut first_runs_s, mut all_runs_s) = (None, None);
    let want_runs = (params.workspaces * params.runs_per_ws) as i64;
    let t = Instant::now();
    let full = index
        .index_paths(&workspaces, &mut |_| {
            if all_runs_s.is_some() {
                return;
            }
            let n: i64 = watcher_conn
                .query_row(
                    "SELECT count(*) FROM runs WHERE iteration_count > 0",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            if n > 0 && first_runs_s.is_none() {
                first_runs_s = Some(t.elapsed().as_secs_f64());
            }
            if n >= want_runs {
                all_runs_s = Some(t.elapsed().as_secs_f64());
            }
        })
        .unwrap();
    let full_s = t.elapsed().as_secs_f64();
    drop(watcher_conn);
    let rss_index_kb = status_kb("VmHWM:");
    if only_full {
        println!(
            "full index {full_s:.2}s, plain read {read_s:.2}s, {:?}",
            full.report
        );
        let t = Instant::now();
        for _ in 0..20 {
            index.index_paths(&workspaces, &mut |_| {}).unwrap();
        }
        println!("noop x20 {:.3}s", t.elapsed().as_secs_f64());
        return;
    }

    let t = Instant::now();
    let again = index.index_paths(&workspaces, &mut |_| {}).unwrap();
    let noop_s = t.elapsed().as_secs_f64();
    assert_eq!(again.report.files_indexed, 0, "nothing changed");

    // call-stats and search, best of 3 after a first (cold-statement) run.
    let time3 = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        let mut first = 0.0;
        for i in 0..4 {
            let t = Instant::now();
            f();
            let s = t.elapsed().as_secs_f64();
            if i == 0 {
                first = s;
            } else {
                best = best.min(s);
            }
        }
        (first, best)
    };
    let mut stats_groups = 0;
    let (stats_first, stats_s) = time3(&mut || {
        stats_groups = index
            .call_stats(&Filter::default(), GroupBy::Tool)
            .unwrap()
            .groups
            .len();
    });
    let (_, stats_server_s) = time3(&mut || {
        index
            .call_stats(&Filter::default(), GroupBy::Server)
            .unwrap();
    });
    let mut hits = 0;
    let mut matching = 0;
    let (search_first, search_s) = time3(&mut || {
        let r = index.search("kernel verifier", &Filter::default()).unwrap();
        hits = r.hits.len();
        matching = r.matching_chunks;
    });
    let mut rare_hits = 0;
    let (_, search_rare_s) = time3(&mut || {
        rare_hits = index
            .search("python score fix", &Filter::default())
            .unwrap()
            .hits
            .len();
    });
    drop(index);

    // Write-to-queryable latency through the watcher.
    let (tx, rx) = mpsc::channel();
    let watcher = Watcher::start(&db_path, &workspaces, WatchOptions::default(), move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(WatchEvent::Indexed(_)) => break,
            _ if Instant::now() > deadline => panic!("watcher did not start"),
            _ => {}
        }
    }
    let reader = rusqlite::Connection::open(&db_path).unwrap();
    let mut lat_text = Vec::new();
    let mut lat_calls = Vec::new();
    let mut rng = Rng(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1);
    let trials = 30;
    for k in 0..trials {
        let w = &workspaces[rng.below(workspaces.len() as u64) as usize];
        let token = format!("latencyprobe{k}x{}", rng.next() % 1_000_000);
        let text_case = k % 2 == 0;
        let t = Instant::now();
        if text_case {
            let runs: Vec<_> = fs::read_dir(w.join(".harnessgym/runs"))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            let run = &runs[rng.below(runs.len() as u64) as usize];
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(run.join("iterations/1/attempt.transcript.txt"))
                .unwrap();
            writeln!(f, "agent said {token} while working").unwrap();
        } else {
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(w.join(".harnessgym/mcp_calls.jsonl"))
                .unwrap();
            writeln!(
                f,
                r#"{{"created_at": "2026-11-25T12:00:00Z", "duration_ms": 3, "method": "tools/call", "server": "probe", "status": "ok", "tool_name": "latencyprobe", "request_id": "{token}", "request_bytes": 2, "response_bytes": 9}}"#
            )
            .unwrap();
        }
        let limit = Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = if text_case {
                reader
                    .query_row(
                        "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1",
                        [format!("\"{token}\"")],
                        |r| r.get(0),
                    )
                    .unwrap_or(0)
            } else {
                reader
                    .query_row(
                        // One tool name for every probe (the corpus keeps its tool count);
                        // the stats index narrows to it.
                        "SELECT count(*) FROM mcp_calls WHERE tool = 'latencyprobe' AND request_id = ?1",
                        [&token],
                        |r| r.get(0),
                    )
                    .unwrap_or(0)
            };
            if n > 0 {
                break;
            }
            assert!(Instant::now() < limit, "{token} never became queryable");
            std::thread::sleep(Duration::from_millis(2));
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if text_case {
            lat_text.push(ms);
        } else {
            lat_calls.push(ms);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    watcher.stop().unwrap();
    let mut all: Vec<f64> = lat_text.iter().chain(lat_calls.iter()).copied().collect();
    let lat_p50 = percentile(&mut all, 0.5);
    let lat_p95 = percentile(&mut all, 0.95);
    let peak_rss_mb = status_kb("VmHWM:") as f64 / 1024.0;
    let rss_index_mb = rss_index_kb as f64 / 1024.0;

    let ratio = read_s / full_s;
    let r = &full.report;
    let figures = serde_json::json!({
        "corpus": {"workspaces": params.workspaces, "runs": r.runs, "iterations": r.iterations,
                   "files": files.len(), "bytes": bytes, "calls": r.calls, "text_chunks": r.chunks},
        "plain_read_seconds": read_s,
        "plain_read_mb_per_s": bytes as f64 / 1e6 / read_s,
        "full_index_seconds": full_s,
        "full_index_mb_per_s": bytes as f64 / 1e6 / full_s,
        "full_index_vs_plain_read": ratio,
        "runs_listed_seconds": {"first": first_runs_s, "all": all_runs_s},
        "cold_cache": cold.map(|(r, i)| serde_json::json!({"plain_read_seconds": r, "full_index_seconds": i, "full_index_vs_plain_read": r / i})),
        "noop_reindex_seconds": noop_s,
        "noop_reindex_fraction_of_full": noop_s / full_s,
        "write_to_queryable_ms": {"p50": lat_p50, "p95": lat_p95, "samples": all.len()},
        "call_stats_ms": {"by_tool": stats_s * 1000.0, "by_tool_first": stats_first * 1000.0, "by_server": stats_server_s * 1000.0, "groups": stats_groups},
        "search_ms": {"common_words": search_s * 1000.0, "first": search_first * 1000.0, "hits": hits, "matching_chunks": matching, "other_words": search_rare_s * 1000.0, "other_hits": rare_hits},
        "peak_rss_mb": {"full_index": rss_index_mb, "whole_benchmark": peak_rss_mb},
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap());
        return;
    }
    let check = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!("corpus: {} workspaces, {} runs, {} iterations, {} files, {:.1} MB, {} MCP calls, {} text chunks",
        params.workspaces, r.runs, r.iterations, files.len(), bytes as f64 / 1e6, r.calls, r.chunks);
    println!(
        "plain sequential read:   {read_s:8.2} s  ({:.0} MB/s, warm cache)",
        bytes as f64 / 1e6 / read_s
    );
    println!("full index:              {full_s:8.2} s  ({:.0} MB/s) = {ratio:.2} of plain-read throughput   target >= 0.25  {}",
        bytes as f64 / 1e6 / full_s, check(ratio >= 0.25));
    let secs = |v: Option<f64>| v.map_or("never".to_string(), |s| format!("{s:.2} s"));
    println!(
        "runs listed (2nd conn.): first after {}, all {} after {} — of the {full_s:.2} s full index",
        secs(first_runs_s),
        want_runs,
        secs(all_runs_s)
    );
    if let Some((cr, ci)) = cold {
        println!("cold cache:              plain read {cr:.2} s ({:.0} MB/s), full index {ci:.2} s = {:.2} of plain-read throughput  {}",
            bytes as f64 / 1e6 / cr, cr / ci, check(cr / ci >= 0.25));
    }
    println!(
        "re-index, no change:     {:8.1} ms = {:.2}% of the full index          target < 2%     {}",
        noop_s * 1000.0,
        noop_s / full_s * 100.0,
        check(noop_s / full_s < 0.02)
    );
    println!("write → queryable:       p50 {lat_p50:.0} ms, p95 {lat_p95:.0} ms ({} samples)  target p95 < 250 ms  {}",
        all.len(), check(lat_p95 < 250.0));
    println!("call-stats by tool:      {:8.1} ms over {} calls ({} groups; first {:.0} ms; by server {:.0} ms)  target < 200 ms  {}",
        stats_s * 1000.0, r.calls, stats_groups, stats_first * 1000.0, stats_server_s * 1000.0, check(stats_s < 0.2));
    println!("search \"kernel verifier\": {:8.1} ms ({} hits shown of {} matching chunks; first {:.0} ms; \"python score fix\" {:.0} ms)  target < 200 ms  {}",
        search_s * 1000.0, hits, matching, search_first * 1000.0, search_rare_s * 1000.0, check(search_s < 0.2));
    println!("peak RSS:                {rss_index_mb:8.1} MB during the full index ({peak_rss_mb:.0} MB whole benchmark)  target < 300 MB  {}",
        check(rss_index_mb < 300.0));
}
