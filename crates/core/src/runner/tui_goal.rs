//! The experimental `tui-goal` runner: Codex's interactive TUI in a real PTY. A fresh session per
//! attempt; the goal is typed with a real Enter (`\r`); completion is read from result.json.

use super::{Phase, PhaseContext, Runner, RunnerResult};
use crate::orchestrator::result::read_lenient;
use portable_pty::{native_pty_system, Child, CommandBuilder, PtySize};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
const SIZE: PtySize = PtySize {
    rows: 50,
    cols: 200,
    pixel_width: 0,
    pixel_height: 0,
};

struct Session {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    /// Where the reader thread appends raw output (the current phase's stdout file).
    sink: Arc<Mutex<Option<std::fs::File>>>,
    eof: Arc<AtomicBool>,
}

/// Drives `codex` (no arguments) in a PTY.
pub struct TuiGoalRunner {
    bin: String,
    session: Option<Session>,
}

impl TuiGoalRunner {
    pub fn new(bin: &str) -> TuiGoalRunner {
        TuiGoalRunner {
            bin: bin.into(),
            session: None,
        }
    }

    fn spawn(&mut self, workspace: &Path) -> io::Result<()> {
        self.close();
        let pair = native_pty_system()
            .openpty(SIZE)
            .map_err(io::Error::other)?;
        let mut cmd = CommandBuilder::new(&self.bin);
        cmd.cwd(workspace);
        cmd.env("TERM", "xterm-256color");
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().map_err(io::Error::other)?;
        let writer = pair.master.take_writer().map_err(io::Error::other)?;
        let sink: Arc<Mutex<Option<std::fs::File>>> = Arc::new(Mutex::new(None));
        let eof = Arc::new(AtomicBool::new(false));
        let (thread_sink, thread_eof) = (sink.clone(), eof.clone());
        std::thread::spawn(move || {
            let _master = pair.master; // keep the master open while reading
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    // Raw bytes go to disk unchanged; readers decode lossily, so a UTF-8
                    // sequence split across reads is never mangled.
                    Ok(n) => {
                        if let Some(f) = thread_sink.lock().expect("sink lock").as_mut() {
                            let _ = f.write_all(&buf[..n]);
                        }
                    }
                }
            }
            thread_eof.store(true, Ordering::SeqCst);
        });
        self.session = Some(Session {
            child,
            writer,
            sink,
            eof,
        });
        Ok(())
    }

    fn phase(
        &mut self,
        ctx: &PhaseContext,
        phase: Phase,
        prompt: &str,
    ) -> io::Result<RunnerResult> {
        std::fs::create_dir_all(&ctx.phase_dir)?;
        let [prompt_path, stdout_path, stderr_path, transcript_path] =
            ["prompt", "stdout", "stderr", "transcript"].map(|w| ctx.file(phase, w));
        std::fs::write(&prompt_path, prompt)?;
        std::fs::write(&stderr_path, "")?;
        let started = Instant::now();
        let mut result = RunnerResult {
            phase: phase.name().into(),
            status: "failed".into(),
            session_id: None,
            return_code: None,
            timed_out: false,
            duration_seconds: 0.0,
            stdout_path: Some(stdout_path.clone()),
            stderr_path: Some(stderr_path.clone()),
            transcript_path: Some(transcript_path.clone()),
            prompt_path: Some(prompt_path.clone()),
            message: "Experimental TUI backend; use exec for the dependable path.".into(),
        };
        if phase == Phase::Attempt {
            if let Err(e) = self.spawn(ctx.workspace) {
                result.return_code = Some(127);
                result.message = format!("Codex executable could not start in a PTY: {e}");
                std::fs::write(&stdout_path, "")?;
                std::fs::write(&stderr_path, format!("{}\n", result.message))?;
                return finish(result, &transcript_path, "", started);
            }
        }
        let Some(session) = self.session.as_mut() else {
            result.message = "Cannot run this phase: the Codex TUI process is not running.".into();
            std::fs::write(&stdout_path, "")?;
            return finish(result, &transcript_path, "", started);
        };
        *session.sink.lock().expect("sink lock") = Some(std::fs::File::create(&stdout_path)?);
        let text = match phase {
            Phase::Attempt => format!(
                "/goal Read and follow the HarnessGym attempt prompt at {}.",
                prompt_path.display()
            ),
            Phase::Reflection => format!(
                "Read and follow the HarnessGym reflection prompt at {}.",
                prompt_path.display()
            ),
            Phase::Build => format!(
                "Read and follow the HarnessGym build prompt at {}.",
                prompt_path.display()
            ),
        };
        session.writer.write_all(text.as_bytes())?;
        session.writer.write_all(b"\r")?;
        session.writer.flush()?;
        let deadline = started + ctx.timeout;
        result.status = loop {
            if phase_done(phase, ctx.result_path) {
                break "completed";
            }
            if ctx.cancel.is_cancelled() {
                self.close();
                break "cancelled";
            }
            let session = self.session.as_mut().expect("session is open");
            if let Ok(Some(status)) = session.child.try_wait() {
                result.return_code = Some(status.exit_code() as i32);
                break "failed";
            }
            if Instant::now() >= deadline {
                let _ = session.writer.write_all(b"\x03");
                let _ = session.writer.flush();
                result.timed_out = true;
                break "timeout";
            }
            std::thread::sleep(POLL);
        }
        .into();
        if let Some(s) = &self.session {
            *s.sink.lock().expect("sink lock") = None;
        }
        finish(result, &transcript_path, &text, started)
    }
}

/// Completion as the original reads it from result.json (tolerating a half-written file).
fn phase_done(phase: Phase, result_path: &Path) -> bool {
    let data = read_lenient(result_path);
    match phase {
        Phase::Attempt => {
            !matches!(data.get("status"), None | Some(Value::Null))
                && data.get("status") != Some(&Value::from("running"))
        }
        Phase::Reflection => data
            .get("reflection")
            .and_then(|r| r.get("selected_improvement"))
            .is_some_and(|s| !s.is_null() && s != &Value::from("")),
        Phase::Build => {
            data.get("tooling").is_some_and(|t| !t.is_null())
                || data.get("status") == Some(&Value::from("tooling_built"))
        }
    }
}

fn finish(
    mut result: RunnerResult,
    transcript: &Path,
    typed: &str,
    started: Instant,
) -> io::Result<RunnerResult> {
    result.duration_seconds = started.elapsed().as_secs_f64();
    let output = result
        .stdout_path
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .unwrap_or_default();
    let text = format!(
        "runner: tui-goal\ncommand_text: {typed}\nstatus: {}\ntimed_out: {}\nduration_seconds: {:.3}\nnote: experimental PTY automation; completion is inferred from result.json.\n\n{}",
        result.status,
        if result.timed_out { "True" } else { "False" },
        result.duration_seconds,
        String::from_utf8_lossy(&output[..output.len().min(4 << 20)])
    );
    std::fs::write(transcript, text)?;
    Ok(result)
}

impl Runner for TuiGoalRunner {
    fn start_attempt(&mut self, ctx: &PhaseContext, prompt: &str) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Attempt, prompt)
    }
    fn reflect(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        _session: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Reflection, prompt)
    }
    fn build_tooling(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        _session: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Build, prompt)
    }

    /// Ends the TUI and everything it started: TERM to its process group, grace, KILL.
    fn close(&mut self) {
        let Some(mut s) = self.session.take() else {
            return;
        };
        if let Some(pid) = s.child.process_id() {
            let pgid = pid as i32;
            // SAFETY: signalling the session the PTY spawn created (setsid makes pid == pgid);
            // the child is not reaped yet, so the id cannot have been reused.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until && !matches!(s.child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = s.child.kill();
        let _ = s.child.wait();
        let until = Instant::now() + Duration::from_secs(1);
        while !s.eof.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TuiGoalRunner {
    fn drop(&mut self) {
        self.close();
    }
}
