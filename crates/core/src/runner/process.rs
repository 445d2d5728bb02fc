//! Supervision of every child process HarnessGym starts: agent CLIs, post-attempt shell
//! commands, verifier scripts and, later, MCP servers.
//!
//! Each child leads its own process group. Its stdout and stderr are streamed to files in
//! fixed-size chunks, so memory stays bounded whatever the output size. A timeout, a
//! cancellation, or group members still running after the leader exited all end in the same
//! sequence sent to the whole group: SIGTERM, a grace period, then SIGKILL. Nothing the
//! child started outlives the run, and every byte written before the kill stays on disk.
//!
//! # PID reuse
//! The pgid is the leader's pid, so signalling `-pgid` must never hit an unrelated group
//! that later reuses that number. Two rules keep it safe:
//! * While the leader is not reaped, its pid (and so the pgid) cannot be reused, even once
//!   it is a zombie. Exit is observed with `waitid(WNOWAIT)` and the leader is reaped only
//!   by this module, so every signal sent before that point is safe.
//! * The leader is reaped as soon as it exits. A zombie leader still counts as a group
//!   member, and `kill(-pgid, 0)` would keep succeeding. After the reap, the kernel keeps the
//!   number reserved for as long as any process (zombies included) still has it as its pgid.
//!   We signal the group only right after seeing it non-empty, and never again after
//!   `ESRCH`. The remaining window, between that check and the signal (at most one poll
//!   interval), would need the whole pid space to wrap around and the number to come back
//!   as a new group leader within it.

use crate::cancel::CancelToken;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Size of the buffer each output reader copies through; the only per-stream memory.
const CHUNK: usize = 64 * 1024;
/// How often the supervisor looks at the cancel token while the leader runs.
const CANCEL_POLL: Duration = Duration::from_millis(20);
/// How often the group is checked while it is being terminated.
const GROUP_POLL: Duration = Duration::from_millis(10);
/// Default time between SIGTERM and SIGKILL.
const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// How long readers may still wait for EOF once the group is gone. Only a process that left
/// the group (`setsid`) can still hold the pipes by then, and we cannot signal it safely.
const READER_LINGER: Duration = Duration::from_secs(1);
/// Upper bound on waiting for the group to vanish after SIGKILL (processes stuck in
/// uninterruptible sleep die only when their I/O completes).
const KILL_SETTLE: Duration = Duration::from_secs(2);
/// Chunks a reader still copies once told to stop, so a writer outside the group cannot keep
/// it busy forever.
const DRAIN_LIMIT: usize = 64;

/// Where the child's stdin comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StdinSource {
    /// `/dev/null`: reads see EOF at once.
    #[default]
    Null,
    /// These bytes, written by a helper thread; the pipe is then closed so the child sees EOF.
    Bytes(Vec<u8>),
    /// This file, opened read-only.
    File(PathBuf),
}

/// Everything needed to start and supervise one child process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Program to run; looked up on `PATH` when it contains no slash.
    pub program: OsString,
    /// Arguments, not including the program name.
    pub args: Vec<OsString>,
    /// Working directory; must exist.
    pub cwd: PathBuf,
    /// Variables added on top of the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Source of the child's stdin.
    pub stdin: StdinSource,
    /// File receiving stdout as it arrives (created or truncated).
    pub stdout_path: PathBuf,
    /// File receiving stderr as it arrives (created or truncated).
    pub stderr_path: PathBuf,
    /// Wall-clock limit for the leader; `None` waits indefinitely.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the group has to be terminated.
    pub grace: Duration,
}

impl ProcessSpec {
    /// A spec with no arguments, no extra environment, stdin from `/dev/null`, no timeout
    /// and a 5 s grace period.
    pub fn new(
        program: impl Into<OsString>,
        cwd: impl Into<PathBuf>,
        stdout_path: impl Into<PathBuf>,
        stderr_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            stdin: StdinSource::Null,
            stdout_path: stdout_path.into(),
            stderr_path: stderr_path.into(),
            timeout: None,
            grace: DEFAULT_GRACE,
        }
    }

    /// Append one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Append several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Add (or override) one environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set the stdin source.
    #[must_use]
    pub fn stdin(mut self, stdin: StdinSource) -> Self {
        self.stdin = stdin;
        self
    }

    /// Set the timeout; accepts a `Duration` or `None`.
    #[must_use]
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// Set the grace period between SIGTERM and SIGKILL.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

/// How a supervised process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// The leader's exit code when it exited normally. Also set when it exited on its own
    /// after SIGTERM on a timeout or cancellation.
    pub exit_code: Option<i32>,
    /// The signal that ended the leader, if any.
    pub signal: Option<i32>,
    /// The leader was still running when the timeout expired.
    pub timed_out: bool,
    /// The cancel token was set while the leader was running.
    pub cancelled: bool,
    /// Wall time from spawn preparation until all output was on disk.
    pub duration: Duration,
    /// Bytes the child wrote to stdout (all of them are in `stdout_path`).
    pub stdout_bytes: u64,
    /// Bytes the child wrote to stderr. Does not count the note this module appends on
    /// timeout or cancellation.
    pub stderr_bytes: u64,
    /// The process group had to be signalled: on timeout or cancellation, or because group
    /// members were still running after the leader exited.
    pub killed_group: bool,
}

impl ProcessOutcome {
    /// The leader exited with code 0, without timeout or cancellation.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled
    }
}

/// Why a process could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program does not exist (or is not on `PATH`).
    #[error("program not found: {program} (no such file, or not on PATH)")]
    NotFound {
        /// The program as given in the spec.
        program: String,
    },
    /// The program exists but could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program as given in the spec.
        program: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A file or directory the spec names could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_error(path: &Path, source: io::Error) -> ProcessError {
    ProcessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A `/bin/sh -c <command>` spec with [`ProcessSpec::new`]'s defaults.
pub fn shell(
    command: &str,
    cwd: &Path,
    stdout_path: impl Into<PathBuf>,
    stderr_path: impl Into<PathBuf>,
) -> ProcessSpec {
    ProcessSpec::new("/bin/sh", cwd, stdout_path, stderr_path)
        .arg("-c")
        .arg(command)
}

/// The last `max_bytes` of a file, decoded lossily (invalid UTF-8 becomes U+FFFD).
/// Meant for small outputs shown to users. An unreadable or missing file gives `""`.
pub fn read_lossy(path: impl AsRef<Path>, max_bytes: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let skip = len.saturating_sub(max_bytes as u64);
    if skip > 0 && file.seek(SeekFrom::Start(skip)).is_err() {
        return String::new();
    }
    let mut buf = Vec::with_capacity(len.min(max_bytes as u64) as usize);
    if file.take(max_bytes as u64).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    if skip > 0 {
        // Cutting inside a multi-byte character would show a spurious U+FFFD; start at the
        // next character boundary instead.
        let cut = buf
            .iter()
            .take(3)
            .take_while(|&&b| b & 0xC0 == 0x80)
            .count();
        buf.drain(..cut);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Run `spec` to completion under supervision and report how it ended.
///
/// Blocks until the leader has exited and been reaped, no live process is left in its
/// group, and all output is on disk. A non-zero exit, a timeout or a cancellation is an
/// `Ok` outcome. `Err` means the process could not be started, or its output files
/// could not be written.
pub fn run(spec: &ProcessSpec, cancel: &CancelToken) -> Result<ProcessOutcome, ProcessError> {
    let start = Instant::now();
    let program = spec.program.to_string_lossy().into_owned();

    // Checked first because a missing cwd makes spawn fail with ENOENT, which would
    // otherwise be reported as a missing program.
    match fs::metadata(&spec.cwd) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            let err = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
            return Err(io_error(&spec.cwd, err));
        }
        Err(err) => return Err(io_error(&spec.cwd, err)),
    }
    let stdout_file =
        File::create(&spec.stdout_path).map_err(|e| io_error(&spec.stdout_path, e))?;
    let stderr_file =
        File::create(&spec.stderr_path).map_err(|e| io_error(&spec.stderr_path, e))?;
    let stdin = match &spec.stdin {
        StdinSource::Null => Stdio::null(),
        StdinSource::Bytes(_) => Stdio::piped(),
        StdinSource::File(path) => File::open(path).map_err(|e| io_error(path, e))?.into(),
    };
    let spawn_error = |source| ProcessError::Spawn {
        program: program.clone(),
        source,
    };
    let (stop_read, stop_write) = stop_pipe().map_err(spawn_error)?;

    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => ProcessError::NotFound {
                program: program.clone(),
            },
            _ => spawn_error(source),
        })?;
    let stdin_pipe = child.stdin.take();
    let stdout_pipe = child.stdout.take().expect("stdout is piped");
    let stderr_pipe = child.stderr.take().expect("stderr is piped");

    // From here on, `leader` makes sure the group is killed and the leader reaped even if
    // we return early or panic.
    let (exit_tx, exit_rx) = mpsc::channel();
    let mut leader = Leader {
        pgid: child.id() as libc::pid_t,
        child,
        exited: exit_rx,
        status: None,
    };
    spawn_exit_watcher(leader.pgid, exit_tx).map_err(spawn_error)?;

    // Readers never send; the channel disconnects once both have finished.
    let (readers_tx, readers_rx) = mpsc::channel::<()>();
    let stop_read = Arc::new(stop_read);
    let out_reader = spawn_reader(stdout_pipe, stdout_file, &stop_read, &readers_tx);
    let err_reader = spawn_reader(stderr_pipe, stderr_file, &stop_read, &readers_tx);
    drop(readers_tx);
    let out_reader = out_reader.map_err(spawn_error)?;
    let err_reader = err_reader.map_err(spawn_error)?;

    if let (StdinSource::Bytes(data), Some(mut pipe)) = (&spec.stdin, stdin_pipe) {
        let data = data.clone();
        // Not joined: a child that never reads stdin must not stall `run`. The thread ends
        // once the data is written or the pipe breaks (EPIPE when every reader is gone);
        // dropping the pipe closes it so the child sees EOF.
        thread::Builder::new()
            .name("hg-stdin".into())
            .spawn(move || {
                let _ = pipe.write_all(&data);
            })
            .map_err(spawn_error)?;
    }

    let deadline = spec.timeout.map(|t| start + t);
    let mut ending = Ending::Exited;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            ending = Ending::TimedOut;
            break;
        }
        if cancel.is_cancelled() {
            ending = Ending::Cancelled;
            break;
        }
        let wait = deadline.map_or(CANCEL_POLL, |d| (d - now).min(CANCEL_POLL));
        if leader.poll_exit(wait) {
            break;
        }
    }

    let killed_group = match ending {
        // The leader is not reaped yet, so the pgid is still ours to signal.
        Ending::TimedOut | Ending::Cancelled => terminate_group(&mut leader, spec.grace),
        // Members that outlive the leader would hold the pipes open or linger as orphans.
        Ending::Exited => group_alive(leader.pgid) && terminate_group(&mut leader, spec.grace),
    };
    let status = leader.wait_exit();

    // Every process that could write to the pipes is gone now, so the readers see EOF once
    // they have copied what is buffered. Only a process that escaped the group can keep
    // them waiting; after READER_LINGER they copy what is there and stop.
    if let Err(RecvTimeoutError::Timeout) = readers_rx.recv_timeout(READER_LINGER) {
        drop(stop_write);
    }
    let out = join_reader(out_reader);
    let err = join_reader(err_reader);
    if let Some(e) = out.error {
        return Err(io_error(&spec.stdout_path, e));
    }
    if let Some(e) = err.error {
        return Err(io_error(&spec.stderr_path, e));
    }

    let note = match ending {
        Ending::Exited => None,
        Ending::TimedOut => Some(format!(
            "harnessgym: process timed out after {}s; process group terminated",
            spec.timeout.unwrap_or_default().as_secs_f64()
        )),
        Ending::Cancelled => Some("harnessgym: cancelled; process group terminated".to_owned()),
    };
    if let Some(note) = note {
        // Keep the note on a line of its own even if the child's last line was unterminated.
        let sep = if err.last_byte.is_some_and(|b| b != b'\n') {
            "\n"
        } else {
            ""
        };
        OpenOptions::new()
            .append(true)
            .open(&spec.stderr_path)
            .and_then(|mut f| f.write_all(format!("{sep}{note}\n").as_bytes()))
            .map_err(|e| io_error(&spec.stderr_path, e))?;
    }

    Ok(ProcessOutcome {
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out: ending == Ending::TimedOut,
        cancelled: ending == Ending::Cancelled,
        duration: start.elapsed(),
        stdout_bytes: out.bytes,
        stderr_bytes: err.bytes,
        killed_group,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Exited,
    TimedOut,
    Cancelled,
}

/// The group leader. Owns reaping, so the pgid cannot be reused while it is not reaped.
struct Leader {
    child: Child,
    pgid: libc::pid_t,
    /// Disconnects (or receives) once the leader has exited; see `spawn_exit_watcher`.
    exited: mpsc::Receiver<()>,
    /// `Some` once reaped; the inner `None` if the status was unavailable (reaped elsewhere).
    status: Option<Option<ExitStatus>>,
}

impl Leader {
    /// Wait up to `wait` for the leader to exit; reap it if it has. True once reaped.
    fn poll_exit(&mut self, wait: Duration) -> bool {
        if self.status.is_some() {
            return true;
        }
        match self.exited.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                self.status = Some(self.child.wait().ok());
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// Block until the leader has exited, reap it, and return its status.
    fn wait_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = Some(self.child.wait().ok());
        }
        self.status.flatten()
    }

    /// Send `sig` to the whole group; false when no member could be signalled.
    /// Callers only use this while the leader is unreaped or right after seeing the
    /// group alive (see the module docs on PID reuse).
    fn signal_group(&self, sig: libc::c_int) -> bool {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-self.pgid, sig) == 0 }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Only reached unreaped on an early return or panic: never leave the group running.
        if self.status.is_none() {
            self.signal_group(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// SIGTERM the group, wait up to `grace` for it to disappear, then SIGKILL it.
/// Returns whether any signal was delivered. On return the leader is reaped.
fn terminate_group(leader: &mut Leader, grace: Duration) -> bool {
    if !leader.signal_group(libc::SIGTERM) {
        return false;
    }
    let deadline = Instant::now() + grace;
    let mut watch = GroupWatch::new(leader.pgid);
    loop {
        if leader.poll_exit(Duration::ZERO) && !watch.alive() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = (deadline - now).min(GROUP_POLL);
        if leader.status.is_some() {
            thread::sleep(wait);
        } else {
            leader.poll_exit(wait);
        }
    }
    leader.signal_group(libc::SIGKILL);
    leader.wait_exit();
    // Re-sending SIGKILL catches a child forked in the instant before the first one.
    let settle = Instant::now() + KILL_SETTLE;
    while watch.alive() && Instant::now() < settle {
        leader.signal_group(libc::SIGKILL);
        thread::sleep(GROUP_POLL);
    }
    true
}

/// Whether any live process remains in group `pgid`. The leader must be reaped first:
/// a zombie leader would make the group look alive forever.
fn group_alive(pgid: libc::pid_t) -> bool {
    GroupWatch::new(pgid).alive()
}

/// Tracks live members of a group whose leader has been reaped.
struct GroupWatch {
    pgid: libc::pid_t,
    /// Live members found by the last full scan, re-checked first (a few small reads
    /// instead of reading every process in /proc).
    known: Vec<libc::pid_t>,
}

impl GroupWatch {
    fn new(pgid: libc::pid_t) -> Self {
        Self {
            pgid,
            known: Vec::new(),
        }
    }

    fn alive(&mut self) -> bool {
        // Fast path, and the common case: no member at all.
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(-self.pgid, 0) } != 0 {
            // ESRCH: gone. EPERM: only members we may not signal (e.g. setuid) remain;
            // waiting for them would not help.
            return false;
        }
        // Zombies are members too, and orphans are reaped by init only eventually (in
        // some containers much later), so look for members that are actually running.
        let pgid = self.pgid;
        if self.known.iter().any(|&pid| proc_live_member(pid, pgid)) {
            return true;
        }
        match scan_live_members(pgid) {
            Some(found) => {
                self.known = found;
                !self.known.is_empty()
            }
            // No usable /proc: trust kill.
            None => true,
        }
    }
}

/// Live (non-zombie) processes whose pgid is `pgid`; `None` if /proc cannot be read.
fn scan_live_members(pgid: libc::pid_t) -> Option<Vec<libc::pid_t>> {
    let entries = fs::read_dir("/proc").ok()?;
    let found = entries
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .to_str()?
                .parse::<libc::pid_t>()
                .ok()
        })
        .filter(|&pid| proc_live_member(pid, pgid))
        .collect();
    Some(found)
}

/// Whether `pid` is running (not a zombie) and in group `pgid`, from `/proc/<pid>/stat`.
fn proc_live_member(pid: libc::pid_t, pgid: libc::pid_t) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ppid pgrp ... num_threads ..."; comm may contain spaces and parens.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
        return false;
    };
    if pgrp.parse::<libc::pid_t>() != Ok(pgid) {
        return false;
    }
    // A zombie main thread whose other threads still run shows "Z" with num_threads > 1.
    let threads: u32 = fields.get(17).and_then(|t| t.parse().ok()).unwrap_or(1);
    !matches!(*state, "Z" | "X" | "x") || threads > 1
}

/// Watch for the leader's exit without reaping it (`WNOWAIT`), so the pid stays reserved
/// until `Leader` reaps it. The sender is dropped (or sends) once the leader has exited.
fn spawn_exit_watcher(pid: libc::pid_t, exited: mpsc::Sender<()>) -> io::Result<()> {
    thread::Builder::new()
        .name("hg-exit-watch".into())
        .spawn(move || {
            loop {
                // SAFETY: siginfo_t is plain data; waitid only writes into it.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: `info` is a valid, writable siginfo_t.
                let rc = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
            let _ = exited.send(());
        })
        .map(drop)
}

/// A close-on-exec pipe used only to tell readers to stop: dropping the write end wakes
/// their `poll`. Close-on-exec keeps it out of every child.
fn stop_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a reader copied.
#[derive(Default)]
struct Pumped {
    bytes: u64,
    last_byte: Option<u8>,
    /// First failure writing the file (or reading the pipe).
    error: Option<io::Error>,
}

fn spawn_reader<R>(
    src: R,
    dst: File,
    stop: &Arc<OwnedFd>,
    done: &mpsc::Sender<()>,
) -> io::Result<JoinHandle<Pumped>>
where
    R: Read + AsRawFd + Send + 'static,
{
    let stop = Arc::clone(stop);
    let done = done.clone();
    thread::Builder::new()
        .name("hg-output".into())
        .spawn(move || {
            let pumped = pump(src, dst, &stop);
            drop(done);
            pumped
        })
}

fn join_reader(handle: JoinHandle<Pumped>) -> Pumped {
    handle.join().unwrap_or_else(|_| Pumped {
        error: Some(io::Error::other("output reader panicked")),
        ..Pumped::default()
    })
}

/// Copy `src` to `dst` chunk by chunk until EOF, or until `stop` fires and what is
/// immediately available (at most DRAIN_LIMIT chunks) has been copied.
fn pump<R: Read + AsRawFd>(mut src: R, mut dst: File, stop: &OwnedFd) -> Pumped {
    let mut buf = vec![0u8; CHUNK];
    let mut out = Pumped::default();
    let mut stopping = false;
    let mut drained = 0;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: src.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Once stopping, only look at what is already there (timeout 0).
        let (nfds, timeout) = if stopping { (1, 0) } else { (2, -1) };
        // SAFETY: `fds` holds at least `nfds` valid pollfd entries.
        if unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout) } < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            out.error.get_or_insert(err);
            break;
        }
        if fds[0].revents != 0 {
            match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.bytes += n as u64;
                    out.last_byte = Some(buf[n - 1]);
                    // After a write failure keep reading (and discarding) so the child is
                    // never blocked on a full pipe; the error is reported at the end.
                    if out.error.is_none() {
                        if let Err(err) = dst.write_all(&buf[..n]) {
                            out.error = Some(err);
                        }
                    }
                    if stopping {
                        drained += 1;
                        if drained >= DRAIN_LIMIT {
                            break;
                        }
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    out.error.get_or_insert(err);
                    break;
                }
            }
        } else if stopping {
            break;
        } else if fds[1].revents != 0 {
            stopping = true;
        }
    }
    out
}
