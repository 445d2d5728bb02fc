//! A bare byte relay, the physical limit for an MCP stdio proxy in `benches/mcp_bench.py`:
//! starts the command given as arguments and copies our stdin to its stdin and its stdout to
//! our stdout, byte for byte, without looking at the data (no framing, no parsing, no
//! telemetry). One thread per direction, each writing what it read at once.
//!
//! `cargo build --release -p harnessgym_mcp --example byte_relay`, then
//! `target/release/examples/byte_relay <server command…>`.

use std::io::{self, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::thread;

fn pump(mut from: impl Read, mut to: impl Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: byte_relay <command> [args…]");
        return ExitCode::from(2);
    };
    let mut child = match Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("byte_relay: cannot start {program}: {e}");
            return ExitCode::from(1);
        }
    };
    let (Some(child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        return ExitCode::from(1);
    };
    // Closing our stdin closes the server's (the thread drops `child_in` when it returns).
    thread::spawn(move || pump(io::stdin().lock(), child_in));
    pump(child_out, io::stdout().lock());
    let _ = child.wait();
    ExitCode::SUCCESS
}
