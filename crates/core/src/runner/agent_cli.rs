//! What the Codex and Claude Code runners share: one supervised process per phase with the prompt
//! on stdin, output streamed to the phase files, JSON event streams rendered into a readable
//! transcript, and the session id taken from the events.

use super::process::{self, ProcessError, ProcessSpec, StdinSource};
use super::{Phase, PhaseContext, RunnerResult};
use serde_json::Value;
use std::ffi::OsString;
use std::io::{self, BufRead, Read};
use std::path::Path;
use std::time::Instant;

/// Longest event line parsed; longer lines (a tool dumping megabytes) are skipped, not loaded.
const MAX_EVENT_LINE: usize = 8 << 20;
/// Cap on the rendered transcript, so a runaway agent cannot fill the disk twice.
pub const TRANSCRIPT_CAP: usize = 4 << 20;
/// Characters of any one tool output shown in the transcript.
pub const OUTPUT_PREVIEW: usize = 4000;

/// One agent CLI: how to invoke it and how to read its event stream.
pub trait AgentCli {
    /// "Codex" or "Claude Code", for messages.
    fn display_name(&self) -> &'static str;
    /// The executable.
    fn program(&self) -> &str;
    /// Arguments for a phase; `session` is set when resuming.
    fn args(
        &self,
        ctx: &PhaseContext,
        phase: Phase,
        session: Option<&str>,
    ) -> io::Result<Vec<OsString>>;
    /// Extra environment.
    fn env(&self) -> Vec<(OsString, OsString)> {
        Vec::new()
    }
    /// Folds one parsed stdout event into the reading.
    fn event(&self, event: &Value, reading: &mut Reading);
}

/// What the event stream said.
#[derive(Debug, Default)]
pub struct Reading {
    pub session_id: Option<String>,
    /// Set when the stream reports failure even if the exit code does not.
    pub failure: Option<String>,
    /// The agent's final message or result text.
    pub final_text: Option<String>,
    /// Extra `key: value` lines for the transcript header.
    pub facts: Vec<(String, String)>,
    pub body: String,
}

impl Reading {
    /// Appends to the rendered transcript body, up to the cap.
    pub fn push(&mut self, text: &str) {
        if self.body.len() >= TRANSCRIPT_CAP {
            return;
        }
        let room = TRANSCRIPT_CAP - self.body.len();
        if text.len() <= room {
            self.body.push_str(text);
        } else {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.body.push_str(&text[..cut]);
            self.body.push_str("\n[transcript truncated]\n");
        }
    }
}

/// Shortens long tool output for the transcript.
pub fn preview(text: &str) -> String {
    if text.len() <= OUTPUT_PREVIEW {
        return text.to_string();
    }
    let mut cut = OUTPUT_PREVIEW;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [{} more bytes]", &text[..cut], text.len() - cut)
}

/// Indents every line of `text` by two spaces.
pub fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Runs one phase of an agent CLI.
pub fn run_phase(
    cli: &dyn AgentCli,
    ctx: &PhaseContext,
    phase: Phase,
    prompt: &str,
    session: Option<&str>,
) -> io::Result<RunnerResult> {
    std::fs::create_dir_all(&ctx.phase_dir)?;
    let [prompt_path, stdout_path, stderr_path, transcript_path] =
        ["prompt", "stdout", "stderr", "transcript"].map(|w| ctx.file(phase, w));
    std::fs::write(&prompt_path, prompt)?;
    let mut result = RunnerResult {
        phase: phase.name().into(),
        status: "failed".into(),
        session_id: session.map(str::to_string),
        return_code: None,
        timed_out: false,
        duration_seconds: 0.0,
        stdout_path: Some(stdout_path.clone()),
        stderr_path: Some(stderr_path.clone()),
        transcript_path: Some(transcript_path.clone()),
        prompt_path: Some(prompt_path.clone()),
        message: String::new(),
    };
    if phase != Phase::Attempt && session.is_none() {
        result.message = format!(
            "Cannot run {}: no {} session id is available to resume.",
            phase.name(),
            cli.display_name()
        );
        std::fs::write(&stdout_path, "")?;
        std::fs::write(&stderr_path, format!("{}\n", result.message))?;
        write_transcript(&transcript_path, &[], &result, &Reading::default())?;
        return Ok(result);
    }
    let args = cli.args(ctx, phase, session)?;
    let mut spec = ProcessSpec::new(cli.program(), ctx.workspace, &stdout_path, &stderr_path)
        .args(args.clone())
        .stdin(StdinSource::Bytes(prompt.as_bytes().to_vec()))
        .timeout(ctx.timeout);
    for (k, v) in cli.env() {
        spec = spec.env(k, v);
    }
    let started = Instant::now();
    let outcome = process::run(&spec, ctx.cancel);
    result.duration_seconds = started.elapsed().as_secs_f64();
    let command: Vec<String> = std::iter::once(cli.program().to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect();
    let outcome = match outcome {
        Ok(o) => o,
        Err(ProcessError::NotFound { .. }) => {
            result.return_code = Some(127);
            result.message = format!(
                "{} executable not found: {}",
                cli.display_name(),
                cli.program()
            );
            std::fs::write(&stderr_path, format!("{}\n", result.message))?;
            write_transcript(&transcript_path, &command, &result, &Reading::default())?;
            return Ok(result);
        }
        Err(ProcessError::Io { path, source }) => {
            return Err(io::Error::other(format!("{}: {source}", path.display())))
        }
        Err(e) => {
            result.message = e.to_string();
            std::fs::write(&stderr_path, format!("{}\n", result.message))?;
            write_transcript(&transcript_path, &command, &result, &Reading::default())?;
            return Ok(result);
        }
    };
    let mut reading = Reading::default();
    read_events(cli, &stdout_path, &mut reading)?;
    result.return_code = outcome.exit_code;
    result.timed_out = outcome.timed_out;
    if reading.session_id.is_some() {
        result.session_id = reading.session_id.clone();
    }
    result.status = if outcome.cancelled {
        "cancelled"
    } else if outcome.timed_out {
        "timeout"
    } else if outcome.exit_code != Some(0) || reading.failure.is_some() {
        "failed"
    } else {
        "completed"
    }
    .into();
    result.message = match (&reading.failure, &reading.final_text) {
        (Some(f), _) => f.chars().take(1000).collect(),
        (None, Some(t)) => t.chars().take(1000).collect(),
        _ if outcome.timed_out => format!(
            "timed out after {:.0}s; the process group was terminated",
            ctx.timeout.as_secs_f64()
        ),
        _ => String::new(),
    };
    write_transcript(&transcript_path, &command, &result, &reading)?;
    Ok(result)
}

/// Reads stdout line by line with bounded memory and feeds each JSON object to the CLI.
fn read_events(cli: &dyn AgentCli, stdout: &Path, reading: &mut Reading) -> io::Result<()> {
    let file = match std::fs::File::open(stdout) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut reader = io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_EVENT_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n == MAX_EVENT_LINE {
            // Too long to be worth parsing: skip to the end of this line.
            let mut sink = Vec::new();
            while sink.last() != Some(&b'\n') {
                sink.clear();
                if (&mut reader)
                    .take(MAX_EVENT_LINE as u64)
                    .read_until(b'\n', &mut sink)?
                    == 0
                {
                    break;
                }
            }
            reading.push("[an event line longer than 8 MiB was skipped]\n");
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(event @ Value::Object(_)) => cli.event(&event, reading),
            _ => {
                let text = String::from_utf8_lossy(&line);
                if !text.trim().is_empty() {
                    reading.push(&preview(&text));
                }
            }
        }
    }
    Ok(())
}

fn write_transcript(
    path: &Path,
    command: &[String],
    r: &RunnerResult,
    reading: &Reading,
) -> io::Result<()> {
    let shown: Vec<String> = command.iter().map(|a| shell_quote(a)).collect();
    let mut text = format!(
        "command: {}\nprompt_path: {}\nstdout_path: {}\nstderr_path: {}\nstatus: {}\nreturn_code: {}\ntimed_out: {}\nduration_seconds: {:.3}\nsession_id: {}\n",
        if shown.is_empty() { "(not started)".into() } else { format!("{} < {}", shown.join(" "), "<prompt on stdin; see prompt file>") },
        display(&r.prompt_path),
        display(&r.stdout_path),
        display(&r.stderr_path),
        r.status,
        r.return_code.map_or("None".into(), |c| c.to_string()),
        if r.timed_out { "True" } else { "False" },
        r.duration_seconds,
        r.session_id.as_deref().unwrap_or(""),
    );
    for (k, v) in &reading.facts {
        text.push_str(&format!("{k}: {v}\n"));
    }
    if !r.message.is_empty() {
        text.push_str(&format!(
            "message: {}\n",
            r.message.lines().next().unwrap_or("")
        ));
    }
    if !reading.body.is_empty() {
        text.push('\n');
        text.push_str(&reading.body);
    }
    std::fs::write(path, text)
}

fn display(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Quotes an argument for display the way a POSIX shell would need it.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The phase name MCP telemetry records: `attempt`, `reflection`, `build`, or `repair_<k>` for a
/// repair (a build run in its `repair_<k>/` directory).
pub fn phase_label(ctx: &PhaseContext, phase: Phase) -> String {
    match ctx.phase_dir.file_name().and_then(|n| n.to_str()) {
        Some(dir) if phase == Phase::Build && dir.starts_with("repair_") => dir.to_string(),
        _ => phase.name().to_string(),
    }
}

/// The telemetry tag of a phase's MCP proxies.
pub fn phase_tag<'a>(
    ctx: &'a PhaseContext,
    label: &'a str,
) -> crate::harness::wiring::PhaseTag<'a> {
    crate::harness::wiring::PhaseTag {
        run_id: ctx.run_id,
        iteration: ctx.iteration,
        phase: label,
    }
}

/// Active MCP servers from the workspace's `activation.json` (smoke and self-test passed).
pub fn active_mcp_servers(workspace: &Path) -> Vec<Value> {
    let path = workspace.join(".harnessgym/activation.json");
    let Ok(Some(report)) = crate::fsx::read_json_object(&path) else {
        return Vec::new();
    };
    let ok = |v: &Value| v.is_null() || v.as_str() == Some("passed");
    report
        .get("mcp_servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| {
            s["active"] != Value::Bool(false)
                && ok(&s["smoke"]["status"])
                && ok(&s["self_test"]["status"])
        })
        .filter(|s| {
            s["name"].as_str().is_some_and(|n| !n.is_empty()) && s["command"].as_str().is_some()
        })
        .cloned()
        .collect()
}
