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

/// Streams the sources once, in overlapping chunks, collecting evidence for each token.
fn infer(
    sources: &[PathBuf],
    tools: &BTreeSet<String>,
    artifacts: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let tool_forms: Vec<(String, Vec<String>)> = tools
        .iter()
        .map(|t| {
            let low = t.to_lowercase();
            let last = low.rsplit('/').next().unwrap_or(&low).to_string();
            let forms = if last != low {
                vec![low, last]
            } else {
                vec![low]
            };
            (t.clone(), forms)
        })
        .collect();
    let mut basenames: BTreeMap<String, usize> = BTreeMap::new();
    for a in artifacts {
        *basenames.entry(basename(a)).or_default() += 1;
    }
    let artifact_forms: Vec<(String, Vec<String>)> = artifacts
        .iter()
        .map(|a| {
            let low = a.to_lowercase();
            let base = basename(a);
            let distinctive =
                base != low && basenames[&base] == 1 && !GENERIC_NAMES.contains(&base.as_str());
            (
                a.clone(),
                if distinctive {
                    vec![low, base]
                } else {
                    vec![low]
                },
            )
        })
        .collect();
    let mut evidence: BTreeMap<&str, ToolEvidence> = BTreeMap::new();
    let mut found_artifacts = BTreeSet::new();
    let (mut any_mcp, mut any_tools_call) = (false, false);
    let overlap = tool_forms
        .iter()
        .chain(&artifact_forms)
        .flat_map(|(_, f)| f)
        .map(String::len)
        .max()
        .unwrap_or(0)
        + 40;

    for path in sources {
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let mut carry = String::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let text = carry.clone() + &String::from_utf8_lossy(&buf[..n]).to_lowercase();
            any_mcp |= text.contains("mcp__");
            any_tools_call |= text.contains("tools/call");
            for (name, forms) in &tool_forms {
                let e = evidence.entry(name.as_str()).or_default();
                for f in forms {
                    e.mcp_prefixed |= text.contains(&format!("mcp__{f}"));
                    e.dunder |= text.contains(&format!("__{f}"));
                    e.quoted |= text.contains(&format!("\"{f}\""));
                    e.near_tool_word |= word_near_tool(&text, f);
                }
            }
            for (name, forms) in &artifact_forms {
                if forms.iter().any(|f| text.contains(f.as_str())) {
                    found_artifacts.insert(name.clone());
                }
            }
            let keep = text.len().saturating_sub(overlap);
            let keep = (keep..=text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            carry = text[keep..].to_string();
        }
    }
    let found_tools = evidence
        .into_iter()
        .filter(|(_, e)| {
            e.mcp_prefixed
                || (e.dunder && any_mcp)
                || (e.quoted && any_tools_call)
                || e.near_tool_word
        })
        .map(|(name, _)| name.to_string())
        .collect();
    (found_tools, found_artifacts)
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_lowercase()
}

/// A whole-word occurrence of `word` with "tool" within 30 characters on either side.
fn word_near_tool(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            return false;
        }
        let lo = floor_boundary(text, i.saturating_sub(30));
        let hi = floor_boundary(text, (i + word.len() + 30).min(text.len()));
        let window = text[lo..i].to_string() + &text[i + word.len()..hi];
        window.contains("tool")
    })
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
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
        assert!(!word_near_tool("i will run the tests now", "run"));
        assert!(word_near_tool(
            "calling the mcp tool run_verifier now",
            "run_verifier"
        ));
        assert!(!word_near_tool("the tool rerun_all", "run"));
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
