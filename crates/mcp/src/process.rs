//! MCP server processes: spawned in their own process group with stdin and stdout piped and
//! stderr drained concurrently, and ended as a group (SIGTERM, a grace period, SIGKILL).
//!
//! Stderr is read by a thread of its own from the moment the server starts, so a server that
//! writes megabytes of stderr never blocks on a full pipe. What it writes is kept as a bounded
//! tail (for error messages) and, optionally, copied to a log through a [`LogSink`] that never
//! blocks the reader: when the log cannot keep up, chunks are dropped and counted.
//!
//! # Group signalling and pid reuse
//! The group id is the leader's pid. While the leader is not reaped its pid cannot be reused,
//! so the group is signalled freely until then. Once the leader is reaped the group is only
//! signalled right after `kill(-pgid, 0)` showed it non-empty, and never again after `ESRCH`.

use crate::json::tail_chars;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Time between SIGTERM and SIGKILL when a server group is ended.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);
/// How often a terminating group is looked at.
const POLL: Duration = Duration::from_millis(5);
/// Upper bound on waiting for a group to vanish after SIGKILL.
const KILL_SETTLE: Duration = Duration::from_secs(2);
/// How long the stderr reader may still take to pass on the last bytes once the group is gone.
const DRAIN_SETTLE: Duration = Duration::from_millis(300);
/// Bytes of stderr kept in memory for error messages.
const TAIL_BYTES: usize = 16 * 1024;
/// Chunks a [`LogSink`] queues before it starts dropping.
const SINK_QUEUE: usize = 256;

/// How to start an MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCommand {
    /// The program: looked up on `PATH` when it has no slash; a relative path with a slash is
    /// taken relative to `cwd` (as the original's `subprocess` did).
    pub command: String,
    /// Its arguments, passed verbatim.
    pub args: Vec<String>,
    /// The server's working directory; must exist.
    pub cwd: PathBuf,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
}

impl ServerCommand {
    /// A command with no extra environment.
    pub fn new<I, S>(command: impl Into<String>, args: I, cwd: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ServerCommand {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: cwd.into(),
            env: Vec::new(),
        }
    }

    /// `command arg…` for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn program(&self) -> PathBuf {
        let p = Path::new(&self.command);
        if self.command.contains('/') && p.is_relative() {
            self.cwd.join(p)
        } else {
            p.to_path_buf()
        }
    }
}

/// Where the drained stderr of server processes is copied, besides the in-memory tail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StderrLog {
    /// Kept only as a tail for error messages.
    #[default]
    Discard,
    /// This process's stderr, capped at `cap` bytes.
    Inherit {
        /// Bytes copied before the rest is dropped.
        cap: u64,
    },
    /// Appended to a file, capped at `cap` bytes.
    File {
        /// The log file (created with its parent directory).
        path: PathBuf,
        /// Bytes copied before the rest is dropped.
        cap: u64,
    },
}

/// A log written by a thread of its own: [`LogSink::write`] never blocks. When the writer
/// falls behind, chunks are dropped (and a note says how many bytes); past the cap, one note
/// is written and everything else dropped.
pub struct LogSink {
    tx: Mutex<Option<SyncSender<Vec<u8>>>>,
    done: Mutex<Option<Receiver<()>>>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// Starts the writer thread over `out`.
    pub fn spawn(out: Box<dyn Write + Send>, cap: u64) -> LogSink {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(SINK_QUEUE);
        let (done_tx, done_rx) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let dropped2 = Arc::clone(&dropped);
        let spawned = thread::Builder::new()
            .name("mcp-log".into())
            .spawn(move || {
                let mut out = out;
                let mut written = 0u64;
                let mut capped = false;
                for chunk in rx {
                    if capped {
                        continue;
                    }
                    let lost = dropped2.swap(0, Ordering::Relaxed);
                    if lost > 0 {
                        let note = format!(
                            "\n[harnessgym: {lost} bytes of log dropped: the log could not keep up]\n"
                        );
                        let _ = out.write_all(note.as_bytes());
                    }
                    if written + chunk.len() as u64 > cap {
                        let room = (cap - written) as usize;
                        let _ = out.write_all(&chunk[..room]);
                        let note = format!(
                            "\n[harnessgym: log capped at {cap} bytes; the rest is dropped]\n"
                        );
                        let _ = out.write_all(note.as_bytes());
                        let _ = out.flush();
                        capped = true;
                        continue;
                    }
                    written += chunk.len() as u64;
                    let _ = out.write_all(&chunk);
                    let _ = out.flush();
                }
                let _ = done_tx.send(());
            });
        LogSink {
            tx: Mutex::new(spawned.ok().map(|_| tx)),
            done: Mutex::new(Some(done_rx)),
            dropped,
        }
    }

    /// A sink to this process's stderr.
    pub fn stderr(cap: u64) -> LogSink {
        LogSink::spawn(Box::new(io::stderr()), cap)
    }

    /// A sink appending to `path` (parent directories created).
    pub fn file(path: &Path, cap: u64) -> io::Result<LogSink> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogSink::spawn(Box::new(f), cap))
    }

    /// Queues `bytes` without blocking; drops them if the queue is full.
    pub fn write(&self, bytes: &[u8]) {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            return;
        };
        match tx.try_send(bytes.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(c)) | Err(TrySendError::Disconnected(c)) => {
                self.dropped.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Writes one line (a newline is added).
    pub fn line(&self, text: &str) {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.write(&bytes);
    }

    /// Stops accepting input and waits up to `timeout` for the queue to be written.
    pub fn close(&self, timeout: Duration) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(done) = self.done.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = done.recv_timeout(timeout);
        }
    }
}

/// Collects the stderr of server processes: a bounded tail in memory, and an optional copy.
pub(crate) struct StderrRelay {
    tail: Mutex<VecDeque<u8>>,
    sink: Option<Arc<LogSink>>,
}

impl StderrRelay {
    pub(crate) fn new(sink: Option<Arc<LogSink>>) -> Arc<StderrRelay> {
        Arc::new(StderrRelay {
            tail: Mutex::new(VecDeque::with_capacity(TAIL_BYTES)),
            sink,
        })
    }

    /// A relay for `log` (opening the file or starting the writer).
    pub(crate) fn for_log(log: &StderrLog) -> io::Result<Arc<StderrRelay>> {
        let sink = match log {
            StderrLog::Discard => None,
            StderrLog::Inherit { cap } => Some(Arc::new(LogSink::stderr(*cap))),
            StderrLog::File { path, cap } => Some(Arc::new(LogSink::file(path, *cap)?)),
        };
        Ok(StderrRelay::new(sink))
    }

    pub(crate) fn push(&self, chunk: &[u8]) {
        {
            let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
            if chunk.len() >= TAIL_BYTES {
                tail.clear();
                tail.extend(&chunk[chunk.len() - TAIL_BYTES..]);
            } else {
                let excess = (tail.len() + chunk.len()).saturating_sub(TAIL_BYTES);
                tail.drain(..excess);
                tail.extend(chunk);
            }
        }
        if let Some(sink) = &self.sink {
            sink.write(chunk);
        }
    }

    /// Records a note of our own (in the tail and the log), as one line.
    pub(crate) fn note(&self, text: &str) {
        self.push(format!("[harnessgym] {text}\n").as_bytes());
    }

    /// The last `max_chars` characters of what was collected (lossy UTF-8).
    pub(crate) fn tail(&self, max_chars: usize) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = tail.as_slices();
        let bytes = [a, b].concat();
        tail_chars(&String::from_utf8_lossy(&bytes), max_chars)
    }

    pub(crate) fn close(&self, timeout: Duration) {
        if let Some(sink) = &self.sink {
            sink.close(timeout);
        }
    }
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The working directory is missing (reported before trying, for a clear message).
    #[error("cannot start `{command}`: working directory {} does not exist", cwd.display())]
    NoCwd {
        /// The command as given.
        command: String,
        /// The missing directory.
        cwd: PathBuf,
    },
    /// `exec` failed (program missing, not executable…).
    #[error("cannot start `{command}`: {source}")]
    Exec {
        /// The command as given.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A running server: the leader of its own process group.
pub(crate) struct ServerProcess {
    child: Child,
    pgid: libc::pid_t,
    status: Option<ExitStatus>,
    group_gone: bool,
    drain_done: Option<Receiver<()>>,
}

impl ServerProcess {
    /// Starts `cmd` with stdin and stdout piped; its stderr goes to `relay`.
    pub(crate) fn spawn(
        cmd: &ServerCommand,
        relay: &Arc<StderrRelay>,
    ) -> Result<(ServerProcess, ChildStdin, ChildStdout), SpawnError> {
        if !cmd.cwd.is_dir() {
            return Err(SpawnError::NoCwd {
                command: cmd.command.clone(),
                cwd: cmd.cwd.clone(),
            });
        }
        let mut command = Command::new(cmd.program());
        command
            .args(&cmd.args)
            .current_dir(&cmd.cwd)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|source| SpawnError::Exec {
            command: cmd.command.clone(),
            source,
        })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (done_tx, done_rx) = mpsc::channel();
        let relay = Arc::clone(relay);
        let _ = thread::Builder::new()
            .name("mcp-stderr".into())
            .spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match stderr.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => relay.push(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = done_tx.send(());
            });
        let pgid = child.id() as libc::pid_t;
        Ok((
            ServerProcess {
                child,
                pgid,
                status: None,
                group_gone: false,
                drain_done: Some(done_rx),
            },
            stdin,
            stdout,
        ))
    }

    /// The leader's exit status, reaping it if it has exited.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            }
        }
        self.status
    }

    fn group_alive(&self) -> bool {
        // SAFETY: kill with signal 0 only checks for existence and permission.
        if unsafe { libc::kill(-self.pgid, 0) } != 0 {
            return false;
        }
        // Members that are zombies (killed grandchildren whose new parent has not reaped them
        // yet) still make kill() succeed; only running members count.
        live_member_in_group(self.pgid).unwrap_or(true)
    }

    fn signal_group(&mut self, sig: libc::c_int) {
        // While the leader is unreaped the pgid cannot have been reused; after the reap we
        // signal only a group we just saw alive.
        if self.try_status().is_none() || self.group_alive() {
            // SAFETY: sending a signal to our own child's process group.
            unsafe {
                libc::kill(-self.pgid, sig);
            }
        }
    }

    /// Waits up to `timeout` for the leader to exit and the whole group to be gone.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.group_gone {
                return true;
            }
            if self.try_status().is_some() && !self.group_alive() {
                self.group_gone = true;
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Ends the group: SIGTERM, up to `grace` for it to go, then SIGKILL. Returns the leader's
    /// exit status when it was collected.
    pub(crate) fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if !self.wait_exit(Duration::ZERO) {
            self.signal_group(libc::SIGTERM);
            if !self.wait_exit(grace) {
                self.signal_group(libc::SIGKILL);
                self.wait_exit(KILL_SETTLE);
            }
        }
        if let Some(done) = self.drain_done.take() {
            let _ = done.recv_timeout(DRAIN_SETTLE);
        }
        self.status
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.group_gone {
            self.terminate(DEFAULT_GRACE);
        }
    }
}

/// Whether some process of group `pgid` is not a zombie, from `/proc` (`None` when `/proc` is
/// not readable, e.g. on a system without it).
fn live_member_in_group(pgid: libc::pid_t) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<libc::pid_t>().ok());
        if pgrp == Some(pgid) && state != "Z" && state != "X" {
            return Some(true);
        }
    }
    Some(false)
}

/// Describes an exit status for messages: `exit code 3`, `killed by signal 9`.
pub(crate) fn describe_status(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "exited".into(),
        },
        None => "still running".into(),
    }
}

/// The server processes of one connection or proxy, so that whoever shuts down can end them
/// all, including a detection candidate that has not won yet.
#[derive(Default)]
pub(crate) struct ProcessSet {
    procs: Mutex<Vec<(u64, ServerProcess)>>,
    next: AtomicU64,
}

impl ProcessSet {
    pub(crate) fn add(&self, p: ServerProcess) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, p));
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, ServerProcess)>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on process `id` if it is still here.
    pub(crate) fn with<T>(&self, id: u64, f: impl FnOnce(&mut ServerProcess) -> T) -> Option<T> {
        self.lock()
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| f(p))
    }

    /// Removes process `id` and ends its group.
    pub(crate) fn terminate(&self, id: u64, grace: Duration) -> Option<ExitStatus> {
        let taken = {
            let mut procs = self.lock();
            procs
                .iter()
                .position(|(i, _)| *i == id)
                .map(|pos| procs.remove(pos).1)
        };
        taken.and_then(|mut p| p.terminate(grace))
    }

    /// The exit status of the first process that has exited, if any.
    pub(crate) fn first_status(&self) -> Option<ExitStatus> {
        self.lock().iter_mut().find_map(|(_, p)| p.try_status())
    }

    /// Waits up to `timeout` for every process to exit on its own.
    pub(crate) fn wait_all(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut procs = self.lock();
        procs
            .iter_mut()
            .all(|(_, p)| p.wait_exit(deadline.saturating_duration_since(Instant::now())))
    }

    /// Ends every group (concurrently, so one stubborn server does not delay the others).
    pub(crate) fn terminate_all(&self, grace: Duration) {
        let taken: Vec<ServerProcess> = self.lock().drain(..).map(|(_, p)| p).collect();
        let handles: Vec<_> = taken
            .into_iter()
            .map(|mut p| thread::spawn(move || p.terminate(grace)))
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}
