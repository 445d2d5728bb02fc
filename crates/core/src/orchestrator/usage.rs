//! `harness_usage`: which generated artifacts and tools an attempt declared, mentioned or called.
//!
//! Outputs are scanned in chunks so a gigabyte of agent output never sits in memory, and MCP
//! telemetry counts only the calls logged during this attempt (from a byte offset), not the
//! workspace's whole history.

use crate::fsx::Object;
use crate::runner::RunnerResult;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const CHUNK: usize = 1 << 20;
/// Basenames shared by many artifacts; mentioning one says nothing about which artifact was used.
const GENERIC_NAMES: &[&str] = &[
    "skill.md",
    "mcp.json",
    "server.json",
    "harnessgym-mcp.json",
    "readme.md",
    "__init__.py",
    "main.py",
];

/// Inputs of the usage computation.
pub struct UsageInputs<'a> {
    pub activation: &'a Value,
    pub registry_paths: Vec<String>,
    pub result: &'a Object,
    pub attempt: Option<&'a RunnerResult>,
    pub telemetry: &'a Path,
    pub telemetry_offset: u64,
}

/// Computes the `harness_usage` object.
pub fn harness_usage(u: &UsageInputs) -> Value {
    let servers: Vec<&Value> = u.activation["mcp_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["active"] != json!(false))
        .collect();
    let active_servers: BTreeSet<String> = servers
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    let active_tools: BTreeSet<String> = servers
        .iter()
        .flat_map(|s| {
            let enabled = s["enabled_tools"].as_array().cloned().unwrap_or_default();
            enabled
                .into_iter()
                .chain(s["smoke"]["tools"].as_array().cloned().unwrap_or_default())
        })
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    let active_skills: BTreeSet<String> = u.activation["skills"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["artifact_path"].as_str().map(str::to_string))
        .collect();

    let declared_tools = declared(u.result, "used_harness_tools", "used_tools");
    let declared_artifacts = declared(u.result, "used_harness_artifacts", "used_artifacts");
    let sources: Vec<PathBuf> = u
        .attempt
        .map(|a| {
            [&a.stdout_path, &a.stderr_path, &a.transcript_path]
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let sources: Vec<PathBuf> = sources
        .into_iter()
        .filter(|p| p.metadata().is_ok_and(|m| m.len() > 0))
        .collect();
    let artifact_tokens: BTreeSet<String> = u
        .registry_paths
        .iter()
        .cloned()
        .chain(active_skills.iter().cloned())
        .collect();
    let (inferred_tools, inferred_artifacts) = infer(&sources, &active_tools, &artifact_tokens);
    let calls = telemetry_since(u.telemetry, u.telemetry_offset);

    let used_tools: BTreeSet<String> = declared_tools
        .iter()
        .chain(&inferred_tools)
        .chain(&calls.tools)
        .cloned()
        .collect();
    let used_artifacts: BTreeSet<String> = declared_artifacts
        .iter()
        .chain(&inferred_artifacts)
        .cloned()
        .collect();
    let used_active: BTreeSet<&String> = used_tools.intersection(&active_tools).collect();
    json!({
        "registry_artifact_count": u.registry_paths.len(),
        "active_skill_count": active_skills.len(),
        "active_mcp_count": active_servers.len(),
        "active_tool_count": active_tools.len(),
        "active_skills": active_skills,
        "active_mcp_servers": active_servers,
        "active_tools": active_tools,
        "used_harness_tools": used_tools,
        "used_harness_artifacts": used_artifacts,
        "declared_harness_tools": declared_tools,
        "declared_harness_artifacts": declared_artifacts,
        "inferred_harness_tools": inferred_tools,
        "inferred_harness_artifacts": inferred_artifacts,
        "inference_sources": sources.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "used_active_tools": used_active,
        "mcp_call_count": calls.count,
        "mcp_successful_call_count": calls.ok,
        "mcp_called_tools": calls.tools,
        "mcp_call_status_counts": calls.by_status,
        "declared_tool_use_count": declared_tools.len(),
        "declared_artifact_use_count": declared_artifacts.len(),
        "inferred_tool_use_count": inferred_tools.len(),
        "inferred_artifact_use_count": inferred_artifacts.len(),
    })
}

/// Declared names: strings as they are; objects give `path`, else `name`, else `id`.
fn declared(result: &Object, key: &str, old_key: &str) -> BTreeSet<String> {
    let list = result
        .get(key)
        .filter(|v| v.is_array())
        .or_else(|| result.get(old_key));
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| match item {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => ["path", "name", "id"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str().map(str::to_string)),
            _ => None,
        })
        .collect()
}

#[derive(Default)]
struct ToolEvidence {
    mcp_prefixed: bool,
    dunder: bool,
    quoted: bool,
    near_tool_word: bool,
}

/// A byte pattern searched for in the (ASCII-lowercased) output.
struct Needle {
    finder: memchr::memmem::Finder<'static>,
}

impl Needle {
    fn new(text: String) -> Needle {
        Needle {
            finder: memchr::memmem::Finder::new(text.as_bytes()).into_owned(),
        }
    }
    fn found(&self, hay: &[u8]) -> bool {
        self.finder.find(hay).is_some()
    }
}

struct ToolForms {
    name: String,
    mcp: Vec<Needle>,
    dunder: Vec<Needle>,
    quoted: Vec<Needle>,
    words: Vec<String>,
}

/// Streams the sources once each, in overlapping chunks through one reused buffer, collecting
/// evidence for each token. Matching is ASCII case-insensitive on raw bytes (no decoding).
fn infer(
    sources: &[PathBuf],
    tools: &BTreeSet<String>,
    artifacts: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let tool_forms: Vec<ToolForms> = tools
        .iter()
        .map(|t| {
            let low = t.to_ascii_lowercase();
            let last = low.rsplit('/').next().unwrap_or(&low).to_string();
            let forms = if last != low {
                vec![low, last]
            } else {
                vec![low]
            };
            ToolForms {
                name: t.clone(),
                mcp: forms
                    .iter()
                    .map(|f| Needle::new(format!("mcp__{f}")))
                    .collect(),
                dunder: forms
                    .iter()
                    .map(|f| Needle::new(format!("__{f}")))
                    .collect(),
                quoted: forms
                    .iter()
                    .map(|f| Needle::new(format!("\"{f}\"")))
                    .collect(),
                words: forms,
            }
        })
        .collect();
    let mut basenames: BTreeMap<String, usize> = BTreeMap::new();
    for a in artifacts {
        *basenames.entry(basename(a)).or_default() += 1;
    }
    let artifact_forms: Vec<(String, Vec<Needle>, usize)> = artifacts
        .iter()
        .map(|a| {
            let low = a.to_ascii_lowercase();
            let base = basename(a);
            let distinctive =
                base != low && basenames[&base] == 1 && !GENERIC_NAMES.contains(&base.as_str());
            let len = low.len();
            let forms = if distinctive {
                vec![low, base]
            } else {
                vec![low]
            };
            (a.clone(), forms.into_iter().map(Needle::new).collect(), len)
        })
        .collect();
    let longest = tool_forms
        .iter()
        .flat_map(|t| t.words.iter().map(String::len))
        .chain(artifact_forms.iter().map(|a| a.2))
        .max()
        .unwrap_or(0);
    let overlap = longest + 72;
    let mut evidence: Vec<ToolEvidence> =
        tool_forms.iter().map(|_| ToolEvidence::default()).collect();
    let mut found_artifacts = BTreeSet::new();
    let (mcp_any, tools_call_any) = (
        Needle::new("mcp__".into()),
        Needle::new("tools/call".into()),
    );
    let (mut any_mcp, mut any_tools_call) = (false, false);
    let mut buf = vec![0u8; CHUNK + overlap];

    for path in sources {
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let mut kept = 0;
        loop {
            let n = match file.read(&mut buf[kept..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf[kept..kept + n].make_ascii_lowercase();
            let hay = &buf[..kept + n];
            any_mcp |= mcp_any.found(hay);
            any_tools_call |= tools_call_any.found(hay);
            for (forms, e) in tool_forms.iter().zip(evidence.iter_mut()) {
                e.mcp_prefixed |= forms.mcp.iter().any(|f| f.found(hay));
                e.dunder |= forms.dunder.iter().any(|f| f.found(hay));
                e.quoted |= forms.quoted.iter().any(|f| f.found(hay));
                e.near_tool_word |= forms
                    .words
                    .iter()
                    .any(|w| word_near_tool(hay, w.as_bytes()));
            }
            for (name, needles, _) in &artifact_forms {
                if needles.iter().any(|f| f.found(hay)) {
                    found_artifacts.insert(name.clone());
                }
            }
            // Keep the tail so a token split across reads is still seen whole.
            let total = kept + n;
            kept = overlap.min(total);
            buf.copy_within(total - kept..total, 0);
        }
    }
    let found_tools = tool_forms
        .iter()
        .zip(evidence)
        .filter(|(_, e)| {
            e.mcp_prefixed
                || (e.dunder && any_mcp)
                || (e.quoted && any_tools_call)
                || e.near_tool_word
        })
        .map(|(t, _)| t.name.clone())
        .collect();
    (found_tools, found_artifacts)
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase()
}

/// A whole-word occurrence of `word` with "tool" within 30 bytes on either side.
fn word_near_tool(text: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    memchr::memmem::find_iter(text, word).any(|i| {
        let end = i + word.len();
        if (i > 0 && is_word(text[i - 1])) || (end < text.len() && is_word(text[end])) {
            return false;
        }
        let before = &text[i.saturating_sub(30)..i];
        let after = &text[end..(end + 30).min(text.len())];
        memchr::memmem::find(before, b"tool").is_some()
            || memchr::memmem::find(after, b"tool").is_some()
    })
}

/// Byte length of the telemetry log now, to count only the calls made from here on.
pub fn telemetry_offset(path: &Path) -> u64 {
    path.metadata().map(|m| m.len()).unwrap_or(0)
}

#[derive(Default)]
struct Calls {
    count: u64,
    ok: u64,
    tools: BTreeSet<String>,
    by_status: BTreeMap<String, u64>,
}

fn telemetry_since(path: &Path, offset: u64) -> Calls {
    let mut calls = Calls::default();
    let Ok(mut file) = std::fs::File::open(path) else {
        return calls;
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return calls;
    }
    let reader = std::io::BufReader::new(file);
    use std::io::BufRead;
    for line in reader.split(b'\n').map_while(Result::ok) {
        let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        calls.count += 1;
        let status = event
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        if matches!(status.as_str(), "ok" | "completed") {
            calls.ok += 1;
        }
        *calls.by_status.entry(status).or_default() += 1;
        if let Some(tool) = event.get("tool_name").and_then(Value::as_str) {
            calls.tools.insert(tool.to_string());
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_does_not_count_as_tool_use() {
        assert!(!word_near_tool(b"i will run the tests now", b"run"));
        assert!(word_near_tool(
            b"calling the mcp tool run_verifier now",
            b"run_verifier"
        ));
        assert!(!word_near_tool(b"the tool rerun_all", b"run"));
    }

    #[test]
    fn tokens_split_across_chunks_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        let mut text = "x".repeat(CHUNK - 10);
        text.push_str(" then mcp__kernel__Run_Verifier was called");
        std::fs::write(&out, text).unwrap();
        let tools = BTreeSet::from(["run_verifier".to_string()]);
        let (t, _) = infer(&[out], &tools, &BTreeSet::new());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn inference_finds_mcp_calls_and_distinctive_paths() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        std::fs::write(
            &out,
            "Used mcp__kernel__run_verifier and read .harnessgym/tools/probe.py; also SKILL.md",
        )
        .unwrap();
        let tools = BTreeSet::from(["run_verifier".to_string(), "rank".to_string()]);
        let arts = BTreeSet::from([
            ".harnessgym/tools/probe.py".to_string(),
            ".harnessgym/skills/a/SKILL.md".to_string(),
            ".harnessgym/skills/b/SKILL.md".to_string(),
        ]);
        let (t, a) = infer(&[out], &tools, &arts);
        assert_eq!(t, BTreeSet::from(["run_verifier".to_string()]));
        assert_eq!(
            a,
            BTreeSet::from([".harnessgym/tools/probe.py".to_string()])
        );
    }

    #[test]
    fn telemetry_counts_only_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mcp_calls.jsonl");
        std::fs::write(&log, "{\"tool_name\":\"old\",\"status\":\"ok\"}\n").unwrap();
        let offset = telemetry_offset(&log);
        let mut text = std::fs::read_to_string(&log).unwrap();
        text.push_str("{\"tool_name\":\"new\",\"status\":\"tool_error\"}\nnot json\n");
        std::fs::write(&log, text).unwrap();
        let calls = telemetry_since(&log, offset);
        assert_eq!(calls.count, 1);
        assert_eq!(calls.ok, 0);
        assert_eq!(calls.tools, BTreeSet::from(["new".to_string()]));
    }
}
