//! Runners drive an agent through the three phases of an iteration. The orchestrator hands a
//! runner a rendered prompt and a session id and gets back a [`RunnerResult`].

pub mod agent_cli;
pub mod claude;
pub mod codex;
pub mod fake;
pub mod preflight;
pub mod process;
pub mod tui_goal;

use crate::cancel::CancelToken;
use crate::config::RunConfig;
use crate::harness::registry::Registry;
use serde_json::{json, Value};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The phases a runner knows; repairs are builds in their own directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Attempt,
    Reflection,
    Build,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Attempt => "attempt",
            Phase::Reflection => "reflection",
            Phase::Build => "build",
        }
    }
}

/// Everything a runner needs to know about the phase it runs.
pub struct PhaseContext<'a> {
    pub config: &'a RunConfig,
    pub run_id: &'a str,
    pub iteration: u32,
    pub workspace: &'a Path,
    /// Where the phase files go: the iteration directory, or `repair_<k>` for repairs.
    pub phase_dir: PathBuf,
    pub result_path: &'a Path,
    pub registry: &'a Registry,
    pub timeout: Duration,
    pub cancel: &'a CancelToken,
}

impl PhaseContext<'_> {
    /// `<phase_dir>/<phase>.<what>.txt`
    pub fn file(&self, phase: Phase, what: &str) -> PathBuf {
        self.phase_dir.join(format!("{}.{what}.txt", phase.name()))
    }
}

/// What a phase did, as recorded under `result.json.phases`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerResult {
    pub phase: String,
    /// `completed`, `failed`, `timeout`, `cancelled`, or a runner's own (the fake's `blocked`).
    pub status: String,
    pub session_id: Option<String>,
    pub return_code: Option<i32>,
    pub timed_out: bool,
    pub duration_seconds: f64,
    pub stdout_path: Option<PathBuf>,
    pub stderr_path: Option<PathBuf>,
    pub transcript_path: Option<PathBuf>,
    pub prompt_path: Option<PathBuf>,
    pub message: String,
}

impl RunnerResult {
    pub fn to_json(&self) -> Value {
        let p = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        json!({
            "phase": self.phase,
            "status": self.status,
            "session_id": self.session_id,
            "return_code": self.return_code,
            "timed_out": self.timed_out,
            "duration_seconds": (self.duration_seconds * 1000.0).round() / 1000.0,
            "stdout_path": p(&self.stdout_path),
            "stderr_path": p(&self.stderr_path),
            "transcript_path": p(&self.transcript_path),
            "prompt_path": p(&self.prompt_path),
            "message": self.message,
        })
    }
}

/// The runner contract. Reflection and build resume the attempt's session, so the agent reflects
/// on work it really did. An `Err` is a failure of HarnessGym itself (e.g. the disk), not of the agent.
pub trait Runner {
    fn start_attempt(&mut self, ctx: &PhaseContext, prompt: &str) -> io::Result<RunnerResult>;
    fn reflect(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult>;
    fn build_tooling(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult>;
    /// Tears down any backend process; called once at the end, whatever happened.
    fn close(&mut self) {}
}
