//! Reading files tolerantly, off the database thread: JSON documents into typed records, telemetry
//! logs into call rows from the last indexed offset, and text into ≤ 64 KiB chunks for search.
//! Nothing here fails on damage: every problem becomes an [`ErrRec`] and reading goes on.

use crate::scan::{FileKind, Found};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::mpsc::SyncSender;

/// The largest JSON document parsed (bigger ones are recorded as `too_large`).
pub const MAX_JSON_BYTES: u64 = 32 << 20;
/// Size of a search chunk.
pub const CHUNK_BYTES: usize = 64 << 10;
/// A telemetry line longer than this is skipped (and recorded).
const MAX_LINE_BYTES: usize = 4 << 20;
const CALL_BATCH: usize = 4096;

#[derive(Debug, Clone)]
pub struct ErrRec {
    pub kind: &'static str,
    pub message: String,
    pub line: Option<i64>,
    pub offset: Option<i64>,
}

impl ErrRec {
    fn new(kind: &'static str, message: impl Into<String>) -> ErrRec {
        ErrRec {
            kind,
            message: message.into(),
            line: None,
            offset: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ArtifactRec {
    pub source: &'static str,
    pub artifact_id: Option<String>,
    pub kind: Option<String>,
    pub path: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub iteration: Option<i64>,
    pub created_at: Option<String>,
    pub quarantined: Option<bool>,
    pub qualification_status: Option<String>,
    pub metadata_json: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VerdictRec {
    pub subject: String,
    pub subject_kind: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ActivationRec {
    pub stage: &'static str,
    pub status: Option<String>,
    pub gate_status: Option<String>,
    pub active_mcp_count: Option<i64>,
    pub inactive_mcp_count: Option<i64>,
    pub active_tool_count: Option<i64>,
    pub skill_count: Option<i64>,
    pub warnings_json: Option<String>,
    pub verdicts: Vec<VerdictRec>,
    pub artifacts: Vec<ArtifactRec>,
}

#[derive(Debug, Clone, Default)]
pub struct RunConfigRec {
    pub origin: Option<String>,
    pub runner: Option<String>,
    pub task_path: Option<String>,
    pub iterations: Option<i64>,
    pub attempt_only: Option<bool>,
    pub optimization_mode: Option<bool>,
    pub score_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SummaryRec {
    pub state: String,
    pub final_status: Option<String>,
    pub solved: Option<bool>,
    pub best_score: Option<f64>,
    pub best_reported_score: Option<f64>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub errors_json: Option<String>,
    pub error_count: i64,
    pub origin_hint: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PhaseRec {
    pub phase: String,
    pub status: Option<String>,
    pub return_code: Option<i64>,
    pub timed_out: Option<bool>,
    pub duration_seconds: Option<f64>,
    pub session_id: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ResultRec {
    pub status: Option<String>,
    pub verified: Option<bool>,
    pub solved: Option<bool>,
    pub score: Option<f64>,
    pub summary: Option<String>,
    pub created_at: Option<String>,
    pub created_ms: Option<i64>,
    pub updated_at: Option<String>,
    pub mcp_call_count: Option<i64>,
    pub active_tool_count: Option<i64>,
    pub quality_gate: Option<String>,
    pub qualification_status: Option<String>,
    pub errors_json: Option<String>,
    pub phases: Vec<PhaseRec>,
}

#[derive(Debug, Clone, Default)]
pub struct TrialRec {
    pub grp: Option<String>,
    pub trial: Option<i64>,
    pub workspace: Option<String>,
    pub run_id: Option<String>,
    pub run_dir: Option<String>,
    pub status: Option<String>,
    pub solved: Option<bool>,
    pub error: Option<String>,
    pub duration_seconds: Option<f64>,
    pub attempt_duration_seconds: Option<f64>,
    pub iterations_completed: Option<i64>,
    pub score: Option<f64>,
    pub post_status: Option<String>,
    pub post_score: Option<f64>,
    pub post_valid: Option<bool>,
    pub comparison_valid: Option<bool>,
    pub invalid_reason: Option<String>,
    pub mcp_call_count: Option<i64>,
    pub called_tools_json: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CompareRec {
    pub created_at: Option<String>,
    pub workspace_template: Option<String>,
    pub artifact_source: Option<String>,
    pub summary_json: Option<String>,
    pub trials: Vec<TrialRec>,
}

/// What a JSON document says, by kind.
#[derive(Debug, Clone)]
pub enum Parsed {
    Registry(Vec<ArtifactRec>),
    Activation(ActivationRec),
    RunConfig(RunConfigRec),
    Summary(SummaryRec),
    Result(ResultRec),
    Compare(CompareRec),
    Trial(TrialRec),
    /// The document could not be read (its errors say why).
    Unreadable,
}

#[derive(Debug, Clone)]
pub struct CallRec {
    pub line: i64,
    pub ts_ms: Option<i64>,
    pub created_at: Option<String>,
    pub format: &'static str,
    pub server: Option<String>,
    pub tool: Option<String>,
    pub status: Option<String>,
    pub ok: bool,
    pub duration_ms: Option<f64>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
    pub request_id: Option<String>,
    pub error_message: Option<String>,
    pub run_id: Option<String>,
    pub iteration: Option<i64>,
    pub phase: Option<String>,
    pub argument_keys: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChunkRec {
    pub offset: u64,
    pub len: u64,
    pub first_line: i64,
    pub text: String,
}

/// What the database already knows about a file.
#[derive(Debug, Clone)]
pub struct Prev {
    pub file_id: i64,
    pub size: i64,
    pub mtime_ns: i64,
    pub consumed: i64,
    pub lines: i64,
    pub tail_hash: Option<i64>,
    /// For text: where the last chunk starts (offset, first line), to re-chunk from on append.
    pub resume: Option<(i64, i64)>,
}

pub struct Job {
    pub found: Found,
    pub prev: Option<Prev>,
}

/// Messages from readers to the database writer, tagged with the job index.
pub enum Msg {
    /// Reading began; `append` when earlier rows stay and new ones follow `from`.
    Start {
        job: usize,
        append: bool,
        from: u64,
    },
    Parsed {
        job: usize,
        data: Box<Parsed>,
    },
    Calls {
        job: usize,
        rows: Vec<CallRec>,
        consumed: u64,
        lines: i64,
    },
    Chunk {
        job: usize,
        chunk: ChunkRec,
        consumed: u64,
        lines: i64,
    },
    Error {
        job: usize,
        err: ErrRec,
    },
    Done {
        job: usize,
        size: i64,
        mtime_ns: i64,
        consumed: u64,
        lines: i64,
        tail_hash: Option<i64>,
        bytes_read: u64,
    },
    /// The file vanished before it could be read.
    Gone {
        job: usize,
    },
}

fn fnv(bytes: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h as i64
}

/// Hash of the (up to) 64 bytes that end at `end`.
fn tail_hash(file: &mut File, end: u64) -> io::Result<Option<i64>> {
    if end == 0 {
        return Ok(None);
    }
    let start = end.saturating_sub(64);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; (end - start) as usize];
    file.read_exact(&mut buf)?;
    Ok(Some(fnv(&buf)))
}

/// Collects a reader's messages and sends them in batches (fewer wake-ups of the writer).
pub struct Batcher {
    tx: SyncSender<Vec<Msg>>,
    buf: Vec<Msg>,
    bytes: usize,
}

impl Batcher {
    pub fn new(tx: SyncSender<Vec<Msg>>) -> Batcher {
        Batcher {
            tx,
            buf: Vec::with_capacity(128),
            bytes: 0,
        }
    }
    pub fn send(&mut self, m: Msg) {
        self.bytes += match &m {
            Msg::Chunk { chunk, .. } => chunk.text.len(),
            Msg::Calls { rows, .. } => rows.len() * 200,
            _ => 64,
        };
        self.buf.push(m);
        if self.buf.len() >= 128 || self.bytes >= (1 << 20) {
            self.flush();
        }
    }
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            let _ = self
                .tx
                .send(std::mem::replace(&mut self.buf, Vec::with_capacity(128)));
            self.bytes = 0;
        }
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Reads and parses one job, sending what it finds to the writer.
pub fn process(idx: usize, job: &Job, out: &mut Batcher) {
    let mut send = |m: Msg| out.send(m);
    let result = if job.found.kind.is_json() {
        process_json(idx, job, &mut send)
    } else if job.found.kind == FileKind::Calls {
        process_calls(idx, job, &mut send)
    } else {
        process_text(idx, job, &mut send)
    };
    if let Err(e) = result {
        if e.kind() == io::ErrorKind::NotFound {
            send(Msg::Gone { job: idx });
        } else {
            send(Msg::Start {
                job: idx,
                append: false,
                from: 0,
            });
            send(Msg::Error {
                job: idx,
                err: ErrRec::new("unreadable", format!("cannot read the file: {e}")),
            });
            send(Msg::Done {
                job: idx,
                size: job.found.size as i64,
                mtime_ns: job.found.mtime_ns,
                consumed: 0,
                lines: 0,
                tail_hash: None,
                bytes_read: 0,
            });
        }
    }
}

fn same(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if a.ino() != b.ino() || a.dev() != b.dev() {
            return false;
        }
    }
    a.len() == b.len() && crate::scan::mtime_ns(a) == crate::scan::mtime_ns(b)
}

fn process_json(idx: usize, job: &Job, send: &mut dyn FnMut(Msg)) -> io::Result<()> {
    let path = &job.found.path;
    let mut attempt = 0;
    let (bytes, meta, stable) = loop {
        let mut f = File::open(path)?;
        let before = f.metadata()?;
        if before.len() > MAX_JSON_BYTES {
            send(Msg::Start {
                job: idx,
                append: false,
                from: 0,
            });
            send(Msg::Error {
                job: idx,
                err: ErrRec::new(
                    "too_large",
                    format!(
                        "{} bytes; JSON documents over {} MiB are not indexed",
                        before.len(),
                        MAX_JSON_BYTES >> 20
                    ),
                ),
            });
            send(Msg::Parsed {
                job: idx,
                data: Box::new(Parsed::Unreadable),
            });
            send(Msg::Done {
                job: idx,
                size: before.len() as i64,
                mtime_ns: crate::scan::mtime_ns(&before),
                consumed: 0,
                lines: 0,
                tail_hash: None,
                bytes_read: 0,
            });
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(before.len() as usize + 1);
        (&mut f).take(MAX_JSON_BYTES).read_to_end(&mut bytes)?;
        let after = std::fs::metadata(path)?;
        let stable = same(&before, &after) && bytes.len() as u64 == after.len();
        attempt += 1;
        if stable || attempt >= 4 {
            break (bytes, after, stable);
        }
        std::thread::sleep(std::time::Duration::from_millis(3 * attempt));
    };
    send(Msg::Start {
        job: idx,
        append: false,
        from: 0,
    });
    let mut errs = Vec::new();
    if !stable {
        errs.push(ErrRec::new(
            "changed_while_reading",
            "the file kept changing while it was read; indexed the last read and will read it again",
        ));
    }
    let value = decode_json(&bytes, &mut errs);
    let data = match value {
        Some(v) => parse_kind(&job.found, &v, &mut errs),
        None => Parsed::Unreadable,
    };
    for err in errs {
        send(Msg::Error { job: idx, err });
    }
    send(Msg::Parsed {
        job: idx,
        data: Box::new(data),
    });
    send(Msg::Done {
        job: idx,
        // An unstable read is stored with an impossible mtime so the next pass reads it again.
        size: meta.len() as i64,
        mtime_ns: if stable {
            crate::scan::mtime_ns(&meta)
        } else {
            -1
        },
        consumed: bytes.len() as u64,
        lines: 0,
        tail_hash: None,
        bytes_read: bytes.len() as u64,
    });
    Ok(())
}

/// Parses a JSON object document; damage becomes error records (and `None` when nothing usable).
pub fn decode_json(bytes: &[u8], errs: &mut Vec<ErrRec>) -> Option<Value> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        errs.push(ErrRec::new(
            "empty_file",
            "the file is empty (still being written, or cut short)",
        ));
        return None;
    }
    let text: Cow<str> = match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) => {
            errs.push(ErrRec {
                kind: "invalid_utf8",
                message: format!(
                    "invalid UTF-8 at byte {}; read with replacement characters",
                    e.valid_up_to()
                ),
                line: None,
                offset: Some(e.valid_up_to() as i64),
            });
            String::from_utf8_lossy(bytes)
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => Some(v),
        Ok(v) => {
            let what = match v {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            errs.push(ErrRec::new(
                "not_object",
                format!("valid JSON but {what}, not an object"),
            ));
            None
        }
        Err(e) => {
            let kind = if e.classify() == serde_json::error::Category::Eof {
                "truncated_json"
            } else {
                "invalid_json"
            };
            let what = if kind == "truncated_json" {
                "the JSON ends early (cut short or still being written)"
            } else {
                "invalid JSON"
            };
            errs.push(ErrRec {
                kind,
                message: format!("{what}: {e}"),
                line: Some(e.line() as i64),
                offset: None,
            });
            None
        }
    }
}

// --- small lenient getters -------------------------------------------------------------------

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn s(v: &Value, key: &str) -> Option<String> {
    match get(v, key)? {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

fn capped(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn f(v: &Value, key: &str) -> Option<f64> {
    match get(v, key)? {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(x) => x.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

fn i(v: &Value, key: &str) -> Option<i64> {
    match get(v, key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|x| x as i64)),
        Value::String(x) => x.trim().parse().ok(),
        _ => None,
    }
}

fn b(v: &Value, key: &str) -> Option<bool> {
    get(v, key)?.as_bool()
}

fn json_text(v: Option<&Value>, max: usize) -> Option<String> {
    v.filter(|x| !x.is_null())
        .map(|x| capped(x.to_string(), max))
}

/// The original's score extraction with the default key: first numeric of `score`,
/// `metrics.score`, `objective.score`, `verification.score`.
fn score(v: &Value, key: &str) -> Option<f64> {
    f(v, key).or_else(|| f(v, "score")).or_else(|| {
        ["metrics", "objective", "verification"]
            .iter()
            .filter_map(|k| get(v, k).filter(|o| o.is_object()))
            .find_map(|o| f(o, key).or_else(|| f(o, "score")))
    })
}

pub fn parse_time_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

fn parse_kind(found: &Found, v: &Value, errs: &mut Vec<ErrRec>) -> Parsed {
    match found.kind {
        FileKind::Registry => Parsed::Registry(parse_registry(v, errs)),
        FileKind::WsActivation => Parsed::Activation(parse_activation(v, "workspace")),
        FileKind::PreActivation => Parsed::Activation(parse_activation(v, "pre_attempt")),
        FileKind::PostBuildActivation => Parsed::Activation(parse_activation(v, "post_build")),
        FileKind::Qualification => Parsed::Activation(parse_qualification(v)),
        FileKind::RunConfig => Parsed::RunConfig(parse_run_config(v)),
        FileKind::Summary => Parsed::Summary(parse_summary(v)),
        FileKind::Result => Parsed::Result(parse_result(v)),
        FileKind::CompareReport => Parsed::Compare(parse_compare(v)),
        FileKind::Trial => Parsed::Trial(parse_trial(v)),
        FileKind::Calls | FileKind::PhaseText | FileKind::Text => Parsed::Unreadable,
    }
}

fn parse_registry(v: &Value, errs: &mut Vec<ErrRec>) -> Vec<ArtifactRec> {
    let Some(items) = get(v, "artifacts") else {
        return Vec::new();
    };
    let Some(items) = items.as_array() else {
        errs.push(ErrRec::new("invalid_entry", "`artifacts` is not a list"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (n, a) in items.iter().enumerate() {
        if !a.is_object() {
            errs.push(ErrRec::new(
                "invalid_entry",
                format!("artifacts[{n}] is not an object"),
            ));
            continue;
        }
        let meta = get(a, "metadata").filter(|m| m.is_object());
        let (kind, path) = (s(a, "kind"), s(a, "path"));
        if kind.is_none() || path.is_none() {
            errs.push(ErrRec::new(
                "invalid_entry",
                format!(
                    "artifacts[{n}] lacks `kind` or `path` (the original refuses such a registry)"
                ),
            ));
        }
        let quarantined = {
            let flag = |o: &Value| {
                get(o, "quarantined").is_some_and(|q| q.as_bool().unwrap_or(!q.is_null()))
                    || get(o, "quarantine")
                        .and_then(|q| q.get("status"))
                        .and_then(Value::as_str)
                        == Some("quarantined")
            };
            flag(a) || meta.is_some_and(flag)
        };
        out.push(ArtifactRec {
            source: "registry",
            artifact_id: s(a, "id").or_else(|| match (&kind, &path) {
                (Some(k), Some(p)) => Some(format!("{k}:{p}")),
                _ => None,
            }),
            name: s(a, "name").or_else(|| meta.and_then(|m| s(m, "name"))),
            kind,
            path,
            description: s(a, "description").map(|d| capped(d, 2000)),
            iteration: i(a, "iteration"),
            created_at: s(a, "created_at"),
            quarantined: Some(quarantined),
            qualification_status: meta
                .and_then(|m| get(m, "qualification"))
                .and_then(|q| s(q, "status")),
            metadata_json: json_text(meta, 8000),
        });
    }
    out
}

fn gate_fields(rec: &mut ActivationRec, gate: Option<&Value>) {
    if let Some(g) = gate.filter(|g| g.is_object()) {
        rec.gate_status = s(g, "status");
        rec.active_mcp_count = i(g, "active_mcp_count");
        rec.inactive_mcp_count = i(g, "inactive_mcp_count");
        rec.active_tool_count = i(g, "active_tool_count");
        rec.warnings_json = json_text(get(g, "warnings"), 8000);
    }
}

fn parse_activation(v: &Value, stage: &'static str) -> ActivationRec {
    let mut rec = ActivationRec {
        stage,
        ..Default::default()
    };
    gate_fields(&mut rec, get(v, "quality_gate"));
    if rec.warnings_json.is_none() {
        rec.warnings_json = json_text(get(v, "warnings"), 8000);
    }
    rec.status = rec.gate_status.clone();
    if let Some(servers) = get(v, "mcp_servers").and_then(Value::as_array) {
        for srv in servers.iter().filter(|x| x.is_object()) {
            let subject = s(srv, "artifact_path")
                .or_else(|| s(srv, "name"))
                .unwrap_or_default();
            let active = b(srv, "active");
            let reason = get(srv, "quality_gate")
                .and_then(|g| s(g, "reason").or_else(|| s(g, "status")))
                .or_else(|| get(srv, "smoke").and_then(|x| s(x, "message")));
            rec.verdicts.push(VerdictRec {
                subject: subject.clone(),
                subject_kind: Some("mcp".into()),
                status: Some(
                    match active {
                        Some(true) => "active",
                        Some(false) => "inactive",
                        None => "unknown",
                    }
                    .into(),
                ),
                reason,
            });
            rec.artifacts.push(ArtifactRec {
                source: "activation",
                kind: Some("mcp".into()),
                path: Some(subject),
                name: s(srv, "name"),
                metadata_json: json_text(Some(srv), 8000),
                ..Default::default()
            });
        }
    }
    if let Some(skills) = get(v, "skills").and_then(Value::as_array) {
        rec.skill_count = Some(skills.len() as i64);
        for sk in skills.iter().filter(|x| x.is_object()) {
            let subject = s(sk, "artifact_path")
                .or_else(|| s(sk, "skill_path"))
                .unwrap_or_default();
            rec.verdicts.push(VerdictRec {
                subject: subject.clone(),
                subject_kind: Some("skill".into()),
                status: Some("active".into()),
                reason: None,
            });
            rec.artifacts.push(ArtifactRec {
                source: "activation",
                kind: Some("skill".into()),
                path: Some(subject),
                metadata_json: json_text(Some(sk), 4000),
                ..Default::default()
            });
        }
    }
    if let Some(q) = get(v, "quarantined_artifacts").and_then(Value::as_array) {
        for item in q {
            let (subject, kind) = match item {
                Value::String(p) => (p.clone(), None),
                o => (s(o, "path").unwrap_or_default(), s(o, "kind")),
            };
            rec.verdicts.push(VerdictRec {
                subject,
                subject_kind: kind,
                status: Some("quarantined".into()),
                reason: None,
            });
        }
    }
    rec
}

fn parse_qualification(v: &Value) -> ActivationRec {
    let mut rec = ActivationRec {
        stage: "qualification",
        ..Default::default()
    };
    gate_fields(&mut rec, get(v, "quality_gate"));
    rec.status = s(v, "status");
    rec.verdicts.push(VerdictRec {
        subject: "*".into(),
        subject_kind: Some("report".into()),
        status: rec.status.clone(),
        reason: rec.warnings_json.clone(),
    });
    for (key, status) in [
        ("qualified_artifacts", "qualified"),
        ("quarantined_artifacts", "quarantined"),
        ("failed_artifacts", "failed"),
    ] {
        if let Some(list) = get(v, key).and_then(Value::as_array) {
            for item in list {
                let subject = match item {
                    Value::String(p) => p.clone(),
                    o => s(o, "path").unwrap_or_else(|| o.to_string()),
                };
                rec.verdicts.push(VerdictRec {
                    subject,
                    subject_kind: Some("artifact".into()),
                    status: Some(status.into()),
                    reason: None,
                });
            }
        }
    }
    rec
}

fn parse_run_config(v: &Value) -> RunConfigRec {
    RunConfigRec {
        origin: Some(
            get(v, "tool")
                .and_then(|t| s(t, "name"))
                .unwrap_or_else(|| "harnessgym-py".into()),
        ),
        runner: s(v, "runner"),
        task_path: s(v, "task_path"),
        iterations: i(v, "iterations"),
        attempt_only: b(v, "attempt_only"),
        optimization_mode: b(v, "optimization_mode"),
        score_key: s(v, "score_key"),
    }
}

fn parse_summary(v: &Value) -> SummaryRec {
    let errors = get(v, "errors");
    SummaryRec {
        // The original writes summary.json only at the end, without `state`.
        state: s(v, "state").unwrap_or_else(|| "finished".into()),
        final_status: s(v, "final_status"),
        solved: b(v, "solved"),
        best_score: f(v, "best_score"),
        best_reported_score: f(v, "best_reported_score"),
        started_at: s(v, "started_at"),
        updated_at: s(v, "updated_at"),
        error_count: errors
            .and_then(Value::as_array)
            .map_or(0, |a| a.len() as i64),
        errors_json: json_text(
            errors.filter(|e| e.as_array().is_some_and(|a| !a.is_empty())),
            16000,
        ),
        origin_hint: if get(v, "state").is_some() {
            Some("harnessgym-rs".into())
        } else {
            None
        },
    }
}

fn solved_and_verified(v: &Value) -> bool {
    get(v, "status").and_then(Value::as_str) == Some("solved")
        && (get(v, "verified") == Some(&Value::Bool(true))
            || get(v, "verification")
                .filter(|x| x.is_object())
                .and_then(|x| x.get("status"))
                .and_then(Value::as_str)
                == Some("passed"))
}

fn parse_result(v: &Value) -> ResultRec {
    let usage = get(v, "harness_usage").filter(|u| u.is_object());
    let mut phases = Vec::new();
    if let Some(map) = get(v, "phases").and_then(Value::as_object) {
        for (name, p) in map {
            if !p.is_object() {
                continue;
            }
            phases.push(PhaseRec {
                phase: name.clone(),
                status: s(p, "status"),
                return_code: i(p, "return_code"),
                timed_out: b(p, "timed_out"),
                duration_seconds: f(p, "duration_seconds"),
                session_id: s(p, "session_id"),
                message: s(p, "message").map(|m| capped(m, 2000)),
            });
        }
    }
    let created_at = s(v, "created_at");
    ResultRec {
        status: s(v, "status"),
        verified: b(v, "verified"),
        solved: b(v, "harnessgym_solved").or_else(|| Some(solved_and_verified(v))),
        score: score(v, "score"),
        summary: s(v, "summary").map(|t| capped(t, 4000)),
        created_ms: created_at.as_deref().and_then(parse_time_ms),
        created_at,
        updated_at: s(v, "updated_at"),
        mcp_call_count: usage.and_then(|u| i(u, "mcp_call_count")),
        active_tool_count: usage.and_then(|u| i(u, "active_tool_count")),
        quality_gate: get(v, "harness_quality_gate").and_then(|g| s(g, "status")),
        qualification_status: get(v, "artifact_qualification").and_then(|q| s(q, "status")),
        errors_json: json_text(get(v, "harnessgym_errors"), 16000),
        phases,
    }
}

fn parse_trial(t: &Value) -> TrialRec {
    let post = get(t, "post_result").filter(|p| p.is_object());
    TrialRec {
        grp: s(t, "group"),
        trial: i(t, "trial"),
        workspace: s(t, "workspace"),
        run_id: s(t, "run_id"),
        run_dir: s(t, "run_dir"),
        status: s(t, "status"),
        solved: b(t, "solved"),
        error: s(t, "error"),
        duration_seconds: f(t, "duration_seconds"),
        attempt_duration_seconds: f(t, "attempt_duration_seconds"),
        iterations_completed: i(t, "iterations_completed"),
        score: f(t, "score"),
        post_status: Some(
            post.and_then(|p| s(p, "status"))
                .unwrap_or_else(|| "not_run".into()),
        ),
        post_score: f(t, "post_score"),
        post_valid: b(t, "post_valid"),
        comparison_valid: b(t, "comparison_valid"),
        invalid_reason: s(t, "comparison_invalid_reason").filter(|r| !r.is_empty()),
        mcp_call_count: i(t, "mcp_call_count"),
        called_tools_json: json_text(get(t, "mcp_called_tools"), 4000),
    }
}

fn parse_compare(v: &Value) -> CompareRec {
    CompareRec {
        created_at: s(v, "created_at"),
        workspace_template: s(v, "workspace_template"),
        artifact_source: s(v, "artifact_source"),
        summary_json: json_text(get(v, "summary"), 64000),
        trials: get(v, "trials")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter(|t| t.is_object())
                    .map(parse_trial)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

// --- telemetry ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawCall<'a> {
    #[serde(borrow, default)]
    created_at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    started_at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    server: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(default)]
    argument_json_bytes: Option<i64>,
    #[serde(default)]
    result_json_bytes: Option<i64>,
    #[serde(default)]
    request_bytes: Option<i64>,
    #[serde(default)]
    response_bytes: Option<i64>,
    #[serde(default)]
    request_id: Option<Value>,
    #[serde(borrow, default)]
    error_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    run_id: Option<Cow<'a, str>>,
    #[serde(default)]
    iteration: Option<i64>,
    #[serde(borrow, default)]
    phase: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    argument_keys: Option<Vec<Cow<'a, str>>>,
}

fn call_from_raw(line: i64, r: RawCall) -> CallRec {
    let ours = r.request_bytes.is_some()
        || r.response_bytes.is_some()
        || r.run_id.is_some()
        || r.phase.is_some()
        || matches!(
            r.status.as_deref(),
            Some("ok" | "tool_error" | "protocol_error" | "cancelled")
        );
    let created = r.created_at.or(r.started_at);
    let status = r.status.map(Cow::into_owned);
    CallRec {
        line,
        ts_ms: created.as_deref().and_then(parse_time_ms),
        created_at: created.map(Cow::into_owned),
        format: if ours { "harnessgym" } else { "original" },
        server: r.server.map(Cow::into_owned),
        tool: r.tool_name.or(r.tool).map(Cow::into_owned),
        ok: matches!(status.as_deref(), Some("completed" | "ok")),
        status,
        duration_ms: r.duration_ms,
        request_bytes: r.request_bytes.or(r.argument_json_bytes),
        response_bytes: r.response_bytes.or(r.result_json_bytes),
        request_id: r.request_id.filter(|v| !v.is_null()).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        error_message: r
            .error_message
            .map(Cow::into_owned)
            .filter(|m| !m.is_empty()),
        run_id: r.run_id.map(Cow::into_owned),
        iteration: r.iteration,
        phase: r.phase.map(Cow::into_owned),
        argument_keys: r
            .argument_keys
            .map(|k| serde_json::to_string(&k).unwrap_or_default()),
    }
}

/// A lenient fallback for lines whose fields have unexpected types.
fn call_from_value(line: i64, v: &Value) -> CallRec {
    let status = s(v, "status");
    let created = s(v, "created_at").or_else(|| s(v, "started_at"));
    let ours = ["request_bytes", "response_bytes", "run_id", "phase"]
        .iter()
        .any(|k| get(v, k).is_some());
    CallRec {
        line,
        ts_ms: created.as_deref().and_then(parse_time_ms),
        created_at: created,
        format: if ours { "harnessgym" } else { "original" },
        server: s(v, "server"),
        tool: s(v, "tool_name").or_else(|| s(v, "tool")),
        ok: matches!(status.as_deref(), Some("completed" | "ok")),
        status,
        duration_ms: f(v, "duration_ms"),
        request_bytes: i(v, "request_bytes").or_else(|| i(v, "argument_json_bytes")),
        response_bytes: i(v, "response_bytes").or_else(|| i(v, "result_json_bytes")),
        request_id: s(v, "request_id"),
        error_message: s(v, "error_message").filter(|m| !m.is_empty()),
        run_id: s(v, "run_id"),
        iteration: i(v, "iteration"),
        phase: s(v, "phase"),
        argument_keys: json_text(get(v, "argument_keys"), 4000),
    }
}

/// Parses one telemetry line: `Ok(None)` for a blank line or a logged method other than `tools/call`.
pub fn parse_call_line(line_no: i64, bytes: &[u8]) -> Result<Option<CallRec>, ErrRec> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let method_ok = |m: Option<&str>| m.is_none_or(|m| m == "tools/call");
    if let Ok(raw) = serde_json::from_slice::<RawCall>(trimmed) {
        if !method_ok(raw.method.as_deref()) {
            return Ok(None);
        }
        return Ok(Some(call_from_raw(line_no, raw)));
    }
    let text = String::from_utf8_lossy(trimmed);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => {
            if !method_ok(v.get("method").and_then(Value::as_str)) {
                return Ok(None);
            }
            Ok(Some(call_from_value(line_no, &v)))
        }
        Ok(_) => Err(ErrRec {
            kind: "bad_line",
            message: "telemetry line is JSON but not an object".into(),
            line: Some(line_no),
            offset: None,
        }),
        Err(e) => Err(ErrRec {
            kind: "bad_line",
            message: format!("telemetry line is not valid JSON: {e}"),
            line: Some(line_no),
            offset: None,
        }),
    }
}

/// Where to start reading an append-only file: after `prev.consumed` when the bytes before it
/// are unchanged, else from the beginning.
fn append_point(file: &mut File, size: u64, prev: Option<&Prev>) -> io::Result<Option<u64>> {
    let Some(p) = prev else { return Ok(None) };
    let consumed = p.consumed.max(0) as u64;
    if consumed == 0 || size < consumed || p.tail_hash.is_none() {
        return Ok(None);
    }
    let now = tail_hash(file, consumed)?;
    Ok((now == p.tail_hash).then_some(consumed))
}

fn process_calls(idx: usize, job: &Job, send: &mut dyn FnMut(Msg)) -> io::Result<()> {
    let mut file = File::open(&job.found.path)?;
    let meta = file.metadata()?;
    let size = meta.len();
    let (mut offset, mut line_no) = match append_point(&mut file, size, job.prev.as_ref())? {
        Some(at) => (at, job.prev.as_ref().map_or(0, |p| p.lines)),
        None => (0, 0),
    };
    let append = offset > 0;
    send(Msg::Start {
        job: idx,
        append,
        from: offset,
    });
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0usize;
    let mut rows = Vec::with_capacity(CALL_BATCH);
    let mut bytes_read = 0u64;
    let mut skipping = false; // inside an over-long line
    let mut eof = false;
    while !eof {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            eof = true;
        }
        filled += n;
        bytes_read += n as u64;
        let mut start = 0usize;
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..filled]) {
            let end = start + nl;
            line_no += 1;
            if skipping {
                skipping = false;
            } else {
                match parse_call_line(line_no, &buf[start..end]) {
                    Ok(Some(c)) => rows.push(c),
                    Ok(None) => {}
                    Err(mut e) => {
                        e.offset = Some((offset + start as u64) as i64);
                        send(Msg::Error { job: idx, err: e });
                    }
                }
            }
            start = end + 1;
        }
        offset += start as u64;
        buf.copy_within(start..filled, 0);
        filled -= start;
        if rows.len() >= CALL_BATCH || (eof && !rows.is_empty()) {
            send(Msg::Calls {
                job: idx,
                rows: std::mem::replace(&mut rows, Vec::with_capacity(CALL_BATCH)),
                consumed: offset,
                lines: line_no,
            });
        }
        if filled == buf.len() {
            if buf.len() < MAX_LINE_BYTES {
                buf.resize(buf.len() * 2, 0);
            } else {
                // An over-long line: drop what we have and skip to its end.
                send(Msg::Error {
                    job: idx,
                    err: ErrRec {
                        kind: "bad_line",
                        message: format!(
                            "telemetry line longer than {} MiB skipped",
                            MAX_LINE_BYTES >> 20
                        ),
                        line: Some(line_no + 1),
                        offset: Some(offset as i64),
                    },
                });
                skipping = true;
                offset += filled as u64;
                filled = 0;
            }
        }
    }
    if filled > 0 {
        send(Msg::Error {
            job: idx,
            err: ErrRec {
                kind: "incomplete_line",
                message: format!(
                    "the last {filled} bytes are a line without its newline (still being written, or cut short); not indexed yet"
                ),
                line: Some(line_no + 1),
                offset: Some(offset as i64),
            },
        });
    }
    let th = tail_hash(&mut file, offset)?;
    let after = std::fs::metadata(&job.found.path)?;
    let stable = same(&meta, &after);
    send(Msg::Done {
        job: idx,
        size: if stable { size as i64 } else { -1 },
        mtime_ns: crate::scan::mtime_ns(&meta),
        consumed: offset,
        lines: line_no,
        tail_hash: th,
        bytes_read,
    });
    Ok(())
}

/// A fast hasher for short tokens (FxHash's multiply-rotate).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// What the full-text index stores for a chunk: its distinct tokens (letters and digits,
/// lower-cased), once each. The index keeps no positions (`detail=none`), so this finds the same
/// chunks as the whole text at a fraction of the work; hits and snippets are read from the file.
pub fn fts_body(text: &str) -> String {
    let mut seen: std::collections::HashSet<Cow<str>, std::hash::BuildHasherDefault<Fx>> =
        std::collections::HashSet::with_capacity_and_hasher(512, Default::default());
    let mut out = String::with_capacity(text.len() / 3);
    for tok in text.split(|c: char| !c.is_alphanumeric()) {
        if tok.is_empty() {
            continue;
        }
        let tok: Cow<str> = if tok.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
            Cow::Owned(tok.to_lowercase())
        } else {
            Cow::Borrowed(tok)
        };
        if !seen.contains(&tok) {
            out.push_str(&tok);
            out.push(' ');
            seen.insert(tok);
        }
    }
    out
}

/// Where to cut a full chunk buffer: after the last newline, else at a character boundary.
fn cut_point(buf: &[u8]) -> usize {
    if let Some(nl) = memchr::memrchr(b'\n', buf) {
        if nl + 1 >= buf.len() / 4 {
            return nl + 1;
        }
    }
    // Step back over UTF-8 continuation bytes so a character is not split.
    let mut cut = buf.len();
    for back in 0..4.min(buf.len()) {
        let i = buf.len() - 1 - back;
        if buf[i] & 0xC0 != 0x80 {
            cut = if buf[i] < 0x80 { i + 1 } else { i };
            break;
        }
    }
    if cut == 0 {
        buf.len()
    } else {
        cut
    }
}

fn process_text(idx: usize, job: &Job, send: &mut dyn FnMut(Msg)) -> io::Result<()> {
    let mut file = File::open(&job.found.path)?;
    let meta = file.metadata()?;
    let size = meta.len();
    let resume = job.prev.as_ref().and_then(|p| p.resume);
    let (mut offset, mut line) = match (append_point(&mut file, size, job.prev.as_ref())?, resume) {
        (Some(_), Some((off, first))) => (off.max(0) as u64, first.max(1)),
        (Some(at), None) => (at, job.prev.as_ref().map_or(1, |p| p.lines + 1)),
        _ => (0, 1),
    };
    let append = offset > 0;
    send(Msg::Start {
        job: idx,
        append,
        from: offset,
    });
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut filled = 0usize;
    let mut bytes_read = 0u64;
    let mut utf8_reported = false;
    let mut eof = false;
    let mut last_byte_newline = true;
    while !eof {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            eof = true;
        }
        filled += n;
        bytes_read += n as u64;
        if filled < buf.len() && !eof {
            continue;
        }
        if filled == 0 {
            break;
        }
        let cut = if eof {
            filled
        } else {
            cut_point(&buf[..filled])
        };
        let piece = &buf[..cut];
        let newlines = memchr::memchr_iter(b'\n', piece).count() as i64;
        let text = match std::str::from_utf8(piece) {
            Ok(t) => t.to_string(),
            Err(e) => {
                // A cut inside a character at the very end is not damage.
                let at_end = e.error_len().is_none();
                if !utf8_reported && (!at_end || eof) {
                    utf8_reported = true;
                    send(Msg::Error {
                        job: idx,
                        err: ErrRec {
                            kind: "invalid_utf8",
                            message: format!(
                                "invalid UTF-8 at byte {}; indexed with replacement characters",
                                offset + e.valid_up_to() as u64
                            ),
                            line: Some(
                                line + memchr::memchr_iter(b'\n', &piece[..e.valid_up_to()]).count()
                                    as i64,
                            ),
                            offset: Some((offset + e.valid_up_to() as u64) as i64),
                        },
                    });
                }
                String::from_utf8_lossy(piece).into_owned()
            }
        };
        last_byte_newline = piece.last() == Some(&b'\n');
        let chunk = ChunkRec {
            offset,
            len: cut as u64,
            first_line: line,
            text: fts_body(&text),
        };
        offset += cut as u64;
        line += newlines;
        send(Msg::Chunk {
            job: idx,
            chunk,
            consumed: offset,
            lines: line - 1,
        });
        buf.copy_within(cut..filled, 0);
        filled -= cut;
        if eof && filled > 0 {
            eof = false; // flush what is left
        }
    }
    let th = tail_hash(&mut file, offset)?;
    let after = std::fs::metadata(&job.found.path)?;
    let stable = same(&meta, &after) && offset == size;
    let lines = if last_byte_newline { line - 1 } else { line };
    send(Msg::Done {
        job: idx,
        size: if stable { size as i64 } else { -1 },
        mtime_ns: crate::scan::mtime_ns(&meta),
        consumed: offset,
        lines,
        tail_hash: th,
        bytes_read,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_damage_is_classified() {
        let mut errs = Vec::new();
        assert!(decode_json(b"{\"a\": 1", &mut errs).is_none());
        assert_eq!(errs[0].kind, "truncated_json");
        errs.clear();
        assert!(decode_json(b"{\"a\": nope}", &mut errs).is_none());
        assert_eq!(errs[0].kind, "invalid_json");
        errs.clear();
        assert!(decode_json(b"[1, 2]", &mut errs).is_none());
        assert_eq!(errs[0].kind, "not_object");
        errs.clear();
        assert!(decode_json(b"  ", &mut errs).is_none());
        assert_eq!(errs[0].kind, "empty_file");
        errs.clear();
        let v = decode_json(b"{\"a\": \"x\xffy\"}", &mut errs).unwrap();
        assert_eq!(errs[0].kind, "invalid_utf8");
        assert_eq!(v["a"], "x\u{fffd}y");
    }

    #[test]
    fn both_telemetry_formats_parse() {
        let original = br#"{"argument_json_bytes": 2, "argument_keys": [], "created_at": "2026-11-24T13:39:03.567281Z", "duration_ms": 12, "error_message": "", "method": "tools/call", "request_id": 3, "result_json_bytes": 40, "server": "probe", "status": "completed", "tool_name": "run_probe"}"#;
        let c = parse_call_line(1, original).unwrap().unwrap();
        assert_eq!(c.format, "original");
        assert_eq!(c.tool.as_deref(), Some("run_probe"));
        assert_eq!(c.request_bytes, Some(2));
        assert_eq!(c.response_bytes, Some(40));
        assert_eq!(c.request_id.as_deref(), Some("3"));
        assert!(c.ok);
        assert!(c.ts_ms.is_some());
        let ours = br#"{"created_at": "2026-11-24T13:39:03Z", "duration_ms": 1.5, "method": "tools/call", "request_id": "a", "server": "s", "status": "tool_error", "tool_name": "t", "request_bytes": 9, "response_bytes": 10, "run_id": "r1", "iteration": 2, "phase": "attempt"}"#;
        let c = parse_call_line(2, ours).unwrap().unwrap();
        assert_eq!(c.format, "harnessgym");
        assert!(!c.ok);
        assert_eq!(c.iteration, Some(2));
        // Odd types fall back to the lenient reader.
        let odd = br#"{"tool_name": "t", "status": "ok", "iteration": "3", "duration_ms": "7"}"#;
        let c = parse_call_line(3, odd).unwrap().unwrap();
        assert_eq!(c.iteration, Some(3));
        assert_eq!(c.duration_ms, Some(7.0));
        assert!(parse_call_line(4, b"not json").is_err());
        assert!(parse_call_line(5, b"   ").unwrap().is_none());
        assert!(parse_call_line(6, br#"{"method": "tools/list"}"#)
            .unwrap()
            .is_none());
    }

    #[test]
    fn cut_points_prefer_newlines_and_never_split_characters() {
        let mut buf = vec![b'a'; 100];
        buf[80] = b'\n';
        assert_eq!(cut_point(&buf), 81);
        let mut buf = vec![b'a'; 98];
        buf.extend_from_slice("é".as_bytes()[..1].as_ref());
        buf.push(b'b');
        // "é" is two bytes; a buffer ending in its first byte is cut before it.
        let buf2: Vec<u8> = [vec![b'a'; 99], vec!["é".as_bytes()[0]]].concat();
        assert_eq!(cut_point(&buf2), 99);
        assert_eq!(cut_point(&buf), 100);
    }
}
