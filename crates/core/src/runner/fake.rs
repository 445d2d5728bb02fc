//! The fake runner: a deterministic offline backend for tests, demos and install checks.
//!
//! Without a script it plays the original's demo: iteration 1 is blocked and asks for tooling,
//! reflection selects a probe tool, the build writes it, and later attempts fix `kernel_ops.py`
//! and run `verifier.py`. With `--fake-script FILE` any phase of any iteration can be scripted.

use super::process::{self, ProcessSpec};
use super::{Phase, PhaseContext, Runner, RunnerResult};
use crate::fsx::{self, Object};
use crate::harness::registry::{Artifact, Registry};
use crate::orchestrator::result::ResultDoc;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROBE_PATH: &str = ".harnessgym/tools/harnessgym_fake_probe.py";
const BUGGY_NORM: &str = "math.sqrt(sum(x * x for x in a)) + math.sqrt(sum(y * y for y in b))";
const FIXED_NORM: &str = "math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))";
const PROBE_SOURCE: &str = r#"#!/usr/bin/env python3
"""Fake debugging probe: runs verifier.py from the workspace when present."""
import pathlib
import subprocess
import sys

verifier = pathlib.Path.cwd() / "verifier.py"
if verifier.exists():
    sys.exit(subprocess.call([sys.executable, str(verifier)]))
print("no verifier.py in this workspace; nothing to probe")
"#;

/// A scenario: per iteration (`"1"`, `"2"`, … or `"default"`), per phase (`attempt`, `reflection`,
/// `build`, `repair`), what the fake agent does.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeScript {
    #[serde(default)]
    pub iterations: BTreeMap<String, IterationScript>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IterationScript {
    pub attempt: Option<PhaseScript>,
    pub reflection: Option<PhaseScript>,
    pub build: Option<PhaseScript>,
    pub repair: Option<PhaseScript>,
}

/// One scripted phase. Unset fields mean "nothing": a scripted phase replaces the built-in demo
/// behaviour unless `demo` is true, in which case the demo runs first and the script is applied on top.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseScript {
    /// Run the built-in demo behaviour of this phase first.
    #[serde(default)]
    pub demo: bool,
    /// Runner status: completed (default), failed, timeout, blocked…
    pub status: Option<String>,
    pub return_code: Option<i32>,
    pub session_id: Option<String>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    /// Extra stdout of this many bytes, streamed in chunks (large-output tests and benchmarks).
    #[serde(default)]
    pub stdout_bytes: u64,
    /// Sleep this long (honouring the phase timeout and cancellation).
    #[serde(default)]
    pub delay_ms: u64,
    /// Workspace-relative files to write.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Fields deep-merged into result.json.
    pub result: Option<Object>,
    /// Raw text written over result.json (to produce damaged files).
    pub result_raw: Option<String>,
    /// Harness artifacts to create and register.
    #[serde(default)]
    pub artifacts: Vec<ScriptArtifact>,
    /// Raw text written over registry.json.
    pub registry_raw: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptArtifact {
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub description: String,
}

impl FakeScript {
    /// Loads and checks a scenario file; the message names the file and the problem.
    pub fn load(path: &Path) -> Result<FakeScript, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read fake script {}: {e}", path.display()))?;
        let script: FakeScript = serde_json::from_str(&text)
            .map_err(|e| format!("fake script {} is invalid: {e}", path.display()))?;
        for (key, it) in &script.iterations {
            if key != "default" && key.parse::<u32>().is_err() {
                return Err(format!(
                    "fake script {}: iteration key {key:?} must be a number or \"default\"",
                    path.display()
                ));
            }
            for phase in [&it.attempt, &it.reflection, &it.build, &it.repair]
                .into_iter()
                .flatten()
            {
                let paths = phase
                    .files
                    .keys()
                    .chain(phase.artifacts.iter().map(|a| &a.path));
                for p in paths {
                    if fsx::contained(Path::new("/"), p).is_none() || Path::new(p).is_absolute() {
                        return Err(format!(
                            "fake script {}: path {p:?} leaves the workspace",
                            path.display()
                        ));
                    }
                }
            }
        }
        Ok(script)
    }

    fn phase(&self, iteration: u32, name: &str) -> Option<&PhaseScript> {
        fn pick<'s>(it: &'s IterationScript, name: &str) -> Option<&'s PhaseScript> {
            match name {
                "attempt" => it.attempt.as_ref(),
                "reflection" => it.reflection.as_ref(),
                "build" => it.build.as_ref(),
                _ => it.repair.as_ref(),
            }
        }
        self.iterations
            .get(&iteration.to_string())
            .and_then(|it| pick(it, name))
            .or_else(|| self.iterations.get("default").and_then(|it| pick(it, name)))
    }
}

/// The fake backend.
pub struct FakeRunner {
    script: FakeScript,
    python: String,
}

impl FakeRunner {
    pub fn new(script: Option<FakeScript>) -> FakeRunner {
        FakeRunner {
            script: script.unwrap_or_default(),
            python: std::env::var("HARNESSGYM_PYTHON").unwrap_or_else(|_| "python3".into()),
        }
    }

    fn run_phase(
        &self,
        ctx: &PhaseContext,
        phase: Phase,
        prompt: &str,
        session: Option<&str>,
    ) -> io::Result<RunnerResult> {
        let started = Instant::now();
        std::fs::create_dir_all(&ctx.phase_dir)?;
        let session = session
            .map(str::to_string)
            .unwrap_or_else(|| format!("fake-session-{}-{}", ctx.run_id, ctx.iteration));
        let key = if ctx
            .phase_dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("repair_"))
        {
            "repair"
        } else {
            phase.name()
        };
        let script = self.script.phase(ctx.iteration, key).cloned();
        let mut out = PhaseOutput::default();
        match &script {
            Some(s) if !s.demo => {}
            _ => self.demo(ctx, phase, &mut out)?,
        }
        let mut timed_out = false;
        let mut cancelled = false;
        if let Some(s) = &script {
            apply_script(ctx, s, &mut out)?;
            if s.delay_ms > 0 {
                (timed_out, cancelled) = sleep_within(ctx, Duration::from_millis(s.delay_ms));
            }
        }
        let status = if cancelled {
            "cancelled".to_string()
        } else if timed_out {
            "timeout".to_string()
        } else {
            script
                .as_ref()
                .and_then(|s| s.status.clone())
                .unwrap_or(out.status)
        };
        let session_id = script
            .as_ref()
            .and_then(|s| s.session_id.clone())
            .unwrap_or(session);
        let duration = started.elapsed().as_secs_f64();
        let paths = ["prompt", "stdout", "stderr", "transcript"].map(|w| ctx.file(phase, w));
        std::fs::write(&paths[0], prompt)?;
        write_stdout(
            &paths[1],
            &out.stdout,
            script.as_ref().map_or(0, |s| s.stdout_bytes),
        )?;
        let mut stderr = out.stderr;
        if timed_out {
            stderr.push_str(&format!(
                "harnessgym: fake phase timed out after {:.3}s\n",
                ctx.timeout.as_secs_f64()
            ));
        }
        std::fs::write(&paths[2], stderr)?;
        let transcript = format!(
            "runner: fake\nphase: {}\nstatus: {status}\nduration_seconds: {duration:.3}\nsession_id: {session_id}\n\n{}",
            phase.name(),
            out.stdout
        );
        std::fs::write(&paths[3], transcript)?;
        let [prompt_path, stdout_path, stderr_path, transcript_path] = paths.map(Some);
        Ok(RunnerResult {
            phase: phase.name().into(),
            return_code: if timed_out || cancelled {
                None
            } else {
                Some(script.as_ref().and_then(|s| s.return_code).unwrap_or(0))
            },
            status,
            session_id: Some(session_id),
            timed_out,
            duration_seconds: duration,
            stdout_path,
            stderr_path,
            transcript_path,
            prompt_path,
            message: String::new(),
        })
    }

    /// The original's demo behaviour for one phase.
    fn demo(&self, ctx: &PhaseContext, phase: Phase, out: &mut PhaseOutput) -> io::Result<()> {
        let mut result = ResultDoc::open(ctx.result_path.to_path_buf());
        match phase {
            Phase::Attempt if ctx.iteration == 1 => {
                result.update(json!({
                    "status": "blocked",
                    "verified": false,
                    "summary": "The first fake attempt stops on purpose so the loop can build tooling.",
                    "blockers": ["Needs a faster debugging/verifier loop for the numerical kernel."],
                    "missing_tooling": ["A reusable probe or verifier helper that reports focused diagnostics."],
                }))?;
                out.stdout =
                    "Fake attempt 1 stops on purpose and records missing tooling.\n".into();
                out.status = "blocked".into();
            }
            Phase::Attempt => {
                let fixed = apply_demo_fix(ctx.workspace)?;
                let verification = self.run_verifier(ctx)?;
                let mut passed = verification["status"] == json!("passed");
                let verification = if !passed && !ctx.workspace.join("verifier.py").exists() {
                    // No verifier: the context check passes only when the harness has something in it.
                    passed = !ctx.registry.artifacts.is_empty();
                    json!({"status": if passed { "passed" } else { "failed" }, "command": "fake artifact-context check"})
                } else {
                    verification
                };
                let used: Vec<Value> = ctx
                    .registry
                    .artifacts
                    .iter()
                    .map(Artifact::to_json)
                    .collect();
                result.update(json!({
                    "status": if passed { "solved" } else { "blocked" },
                    "verified": passed,
                    "summary": "The fresh fake attempt used the generated harness context.",
                    "verification": verification,
                    "used_artifacts": used,
                }))?;
                out.stdout = format!(
                    "Fresh fake attempt received and used the generated artifact context.\ndemo_fix_applied={}\nverification_status={}\n",
                    if fixed { "True" } else { "False" },
                    verification["status"].as_str().unwrap_or("unknown")
                );
                out.status = if passed { "completed" } else { "blocked" }.into();
            }
            Phase::Reflection => {
                result.update(json!({"reflection": {
                    "recommendations": [
                        "Add a reusable probe script that runs the verifier with focused diagnostics.",
                        "Add a short task skill that summarises the failure mode.",
                    ],
                    "selected_improvement": {
                        "kind": "tool",
                        "name": "harnessgym_fake_probe",
                        "reason": "A deterministic probe gives the next fresh session a one-step verifier entry point.",
                        "target_path": PROBE_PATH,
                    },
                }}))?;
                out.stdout = "Selected the fake probe tool for the build phase.\n".into();
                out.status = "completed".into();
            }
            Phase::Build => {
                let tool = ctx.workspace.join(PROBE_PATH);
                std::fs::create_dir_all(tool.parent().expect("probe path has a parent"))?;
                std::fs::write(&tool, PROBE_SOURCE)?;
                let mut artifact = Artifact::new(
                    "tool",
                    PROBE_PATH,
                    "Fake debugging probe that runs verifier.py when present.",
                    Some(ctx.iteration.into()),
                );
                artifact
                    .metadata
                    .insert("source".into(), json!("fake-runner"));
                let mut registry = load_registry(ctx.workspace);
                registry.upsert(artifact.clone());
                registry.save(ctx.workspace)?;
                result.update(json!({
                    "status": "tooling_built",
                    "tooling": {"built": [artifact.to_json()], "summary": "Built the fake probe tool and registered it."},
                }))?;
                out.stdout = format!(
                    "Created {}\nUpdated .harnessgym/registry.json\n",
                    tool.display()
                );
                out.status = "completed".into();
            }
        }
        Ok(())
    }

    /// Runs `verifier.py` under process supervision (own group, deadline, bounded output).
    fn run_verifier(&self, ctx: &PhaseContext) -> io::Result<Value> {
        let verifier = ctx.workspace.join("verifier.py");
        if !verifier.exists() {
            return Ok(json!({"status": "not_run", "command": "verifier.py not found"}));
        }
        let logs = ctx.phase_dir.join("fake_verifier");
        std::fs::create_dir_all(&logs)?;
        let (out_path, err_path) = (logs.join("stdout.txt"), logs.join("stderr.txt"));
        let spec = ProcessSpec::new(
            std::ffi::OsString::from(&self.python),
            ctx.workspace.to_path_buf(),
            out_path.clone(),
            err_path.clone(),
        )
        .arg(verifier.as_os_str().to_owned())
        .timeout(Duration::from_secs(10))
        .grace(Duration::from_secs(1));
        let command = format!("{} {}", self.python, verifier.display());
        let outcome = process::run(&spec, ctx.cancel);
        let stdout = process::read_lossy(&out_path, 64 * 1024);
        let stderr = process::read_lossy(&err_path, 64 * 1024);
        let _ = std::fs::remove_dir_all(&logs);
        Ok(match outcome {
            Ok(o) => json!({
                "status": if o.timed_out { "timeout" } else if o.exit_code == Some(0) { "passed" } else { "failed" },
                "command": command,
                "return_code": o.exit_code,
                "stdout": stdout,
                "stderr": stderr,
            }),
            Err(e) => {
                json!({"status": "failed", "command": command, "return_code": null, "stdout": "", "stderr": e.to_string()})
            }
        })
    }
}

impl Runner for FakeRunner {
    fn start_attempt(&mut self, ctx: &PhaseContext, prompt: &str) -> io::Result<RunnerResult> {
        self.run_phase(ctx, Phase::Attempt, prompt, None)
    }
    fn reflect(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.run_phase(ctx, Phase::Reflection, prompt, session_id)
    }
    fn build_tooling(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.run_phase(ctx, Phase::Build, prompt, session_id)
    }
}

struct PhaseOutput {
    stdout: String,
    stderr: String,
    status: String,
}

impl Default for PhaseOutput {
    fn default() -> Self {
        PhaseOutput {
            stdout: String::new(),
            stderr: String::new(),
            status: "completed".into(),
        }
    }
}

fn load_registry(workspace: &Path) -> Registry {
    // The fake agent, like a real one, works with whatever registry is on disk.
    Registry::load(workspace).unwrap_or_default()
}

fn apply_script(ctx: &PhaseContext, s: &PhaseScript, out: &mut PhaseOutput) -> io::Result<()> {
    out.stdout.push_str(&s.stdout);
    out.stderr.push_str(&s.stderr);
    let target = |rel: &str| -> io::Result<PathBuf> {
        fsx::contained(ctx.workspace, rel)
            .ok_or_else(|| io::Error::other(format!("script path {rel:?} leaves the workspace")))
    };
    for (rel, content) in &s.files {
        let path = target(rel)?;
        std::fs::create_dir_all(path.parent().unwrap_or(ctx.workspace))?;
        std::fs::write(path, content)?;
    }
    if !s.artifacts.is_empty() {
        let mut registry = load_registry(ctx.workspace);
        for a in &s.artifacts {
            let path = target(&a.path)?;
            std::fs::create_dir_all(path.parent().unwrap_or(ctx.workspace))?;
            std::fs::write(path, &a.content)?;
            let mut artifact =
                Artifact::new(&a.kind, &a.path, &a.description, Some(ctx.iteration.into()));
            artifact
                .metadata
                .insert("source".into(), json!("fake-script"));
            registry.upsert(artifact);
        }
        registry.save(ctx.workspace)?;
    }
    if let Some(updates) = &s.result {
        ResultDoc::open(ctx.result_path.to_path_buf()).update(Value::Object(updates.clone()))?;
    }
    if let Some(raw) = &s.result_raw {
        std::fs::write(ctx.result_path, raw)?;
    }
    if let Some(raw) = &s.registry_raw {
        std::fs::write(Registry::path(ctx.workspace), raw)?;
    }
    Ok(())
}

/// Sleeps up to `want`, stopping at the phase deadline or on cancel. Returns (timed_out, cancelled).
fn sleep_within(ctx: &PhaseContext, want: Duration) -> (bool, bool) {
    let start = Instant::now();
    let limit = want.min(ctx.timeout);
    while start.elapsed() < limit {
        if ctx.cancel.is_cancelled() {
            return (false, true);
        }
        std::thread::sleep((limit - start.elapsed()).min(Duration::from_millis(20)));
    }
    (want > ctx.timeout, false)
}

/// Writes the stdout text plus `extra` generated bytes in fixed chunks (bounded memory).
fn write_stdout(path: &Path, text: &str, extra: u64) -> io::Result<()> {
    use std::io::Write;
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(text.as_bytes())?;
    let line = b"fake agent output line: the quick brown fox jumps over the lazy dog 0123456789\n";
    let mut left = extra;
    while left > 0 {
        let n = left.min(line.len() as u64) as usize;
        file.write_all(&line[..n])?;
        left -= n as u64;
    }
    file.flush()
}

fn apply_demo_fix(workspace: &Path) -> io::Result<bool> {
    let path = workspace.join("kernel_ops.py");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    if !text.contains(BUGGY_NORM) {
        return Ok(false);
    }
    std::fs::write(&path, text.replacen(BUGGY_NORM, FIXED_NORM, 1))?;
    Ok(true)
}
