//! `result.json`: deep-merge updates, tolerant reads, scores and the solved/verified rules.

use crate::fsx::{self, JsonFileError, Object};
use serde_json::{json, Value};
use std::io;
use std::path::{Path, PathBuf};

/// Keys whose list values are unioned (sorted, de-duplicated) instead of replaced, at any depth.
const UNION_KEYS: &[&str] = &["used_harness_tools", "used_harness_artifacts"];

/// Merges `updates` into `base`: objects recursively, the union keys as sorted sets, anything else replaced.
pub fn deep_merge(base: &mut Object, updates: Object) {
    for (key, new) in updates {
        match (base.get_mut(&key), new) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_merge(old, new),
            (Some(Value::Array(old)), Value::Array(new)) if UNION_KEYS.contains(&key.as_str()) => {
                let mut all: Vec<Value> = old.drain(..).chain(new).collect();
                all.sort_by_key(sort_key);
                all.dedup();
                *old = all;
            }
            (_, new) => {
                base.insert(key, new);
            }
        }
    }
}

fn sort_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One iteration's result.json. Every write is read-modify-write of the file the agent may have
/// edited; if that file is damaged it is moved aside, the last good content is the base, and the
/// problem is recorded in `harnessgym_errors` so the run goes on and nothing is lost.
#[derive(Debug)]
pub struct ResultDoc {
    pub path: PathBuf,
    last: Object,
}

impl ResultDoc {
    /// Starts a result file with the initial content.
    pub fn create(path: PathBuf, initial: Object) -> io::Result<ResultDoc> {
        let doc = ResultDoc {
            path,
            last: initial,
        };
        fsx::write_json(&doc.path, &Value::Object(doc.last.clone()))?;
        Ok(doc)
    }

    /// Opens an existing result file (resume); a damaged one starts empty with the damage recorded.
    pub fn open(path: PathBuf) -> ResultDoc {
        let mut doc = ResultDoc {
            path,
            last: Object::new(),
        };
        let _ = doc.read();
        doc
    }

    /// The latest content: the file if it is a readable object, else the last good copy.
    pub fn read(&mut self) -> &Object {
        match fsx::read_json_object(&self.path) {
            Ok(Some(map)) => self.last = map,
            Ok(None) => {}
            Err(problem) => self.record_damage(problem),
        }
        &self.last
    }

    /// Deep-merges `updates`, stamps `updated_at`, writes atomically, and returns the merged data.
    pub fn update(&mut self, updates: Value) -> io::Result<&Object> {
        self.update_with(|data| {
            if let Value::Object(updates) = updates {
                deep_merge(data, updates);
            }
        })
    }

    /// Re-reads the file, applies `change` to its content, stamps `updated_at` and writes once.
    pub fn update_with(&mut self, change: impl FnOnce(&mut Object)) -> io::Result<&Object> {
        self.read();
        change(&mut self.last);
        self.last.insert("updated_at".into(), json!(fsx::utc_now()));
        fsx::write_json(&self.path, &Value::Object(self.last.clone()))?;
        Ok(&self.last)
    }

    /// The in-memory copy, without touching the disk.
    pub fn data(&self) -> &Object {
        &self.last
    }

    fn record_damage(&mut self, problem: JsonFileError) {
        let preserved = fsx::preserve_damaged(&self.path).ok();
        let entry = json!({
            "file": self.path.to_string_lossy(),
            "message": problem.to_string(),
            "preserved_as": preserved.map(|p| p.to_string_lossy().into_owned()),
            "at": fsx::utc_now(),
        });
        match self.last.get_mut("harnessgym_errors") {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                self.last.insert("harnessgym_errors".into(), json!([entry]));
            }
        }
    }
}

/// A finite number (not a boolean), or a string holding one.
pub fn as_score(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

/// The score under `key`: the specific key wins over the generic `score` at every level, so
/// `metrics[key]` ranks above a top-level `score`.
pub fn extract_score(data: &Object, key: &str) -> Option<f64> {
    let containers = |name: Option<&str>| -> Option<&Object> {
        match name {
            None => Some(data),
            Some(n) => data.get(n).and_then(Value::as_object),
        }
    };
    let places = [
        None,
        Some("metrics"),
        Some("objective"),
        Some("verification"),
    ];
    for k in [key, "score"] {
        for place in places {
            if let Some(score) = containers(place).and_then(|c| c.get(k)).and_then(as_score) {
                return Some(score);
            }
        }
    }
    None
}

/// `status == "solved"` and verified: `verified` is the boolean true, or `verification.status == "passed"`.
pub fn is_solved_and_verified(data: &Object) -> bool {
    data.get("status").and_then(Value::as_str) == Some("solved") && is_verified(data)
}

/// True when the result carries a positive verification.
pub fn is_verified(data: &Object) -> bool {
    data.get("verified") == Some(&Value::Bool(true))
        || data
            .get("verification")
            .and_then(Value::as_object)
            .and_then(|v| v.get("status"))
            .and_then(Value::as_str)
            == Some("passed")
}

/// Scores compare this way round.
#[derive(Debug, Clone, Copy)]
pub struct Objective {
    pub higher_is_better: bool,
}

impl Objective {
    /// Strictly better (ties are not).
    pub fn better(self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }

    /// `score` reaches `stop` (inclusive).
    pub fn reaches(self, score: f64, stop: f64) -> bool {
        if self.higher_is_better {
            score >= stop
        } else {
            score <= stop
        }
    }
}

/// `status` as the iteration list records it: the string, `"unknown"` when missing.
pub fn status_of(data: &Object) -> String {
    match data.get("status") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "unknown".into(),
        Some(other) => other.to_string(),
    }
}

/// Reads result.json at `path` for reporting, tolerating damage.
pub fn read_lenient(path: &Path) -> Object {
    fsx::read_json_object(path)
        .ok()
        .flatten()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merge_unions_usage_lists_at_any_depth() {
        let mut base = obj(json!({"a": {"used_harness_tools": ["b", "a"], "x": 1}, "list": [1]}));
        deep_merge(
            &mut base,
            obj(json!({"a": {"used_harness_tools": ["c", "a"]}, "list": [2]})),
        );
        assert_eq!(base["a"]["used_harness_tools"], json!(["a", "b", "c"]));
        assert_eq!(base["a"]["x"], json!(1));
        assert_eq!(base["list"], json!([2]));
    }

    #[test]
    fn specific_key_beats_generic_score_and_booleans_are_not_scores() {
        let data = obj(json!({"score": 9, "metrics": {"best_ms": "1.25"}}));
        assert_eq!(extract_score(&data, "best_ms"), Some(1.25));
        assert_eq!(extract_score(&obj(json!({"score": true})), "score"), None);
        assert_eq!(extract_score(&obj(json!({"score": "nan"})), "score"), None);
        assert_eq!(
            extract_score(&obj(json!({"verification": {"score": 2}})), "x"),
            Some(2.0)
        );
        assert_eq!(extract_score(&obj(json!({"score": "fast"})), "score"), None);
    }

    #[test]
    fn solved_needs_a_real_verification() {
        assert!(is_solved_and_verified(&obj(
            json!({"status": "solved", "verified": true})
        )));
        assert!(!is_solved_and_verified(&obj(
            json!({"status": "solved", "verified": "yes"})
        )));
        assert!(is_solved_and_verified(&obj(
            json!({"status": "solved", "verification": {"status": "passed"}})
        )));
        assert!(!is_solved_and_verified(&obj(
            json!({"status": "blocked", "verified": true})
        )));
    }

    #[test]
    fn damaged_file_is_preserved_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        let mut doc = ResultDoc::create(path.clone(), obj(json!({"status": "running"}))).unwrap();
        std::fs::write(&path, "[1, 2]").unwrap();
        let data = doc.update(json!({"phases": {"attempt": {}}})).unwrap();
        assert_eq!(data["status"], json!("running"));
        assert!(data["harnessgym_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("an array"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("result.json.corrupt-1")).unwrap(),
            "[1, 2]"
        );
    }
}
