//! A connection to a server process, with framing detection.
//!
//! Each server process gets a reader thread (a "pump") that frames its stdout (detecting the
//! framing from the first meaningful line, see [`FrameReader`]) and sends every frame, bad
//! frame and the end of the stream into one channel, tagged with the candidate it came from.
//! Reading with a deadline is then a `recv_timeout` on that channel.
//!
//! # Framing detection
//! With a fixed framing there is one process and nothing to detect. With `auto`:
//!
//! 1. Candidate A is started and sent the first messages (normally `initialize`) as
//!    newline-delimited JSON, which nearly every server speaks.
//! 2. The first JSON-RPC message A writes in newline-delimited JSON decides: A wins. This is
//!    the common case and costs nothing.
//! 3. If A stays silent for the probe window (500 ms, at most half the deadline), exits,
//!    closes its output, or writes a `Content-Length` header (a header server answering junk),
//!    candidate B, a fresh process of the same command, is started and sent the same messages
//!    with `Content-Length` framing. A header-framed server cannot make sense of a JSON line
//!    and stays silent, so it costs one probe window.
//! 4. From then on, whichever answers first in the framing it was sent wins: B with a
//!    `Content-Length` frame, or A with a JSON line (a slow newline-delimited server). The loser
//!    is ended at once. A stays alive while B is tried, so a slow newline-delimited server is
//!    not misjudged.
//! 5. If neither answers by the deadline, detection has failed; A (or B if only B is alive)
//!    is kept so a late answer is still read, in newline-delimited framing.

use crate::framing::{write_frame, FrameReader, Framing};
use crate::json::looks_like_jsonrpc;
use crate::process::{ProcessSet, ServerCommand, ServerProcess, SpawnError, StderrRelay};
use std::collections::VecDeque;
use std::io::BufReader;
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long candidate A may stay silent before the `Content-Length` candidate is started.
pub const PROBE_WINDOW: Duration = Duration::from_millis(500);
/// Read buffer of a pump.
const PUMP_BUFFER: usize = 64 * 1024;
/// Frames a pump may queue ahead of its consumer.
const PUMP_QUEUE: usize = 64;

/// The probe window for a detection that must finish within `budget`.
pub(crate) fn probe_window(budget: Duration) -> Duration {
    PROBE_WINDOW.min(budget / 2)
}

/// Something a server's stdout produced.
#[derive(Debug)]
pub(crate) enum ServerEvent {
    /// One frame body (JSON text, not yet parsed) and the framing it came in.
    Frame(Vec<u8>, Framing),
    /// A bad frame or junk line that was skipped.
    Invalid(String),
    /// The end of the stream (with the error that ended it, if any).
    Eof(Option<String>),
}

struct Tagged {
    cand: usize,
    event: ServerEvent,
}

struct Candidate {
    sent: Framing,
    stdin: Option<ChildStdin>,
    proc_id: u64,
    dead: bool,
}

/// Why detection did not find the server's framing.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// No candidate answered by the deadline; one is kept (NDJSON) in case it answers late.
    NoReply,
    /// Every candidate closed its output (exited) without answering.
    Exited,
}

pub(crate) struct Transport {
    cmd: ServerCommand,
    mode: Option<Framing>,
    relay: Arc<StderrRelay>,
    procs: Arc<ProcessSet>,
    cands: Vec<Candidate>,
    tx: Option<SyncSender<Tagged>>,
    rx: Receiver<Tagged>,
    winner: Option<usize>,
    detected: Option<Framing>,
    early: VecDeque<ServerEvent>,
}

/// The write half of an opened transport.
pub(crate) struct ServerWriter {
    stdin: Option<ChildStdin>,
    framing: Framing,
}

impl ServerWriter {
    pub(crate) fn send(&mut self, body: &[u8]) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(stdin) => write_frame(stdin, self.framing, body),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the server's input is closed",
            )),
        }
    }
}

/// The read half of an opened transport.
pub(crate) struct ServerReader {
    rx: Receiver<Tagged>,
    winner: usize,
    early: VecDeque<ServerEvent>,
}

impl ServerReader {
    /// The next event from the chosen server (blocking).
    pub(crate) fn recv(&mut self) -> ServerEvent {
        if let Some(ev) = self.early.pop_front() {
            return ev;
        }
        loop {
            match self.rx.recv() {
                Ok(t) if t.cand == self.winner => return t.event,
                Ok(_) => continue,
                Err(_) => return ServerEvent::Eof(None),
            }
        }
    }
}

impl Transport {
    /// Starts the server (candidate A). `mode` `None` means detect the framing on `open`.
    pub(crate) fn start(
        cmd: &ServerCommand,
        mode: Option<Framing>,
        relay: Arc<StderrRelay>,
        procs: Arc<ProcessSet>,
    ) -> Result<Transport, SpawnError> {
        // Bounded: a server that outruns its reader is held back by the pipe, not buffered.
        let (tx, rx) = mpsc::sync_channel(PUMP_QUEUE);
        let mut t = Transport {
            cmd: cmd.clone(),
            mode,
            relay,
            procs,
            cands: Vec::new(),
            tx: Some(tx),
            rx,
            winner: None,
            detected: None,
            early: VecDeque::new(),
        };
        t.spawn_candidate(mode.unwrap_or(Framing::Ndjson))?;
        if mode.is_some() {
            t.winner = Some(0);
            t.detected = mode;
        }
        Ok(t)
    }

    fn spawn_candidate(&mut self, sent: Framing) -> Result<(), SpawnError> {
        let (process, stdin, stdout) = ServerProcess::spawn(&self.cmd, &self.relay)?;
        let proc_id = self.procs.add(process);
        let cand = self.cands.len();
        if let Some(tx) = &self.tx {
            spawn_pump(stdout, cand, tx.clone());
        }
        self.cands.push(Candidate {
            sent,
            stdin: Some(stdin),
            proc_id,
            dead: false,
        });
        Ok(())
    }

    /// The framing in use: fixed, or detected by [`Transport::open`]. `None` while unknown
    /// (and after a failed detection).
    pub(crate) fn framing(&self) -> Option<Framing> {
        self.detected
    }

    /// Whether the chosen candidate is known (fixed framing, or `open` has returned).
    pub(crate) fn is_open(&self) -> bool {
        self.winner.is_some()
    }

    /// Sends `first` (the first messages, in order, ending with a request) and, in auto mode,
    /// detects the framing by the deadline (see the module docs). Returns the framing.
    pub(crate) fn open(
        &mut self,
        first: &[Vec<u8>],
        probe: Duration,
        deadline: Instant,
    ) -> Result<Framing, OpenError> {
        if self.mode.is_some() || self.winner.is_some() {
            for body in first {
                self.send(body);
            }
            return self.detected.ok_or(OpenError::NoReply);
        }
        self.write_to(0, first);
        let probe_at = Instant::now() + probe;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if self.cands.len() == 1 && now >= probe_at {
                self.start_fallback(first);
                continue;
            }
            let wake = if self.cands.len() == 1 {
                probe_at.min(deadline)
            } else {
                deadline
            };
            let tagged = match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(t) => t,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let cand = tagged.cand;
            match tagged.event {
                ServerEvent::Frame(body, framing) => {
                    if framing == self.cands[cand].sent && looks_like_jsonrpc(&body) {
                        self.winner = Some(cand);
                        self.early.push_back(ServerEvent::Frame(body, framing));
                        break;
                    }
                    if cand == 0 && framing == Framing::ContentLength {
                        // A header server answered our JSON line: it speaks Content-Length.
                        self.start_fallback(first);
                    }
                    self.relay.note(&format!(
                        "framing detection: ignored a {framing} frame from the {} probe",
                        self.cands[cand].sent
                    ));
                }
                ServerEvent::Invalid(e) => {
                    self.relay.note(&format!(
                        "server output skipped during framing detection: {e}"
                    ));
                }
                ServerEvent::Eof(_) => {
                    self.cands[cand].dead = true;
                    if self.cands.len() == 1 {
                        self.start_fallback(first);
                    }
                    if self.cands.iter().all(|c| c.dead) {
                        break;
                    }
                }
            }
        }
        match self.winner {
            Some(w) => {
                self.end_losers(w);
                self.detected = Some(self.cands[w].sent);
                Ok(self.cands[w].sent)
            }
            None => {
                let alive = self.cands.iter().position(|c| !c.dead);
                let keep = alive.unwrap_or(0);
                self.winner = Some(keep);
                self.end_losers(keep);
                // Keep reading in the kept candidate's framing; report no detection.
                match alive {
                    Some(_) => Err(OpenError::NoReply),
                    None => Err(OpenError::Exited),
                }
            }
        }
    }

    fn start_fallback(&mut self, first: &[Vec<u8>]) {
        if self.cands.len() > 1 {
            return;
        }
        match self.spawn_candidate(Framing::ContentLength) {
            Ok(()) => self.write_to(1, first),
            Err(e) => {
                self.relay.note(&format!(
                    "framing detection: cannot start a second probe: {e}"
                ));
                // Keep waiting on A alone.
                self.cands.push(Candidate {
                    sent: Framing::ContentLength,
                    stdin: None,
                    proc_id: u64::MAX,
                    dead: true,
                });
            }
        }
    }

    fn write_to(&mut self, cand: usize, bodies: &[Vec<u8>]) {
        let framing = self.cands[cand].sent;
        if let Some(stdin) = self.cands[cand].stdin.as_mut() {
            for body in bodies {
                if write_frame(stdin, framing, body).is_err() {
                    // The server is gone; its pump reports the end of its output.
                    break;
                }
            }
        }
    }

    fn end_losers(&mut self, winner: usize) {
        for (i, c) in self.cands.iter_mut().enumerate() {
            if i != winner {
                c.stdin = None;
                c.dead = true;
                if c.proc_id != u64::MAX {
                    self.procs.terminate(c.proc_id, Duration::from_millis(200));
                }
            }
        }
    }

    /// Sends one message to the chosen server. Errors (a dead server) are left to the reader,
    /// which sees the end of the server's output.
    pub(crate) fn send(&mut self, body: &[u8]) -> bool {
        let Some(w) = self.winner else {
            return false;
        };
        let framing = self.detected.unwrap_or(self.cands[w].sent);
        match self.cands[w].stdin.as_mut() {
            Some(stdin) => write_frame(stdin, framing, body).is_ok(),
            None => false,
        }
    }

    /// The next event from the chosen server, or `None` at the deadline.
    pub(crate) fn recv(&mut self, deadline: Instant) -> Option<ServerEvent> {
        if let Some(ev) = self.early.pop_front() {
            return Some(ev);
        }
        let w = self.winner?;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            match self.rx.recv_timeout(deadline - now) {
                Ok(t) if t.cand == w => return Some(t.event),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return Some(ServerEvent::Eof(None)),
            }
        }
    }

    /// Closes the chosen server's stdin (and every candidate's).
    pub(crate) fn close_input(&mut self) {
        for c in &mut self.cands {
            c.stdin = None;
        }
    }

    /// The chosen server's process id in the set.
    pub(crate) fn proc_id(&self) -> Option<u64> {
        self.winner
            .map(|w| self.cands[w].proc_id)
            .filter(|id| *id != u64::MAX)
    }

    /// Splits an opened transport into its halves. Panics if it is not open.
    pub(crate) fn split(mut self) -> (ServerWriter, ServerReader) {
        let w = self.winner.expect("transport opened");
        let framing = self.detected.unwrap_or(self.cands[w].sent);
        let stdin = self.cands[w].stdin.take();
        // Drop our sender so the reader sees the channel close once the pumps end.
        self.tx = None;
        (
            ServerWriter { stdin, framing },
            ServerReader {
                rx: self.rx,
                winner: w,
                early: self.early,
            },
        )
    }
}

/// Frames `stdout` on a thread and sends the events, tagged `cand`, until the end.
fn spawn_pump(stdout: ChildStdout, cand: usize, tx: SyncSender<Tagged>) {
    let _ = thread::Builder::new()
        .name("mcp-stdout".into())
        .spawn(move || {
            let mut reader = FrameReader::new(BufReader::with_capacity(PUMP_BUFFER, stdout), None);
            loop {
                let event = match reader.read_frame() {
                    Ok(Some(body)) => {
                        ServerEvent::Frame(body, reader.framing().unwrap_or(Framing::Ndjson))
                    }
                    Ok(None) => ServerEvent::Eof(None),
                    Err(e) if e.is_recoverable() => ServerEvent::Invalid(e.to_string()),
                    Err(e) => ServerEvent::Eof(Some(e.to_string())),
                };
                let end = matches!(event, ServerEvent::Eof(_));
                if tx.send(Tagged { cand, event }).is_err() || end {
                    break;
                }
            }
        });
}
