//! `compare_report.json` and `trial.json`: typed, in the original's names and shapes
//! (spec/harness.md §7.4), so a report written by either tool reads into these types and writes
//! back without loss. Keys a type does not name are kept in its `extra` map; keys only we write
//! are optional and left out when absent, so an original report round-trips exactly (integers
//! the original wrote where a float is typed, such as a `0` duration, come back as `0.0`).

use super::stats::{median, number_summary, ranked_summary};
use crate::fsx::{self, JsonFileError, Object};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Label of `score`: what the agent wrote in its own result.json.
pub const AGENT_SCORE_LABEL: &str =
    "agent_reported: read from the agent's own result.json (--score-key); not independently checked";
/// Label of `post_score`: what the independent `--post-command` measured.
pub const POST_SCORE_LABEL: &str =
    "independent: the --post-command's verdict in the trial workspace after the attempt (--post-score-key); only valid trials";

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareReport {
    pub created_at: String,
    pub workspace_template: String,
    pub artifact_source: Option<String>,
    /// Finished trials, in schedule order (plain 1, harnessed 1, plain 2, …).
    pub trials: Vec<Trial>,
    pub summary: BTreeMap<String, GroupSummary>,
    /// Ours: `running`, `finished`, `interrupted` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<Value>,
    /// Ours: the settings, for `--resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Ours: planned trials with no record yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<PendingTrial>>,
    /// Ours: plain trial i against harnessed trial i.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<Paired>,
    /// Ours: differences between the arms other than the harness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<Fairness>,
    /// Ours: what `score` and `post_score` mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_labels: Option<BTreeMap<String, String>>,
    /// Ours: how many trials run at once, and the executor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<Value>,
    #[serde(flatten)]
    pub extra: Object,
}

/// One trial (`trial.json`, and an entry of the report's `trials`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trial {
    pub group: String,
    pub trial: u32,
    pub workspace: String,
    pub run_id: String,
    pub run_dir: Option<String>,
    pub result_path: Option<String>,
    pub status: String,
    pub solved: bool,
    pub error: String,
    pub duration_seconds: f64,
    pub attempt_duration_seconds: Option<f64>,
    pub cumulative_attempt_duration_seconds: f64,
    pub iterations_completed: u64,
    pub iterations: Vec<IterationRow>,
    /// The agent's own claim (result.json); see `score_source`.
    pub score: Option<f64>,
    pub copied_artifacts: Vec<String>,
    pub mcp_telemetry: McpTelemetry,
    pub mcp_call_count: u64,
    pub mcp_called_tools: Vec<String>,
    pub runner_validation: RunnerValidation,
    pub harness_validation: HarnessValidation,
    pub comparison_valid: bool,
    pub comparison_invalid_reason: String,
    pub post_result: Option<PostResult>,
    pub objective_post_valid: Option<bool>,
    pub post_valid: Option<bool>,
    pub post_invalid_reason: String,
    /// The independent score (post command), valid trials only; see `post_score_source`.
    pub post_score: Option<f64>,
    pub post_treated_as_worst: bool,
    // --- ours ---
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Position in the interleaved schedule (0 = plain 1, 1 = harnessed 1, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_score_source: Option<String>,
    /// How the loop ended: `solved`, `not_solved`, `error` (or null when it never started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_ending: Option<String>,
    /// What this trial ran with, for the fairness check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<BTreeMap<String, Value>>,
    /// Seconds spent preparing the workspace, in the loop, in the post command, in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<BTreeMap<String, f64>>,
    /// Template symlinks pointing outside the template (kept as links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_links: Option<Vec<Value>>,
    /// Artifact-source symlinks left out of the copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_links: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// One iteration of a trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IterationRow {
    pub iteration: u32,
    pub status: String,
    pub solved: bool,
    pub result_path: String,
    pub attempt_status: Option<String>,
    pub attempt_return_code: Option<i64>,
    pub attempt_timed_out: Option<bool>,
    pub attempt_duration_seconds: Option<f64>,
    pub attempt_message: String,
    pub attempt_transcript_path: Option<String>,
    pub score: Option<f64>,
    pub active_mcp_count: Option<i64>,
    pub active_tool_count: Option<i64>,
    pub used_active_tools: Option<Vec<String>>,
    pub mcp_call_count: Option<i64>,
    pub mcp_called_tools: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `summarize_mcp_call_events` of the trial workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct McpTelemetry {
    pub path: String,
    pub count: u64,
    pub successful_count: u64,
    pub failed_count: u64,
    pub status_counts: BTreeMap<String, u64>,
    pub called_tools: Vec<String>,
    pub servers: Vec<String>,
    pub samples: Vec<Value>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerValidation {
    pub valid: bool,
    pub reason: String,
    pub failed_iterations: Vec<u32>,
    pub failed_attempts: Vec<FailedAttempt>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailedAttempt {
    pub iteration: u32,
    pub status: Option<String>,
    pub attempt_status: Option<String>,
    pub attempt_return_code: Option<i64>,
    pub attempt_timed_out: Option<bool>,
    pub attempt_message: String,
    pub attempt_transcript_path: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Plain trials have only `required`, `valid`, `reason`; harnessed ones the rest too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HarnessValidation {
    pub required: bool,
    pub valid: bool,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_harness_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_use_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_tool_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_mcp_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_call_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_successful_call_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_called_tools: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_call_status_counts: Option<BTreeMap<String, u64>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// The post command's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostResult {
    pub command: String,
    pub status: String,
    pub return_code: Option<i64>,
    pub timed_out: bool,
    pub duration_seconds: f64,
    pub stdout_path: String,
    pub stderr_path: String,
    pub json: Option<Object>,
    pub score: Option<f64>,
    pub score_key: String,
    /// Ours: the verdict passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(flatten)]
    pub extra: Object,
}

/// `{count, min, median, max, best}`, plus (post scores) the validity counts, plus (ours) the
/// ranking of invalid trials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberSummary {
    pub count: u64,
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
    pub best: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_treated_as_worst: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranked_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_stats: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_only: Option<Box<NumberSummary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// One arm's summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupSummary {
    pub count: u64,
    pub attempt_duration_seconds: NumberSummary,
    pub cumulative_attempt_duration_seconds: NumberSummary,
    pub iterations_completed: NumberSummary,
    pub score: NumberSummary,
    pub post_score: NumberSummary,
    pub post_status: BTreeMap<String, u64>,
    pub comparison_valid: BTreeMap<String, u64>,
    pub mcp_call_count: NumberSummary,
    pub mcp_called_tools: Vec<String>,
    pub invalid_reasons: BTreeMap<String, u64>,
    /// Ours: finished trials whose counterpart in the other arm has no record yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpaired_count: Option<u64>,
    /// Ours: trials in which HarnessGym itself failed (`error` set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A planned trial without a record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingTrial {
    pub group: String,
    pub trial: u32,
    /// `queued`, `running` or `interrupted`.
    pub state: String,
    #[serde(flatten)]
    pub extra: Object,
}

/// Plain trial i against harnessed trial i, on the independent score when there is a post
/// command, else on the agent's own score (labelled as such).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Paired {
    /// `post_score` or `score`.
    pub metric: String,
    /// `independent` or `agent_reported`.
    pub metric_source: String,
    pub higher_is_better: bool,
    pub pairs: Vec<Pair>,
    /// Complete pairs.
    pub count: u64,
    pub harnessed_better: u64,
    pub plain_better: u64,
    pub ties: u64,
    /// Median of harnessed minus plain over pairs where both are valid.
    pub median_delta_harnessed_minus_plain: Option<f64>,
    /// Finished trials whose counterpart has no record: listed, never counted.
    pub unpaired: Vec<Unpaired>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pair {
    pub trial: u32,
    pub plain: Option<f64>,
    pub harnessed: Option<f64>,
    pub plain_valid: bool,
    pub harnessed_valid: bool,
    /// `harnessed`, `plain` or `tie` (both invalid is a tie).
    pub winner: String,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Unpaired {
    pub group: String,
    pub trial: u32,
    pub reason: String,
    #[serde(flatten)]
    pub extra: Object,
}

/// Whether the arms differ in anything but the harness.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fairness {
    pub warnings: Vec<String>,
    /// For every fingerprint key that is not the same in all trials: the values per arm.
    pub differences: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    /// Content hash of the template at the start of this session.
    pub template_sha256: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Why a report or trial file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    File(#[from] JsonFileError),
    #[error("{path} is not a compare report: {message}")]
    Shape { path: String, message: String },
    #[error("{0} does not exist")]
    Missing(String),
}

impl CompareReport {
    /// Reads a `compare_report.json` written by either tool.
    pub fn read(path: &Path) -> Result<CompareReport, ReadError> {
        let map = fsx::read_json_object(path)?
            .ok_or_else(|| ReadError::Missing(path.display().to_string()))?;
        serde_json::from_value(Value::Object(map)).map_err(|e| ReadError::Shape {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The report as JSON (keys sorted, as every file is written).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Writes the report atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        fsx::write_json(path, &self.to_value())
    }
}

impl Trial {
    /// Reads a `trial.json` written by either tool.
    pub fn read(path: &Path) -> Result<Trial, ReadError> {
        let map = fsx::read_json_object(path)?
            .ok_or_else(|| ReadError::Missing(path.display().to_string()))?;
        serde_json::from_value(Value::Object(map)).map_err(|e| ReadError::Shape {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The trial's value on a paired metric, and whether it counts (invalid ranks worst).
    fn metric(&self, metric: &str) -> (Option<f64>, bool) {
        if metric == "post_score" {
            let v = self.post_score.filter(|s| s.is_finite());
            (v, self.post_valid == Some(true) && v.is_some())
        } else {
            let v = self.score.filter(|s| s.is_finite());
            (v, self.comparison_valid && v.is_some())
        }
    }
}

/// `summary` over the recorded trials whose counterpart in the other arm is recorded too (so
/// both arms are summarised over the same trial numbers; in a finished compare that is every
/// trial): the original's keys, with invalid trials ranked worst in `score` and `post_score`,
/// and the post status `not_run` when there is no post command. Unpaired trials are only counted
/// in `unpaired_count`.
pub fn summarize(
    trials: &[Trial],
    higher_is_better: bool,
    unpaired: &BTreeSet<(String, u32)>,
) -> BTreeMap<String, GroupSummary> {
    let mut out = BTreeMap::new();
    for group in ["plain", "harnessed"] {
        let all: Vec<&Trial> = trials.iter().filter(|t| t.group == group).collect();
        let ts: Vec<&Trial> = all
            .iter()
            .copied()
            .filter(|t| !unpaired.contains(&(t.group.clone(), t.trial)))
            .collect();
        let nums = |f: &dyn Fn(&Trial) -> Option<f64>| -> Vec<f64> {
            ts.iter().filter_map(|t| f(t)).collect()
        };
        let mut score = ranked_summary(
            &nums(&|t| t.score.filter(|_| t.comparison_valid)),
            ts.iter().filter(|t| !t.comparison_valid).count(),
            higher_is_better,
        );
        score.source = Some("agent_reported".into());
        let with_post: Vec<&&Trial> = ts.iter().filter(|t| t.post_result.is_some()).collect();
        let valid_scores: Vec<f64> = with_post
            .iter()
            .filter(|t| t.post_valid == Some(true))
            .filter_map(|t| t.post_score)
            .collect();
        let invalid = with_post
            .iter()
            .filter(|t| t.post_valid != Some(true) || t.post_score.is_none())
            .count();
        let mut post = ranked_summary(&valid_scores, invalid, higher_is_better);
        post.valid_count = Some(valid_scores.len() as u64);
        post.not_run_count = Some((ts.len() - with_post.len()) as u64);
        post.invalid_treated_as_worst = Some(invalid > 0);
        post.source = Some("independent".into());
        let mut post_status = BTreeMap::new();
        for t in &ts {
            let s = t
                .post_result
                .as_ref()
                .map(|p| p.status.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "not_run".into());
            *post_status.entry(s).or_insert(0) += 1;
        }
        let mut validity = BTreeMap::new();
        let mut reasons = BTreeMap::new();
        for t in &ts {
            let key = if t.comparison_valid {
                "valid"
            } else {
                "invalid"
            };
            *validity.entry(key.to_string()).or_insert(0) += 1;
            if !t.comparison_valid {
                let reason = if t.comparison_invalid_reason.is_empty() {
                    "not_run".to_string()
                } else {
                    t.comparison_invalid_reason.clone()
                };
                *reasons.entry(reason).or_insert(0) += 1;
            }
        }
        let tools: BTreeSet<String> = ts
            .iter()
            .flat_map(|t| t.mcp_called_tools.iter().cloned())
            .collect();
        out.insert(
            group.to_string(),
            GroupSummary {
                count: ts.len() as u64,
                attempt_duration_seconds: number_summary(
                    &nums(&|t| t.attempt_duration_seconds),
                    false,
                ),
                cumulative_attempt_duration_seconds: number_summary(
                    &nums(&|t| Some(t.cumulative_attempt_duration_seconds)),
                    false,
                ),
                iterations_completed: number_summary(
                    &nums(&|t| Some(t.iterations_completed as f64)),
                    true,
                ),
                score,
                post_score: post,
                post_status,
                comparison_valid: validity,
                mcp_call_count: number_summary(&nums(&|t| Some(t.mcp_call_count as f64)), true),
                mcp_called_tools: tools.into_iter().collect(),
                invalid_reasons: reasons,
                unpaired_count: Some((all.len() - ts.len()) as u64),
                error_count: Some(ts.iter().filter(|t| !t.error.is_empty()).count() as u64),
                extra: Object::new(),
            },
        );
    }
    out
}

/// Pairs plain trial i with harnessed trial i. `planned` is every trial the compare will have;
/// a finished trial whose counterpart has no record is listed as unpaired and not counted.
pub fn pair(
    trials: &[Trial],
    planned_trials: u32,
    has_post_command: bool,
    higher_is_better: bool,
) -> Paired {
    let metric = if has_post_command {
        "post_score"
    } else {
        "score"
    };
    let find = |group: &str, i: u32| trials.iter().find(|t| t.group == group && t.trial == i);
    let mut p = Paired {
        metric: metric.into(),
        metric_source: if has_post_command {
            "independent".into()
        } else {
            "agent_reported".into()
        },
        higher_is_better,
        ..Paired::default()
    };
    let mut deltas = Vec::new();
    for i in 1..=planned_trials {
        match (find("plain", i), find("harnessed", i)) {
            (Some(a), Some(b)) => {
                let ((va, oka), (vb, okb)) = (a.metric(metric), b.metric(metric));
                let winner = match (oka, okb) {
                    (false, false) => "tie",
                    (true, false) => "plain",
                    (false, true) => "harnessed",
                    (true, true) => {
                        let (x, y) = (va.unwrap_or(0.0), vb.unwrap_or(0.0));
                        deltas.push(y - x);
                        let better = |a: f64, b: f64| {
                            if higher_is_better {
                                a > b
                            } else {
                                a < b
                            }
                        };
                        if better(y, x) {
                            "harnessed"
                        } else if better(x, y) {
                            "plain"
                        } else {
                            "tie"
                        }
                    }
                };
                match winner {
                    "harnessed" => p.harnessed_better += 1,
                    "plain" => p.plain_better += 1,
                    _ => p.ties += 1,
                }
                p.pairs.push(Pair {
                    trial: i,
                    plain: va,
                    harnessed: vb,
                    plain_valid: oka,
                    harnessed_valid: okb,
                    winner: winner.into(),
                    extra: Object::new(),
                });
            }
            (Some(t), None) | (None, Some(t)) => {
                let other = if t.group == "plain" {
                    "harnessed"
                } else {
                    "plain"
                };
                p.unpaired.push(Unpaired {
                    group: t.group.clone(),
                    trial: i,
                    reason: format!("{other} trial {i} has no record yet"),
                    extra: Object::new(),
                });
            }
            (None, None) => {}
        }
    }
    p.count = p.pairs.len() as u64;
    p.median_delta_harnessed_minus_plain = median(&deltas);
    p
}

/// Compares the trials' fingerprints: every key whose values are not all the same becomes a
/// warning naming the arms and their values.
pub fn fairness(trials: &[Trial], template_sha256: Option<String>, notes: Vec<String>) -> Fairness {
    let mut values: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for t in trials {
        for (k, v) in t.fairness.iter().flatten() {
            let list = values
                .entry(k.clone())
                .or_default()
                .entry(t.group.clone())
                .or_default();
            if !list.contains(v) {
                list.push(v.clone());
            }
        }
    }
    let mut f = Fairness {
        template_sha256,
        warnings: notes,
        ..Fairness::default()
    };
    for (key, arms) in values {
        let all: BTreeSet<String> = arms
            .values()
            .flatten()
            .map(std::string::ToString::to_string)
            .collect();
        if all.len() <= 1 {
            continue;
        }
        let hash = key.ends_with("_sha256");
        let show = |vs: &[Value]| {
            vs.iter()
                .map(|v| match v.as_str() {
                    Some(h) if hash => format!("{}…", h.chars().take(12).collect::<String>()),
                    _ => short(&v.to_string()),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let within: Vec<&String> = arms
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(g, _)| g)
            .collect();
        let text = match (arms.get("plain"), arms.get("harnessed")) {
            (Some(p), Some(h)) if within.is_empty() => format!(
                "arms differ in {key}: plain has {}, harnessed has {}",
                show(p),
                show(h)
            ),
            _ => format!(
                "trials differ in {key} within the {} arm{}: {}",
                within
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                if within.len() > 1 { "s" } else { "" },
                arms.iter()
                    .map(|(g, v)| format!("{g} has {}", show(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        f.warnings.push(text);
        f.differences.insert(key, arms);
    }
    f
}

fn short(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(77).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(group: &str, i: u32, valid: bool, post: Option<f64>) -> Trial {
        Trial {
            group: group.into(),
            trial: i,
            comparison_valid: valid,
            post_result: Some(PostResult {
                status: "completed".into(),
                ..PostResult::default()
            }),
            post_valid: Some(valid && post.is_some()),
            post_score: post.filter(|_| valid),
            ..Trial::default()
        }
    }

    #[test]
    fn pairs_count_only_complete_pairs_and_invalid_loses() {
        let ts = vec![
            trial("plain", 1, true, Some(5.0)),
            trial("harnessed", 1, true, Some(3.0)),
            trial("plain", 2, true, Some(4.0)),
            trial("harnessed", 2, false, Some(1.0)),
            trial("plain", 3, true, Some(2.0)),
        ];
        let p = pair(&ts, 3, true, false);
        assert_eq!(p.count, 2);
        assert_eq!((p.harnessed_better, p.plain_better, p.ties), (1, 1, 0));
        assert_eq!(p.unpaired.len(), 1);
        assert_eq!(p.unpaired[0].group, "plain");
        assert_eq!(p.median_delta_harnessed_minus_plain, Some(-2.0));
    }

    #[test]
    fn summary_without_post_command_is_not_run() {
        let mut t = trial("plain", 1, true, None);
        t.post_result = None;
        t.post_valid = None;
        let s = summarize(&[t], false, &BTreeSet::new());
        assert_eq!(s["plain"].post_status["not_run"], 1);
        assert_eq!(s["plain"].post_score.not_run_count, Some(1));
        assert_eq!(s["harnessed"].count, 0);
    }

    #[test]
    fn fairness_names_the_differing_key() {
        let mut a = trial("plain", 1, true, None);
        let mut b = trial("harnessed", 1, true, None);
        a.fairness = Some(BTreeMap::from([("runner".into(), Value::from("fake"))]));
        b.fairness = Some(BTreeMap::from([("runner".into(), Value::from("exec"))]));
        let f = fairness(&[a.clone(), b], None, vec![]);
        assert_eq!(f.warnings.len(), 1);
        assert!(
            f.warnings[0].contains("arms differ in runner"),
            "{:?}",
            f.warnings
        );
        let f = fairness(&[a.clone(), a], None, vec![]);
        assert!(f.warnings.is_empty());
    }
}
