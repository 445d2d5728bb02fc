//! Overhead of process supervision, measured side by side with spawning the same command directly.
//!
//! `cargo run --release -p harnessgym_core --example supervision_bench [-- RUNS GIB]`
//!
//! Prints, for `true` and for a process writing GIB GiB to stdout: the median wall time through
//! `runner::process::run` (own group, stdin /dev/null, output streamed to a file, group check at
//! exit) and through a plain `std::process::Command` with stdout redirected to a file (the
//! physical limit: the kernel does the copy), their ratio, and this process's peak RSS.

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::runner::process::{self, ProcessSpec};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let gib: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let cancel = CancelToken::new();

    let big = format!("head -c {} /dev/zero", gib << 30);
    let cases: [(&str, &str, &[&str], usize); 2] = [
        ("true", "true", &[], runs),
        ("write", "/bin/sh", &["-c", big.as_str()], 3.min(runs)),
    ];
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "command", "supervised", "direct", "ratio"
    );
    for (label, program, argv, n) in cases {
        let (mut sup, mut direct) = (Vec::new(), Vec::new());
        for _ in 0..n {
            // Interleaved so machine noise hits both equally.
            let spec = ProcessSpec::new(program, dir.path(), &out, &err).args(argv.iter().copied());
            let t = Instant::now();
            let o = process::run(&spec, &cancel).expect("supervised run");
            sup.push(t.elapsed());
            assert_eq!(o.exit_code, Some(0));

            let file = std::fs::File::create(&out).expect("output file");
            let t = Instant::now();
            let status = Command::new(program)
                .args(argv)
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(Stdio::null())
                .status()
                .expect("direct run");
            direct.push(t.elapsed());
            assert!(status.success());
        }
        let (s, d) = (median(sup), median(direct));
        let name = if label == "write" {
            format!("write {gib} GiB to stdout")
        } else {
            "true".into()
        };
        println!(
            "{:<28} {:>10.2}ms {:>10.2}ms {:>7.2}x",
            name,
            s.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            s.as_secs_f64() / d.as_secs_f64()
        );
    }
    println!(
        "peak RSS of this process (supervisor + benchmark): {:.1} MiB",
        peak_rss_mib()
    );
}
