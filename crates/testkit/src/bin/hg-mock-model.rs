//! `hg-mock-model --script FILE --log FILE [--port N] [--dump-bodies DIR]`
//!
//! A scripted mock model server on 127.0.0.1 for driving the real `claude` and `codex` CLIs
//! offline. Prints exactly one line, `listening on 127.0.0.1:<port>`, then serves until killed.
//! See `harnessgym_testkit::script` for the script format and `harnessgym_testkit::server` for
//! the protocol surface and the log format.

use harnessgym_testkit::script::Script;
use harnessgym_testkit::server::{bind, serve, Config};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const USAGE: &str = "usage: hg-mock-model --script FILE --log FILE [--port N] [--dump-bodies DIR]";

fn main() -> ExitCode {
    let mut script = None;
    let mut log = None;
    let mut port: u16 = 0;
    let mut dump_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let r: Result<(), String> = match a.as_str() {
            "--script" => value("--script").map(|v| script = Some(PathBuf::from(v))),
            "--log" => value("--log").map(|v| log = Some(PathBuf::from(v))),
            "--dump-bodies" => value("--dump-bodies").map(|v| dump_dir = Some(PathBuf::from(v))),
            "--port" => value("--port").and_then(|v| {
                v.parse()
                    .map(|p| port = p)
                    .map_err(|_| format!("bad --port {v:?}"))
            }),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = r {
            eprintln!("hg-mock-model: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let (Some(script_path), Some(log_path)) = (script, log) else {
        eprintln!("hg-mock-model: --script and --log are required\n{USAGE}");
        return ExitCode::from(2);
    };
    let script = match Script::load(&script_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hg-mock-model: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(d) = &dump_dir {
        if let Err(e) = std::fs::create_dir_all(d) {
            eprintln!("hg-mock-model: cannot create {}: {e}", d.display());
            return ExitCode::from(2);
        }
    }
    let listener = match bind(port) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hg-mock-model: cannot bind 127.0.0.1:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hg-mock-model: {e}");
            return ExitCode::from(1);
        }
    };
    // Create the log before announcing the port, so a reader never races its creation.
    if let Err(e) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
    {
        eprintln!("hg-mock-model: cannot open log {}: {e}", log_path.display());
        return ExitCode::from(1);
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    let config = Config {
        script,
        log_path,
        dump_dir,
    };
    // SIGTERM / SIGINT keep their default action (terminate): every log line is written and
    // flushed as a whole when its request arrives, so there is nothing to flush at exit.
    match serve(listener, config, Arc::new(AtomicBool::new(false))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hg-mock-model: {e}");
            ExitCode::from(1)
        }
    }
}
