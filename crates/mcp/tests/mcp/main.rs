//! Integration tests of `harnessgym_mcp` through its public API: framing, the smoke check and
//! the client, against `tests/servers/mcp_server.py` in both framings and misbehaving.

mod client;
mod framing;
mod smoke;

use harnessgym_mcp::ServerCommand;
use std::path::{Path, PathBuf};

/// The configurable test server.
pub fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/mcp_server.py")
}

/// `python3 mcp_server.py <args>` in `cwd`.
pub fn test_server(cwd: &Path, args: &[&str]) -> ServerCommand {
    let mut all = vec![server_script().display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    ServerCommand::new("python3", all, cwd)
}

/// Whether `pid` is gone (or a zombie waiting for a reaper that is not us).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
