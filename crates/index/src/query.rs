//! Reading the index: lists with filters, call statistics, and full-text search.

use crate::model::*;
use crate::{Index, IndexError};
use rusqlite::types::{ToSql, ValueRef};
use rusqlite::{params_from_iter, Row};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};

const DEFAULT_LIMIT: usize = 1000;

fn iso_ms(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Parses a time bound: RFC 3339 (`2026-11-25T12:00:00Z`), a date (`2026-11-25`, UTC midnight),
/// a date and time without zone (UTC), or an age such as `30m`, `2h`, `7d` (that long ago).
pub fn parse_time_arg(text: &str) -> Result<i64, IndexError> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(d.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit_ms = match unit {
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        "d" => 86400e3,
        "w" => 7.0 * 86400e3,
        _ => f64::NAN,
    };
    match num.parse::<f64>() {
        Ok(n) if unit_ms.is_finite() => Ok(now_ms() - (n * unit_ms) as i64),
        _ => Err(IndexError::BadQuery(format!(
            "cannot read the time {text:?}: use 2026-11-25, 2026-11-25T12:00:00Z, or an age like 30m, 2h, 7d"
        ))),
    }
}

/// Builds `AND`-joined conditions with positional parameters.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Box<dyn ToSql>>,
}

impl Where {
    fn add(&mut self, cond: &str, values: Vec<Box<dyn ToSql>>) {
        let mut c = cond.to_string();
        for v in values {
            self.args.push(v);
            c = c.replacen("{}", &format!("?{}", self.args.len()), 1);
        }
        self.conds.push(c);
    }
    fn workspace(&mut self, col: &str, ws: &Option<String>) {
        self.workspace_cond(col, ws, false)
    }
    /// `col IN (ids of the matching workspaces)`.
    fn workspace_ids(&mut self, col: &str, ws: &Option<String>) {
        self.workspace_cond(col, ws, true)
    }
    fn workspace_cond(&mut self, col: &str, ws: &Option<String>, ids: bool) {
        if let Some(w) = ws {
            let abs = crate::scan::absolute(std::path::Path::new(w));
            let p = abs.to_string_lossy().trim_end_matches('/').to_string();
            let like = format!(
                "{}/%",
                p.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let cond = if ids {
                format!(
                    "{col} IN (SELECT id FROM workspaces WHERE path = {{}} OR path LIKE {{}} ESCAPE '\\')"
                )
            } else {
                format!("({col} = {{}} OR {col} LIKE {{}} ESCAPE '\\')")
            };
            self.add(&cond, vec![Box::new(p), Box::new(like)]);
        }
    }
    fn sql(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }
}

fn opt_bool(r: &Row, i: usize) -> rusqlite::Result<Option<bool>> {
    r.get::<_, Option<i64>>(i).map(|v| v.map(|x| x != 0))
}

impl Index {
    /// Known workspaces and compare directories.
    pub fn workspaces(&self) -> Result<Vec<WorkspaceRow>, IndexError> {
        let mut st = self.conn.prepare(
            "SELECT w.path, w.kind, w.present, w.indexed_at,
                    (SELECT count(*) FROM runs r WHERE r.workspace_id = w.id)
             FROM workspaces w ORDER BY w.path",
        )?;
        let rows = st.query_map([], |r| {
            Ok(WorkspaceRow {
                path: r.get(0)?,
                kind: r.get(1)?,
                present: r.get(2)?,
                indexed_at: r.get(3)?,
                run_count: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs, newest first. `status` matches the run state or its final status; the time range
    /// applies to the start time.
    pub fn runs(&self, f: &Filter) -> Result<Vec<RunRow>, IndexError> {
        let cutoff = (now_ms() - self.options.active_window.as_millis() as i64) * 1_000_000;
        let state_sql =
            "CASE WHEN r.summary_state IN ('finished', 'interrupted', 'error') THEN r.summary_state
                WHEN COALESCE(r.last_activity_ns, 0) >= ?1 THEN 'running' ELSE 'interrupted' END";
        let mut w = Where::default();
        w.args.push(Box::new(cutoff));
        w.workspace("w.path", &f.workspace);
        if let Some(run) = &f.run {
            w.add("r.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(s) = &f.status {
            w.add(
                &format!("({state_sql} = {{}} OR r.final_status = {{}})"),
                vec![Box::new(s.clone()), Box::new(s.clone())],
            );
        }
        let start = "COALESCE(r.started_ms, r.last_activity_ns / 1000000)";
        if let Some(t) = f.since_ms {
            w.add(&format!("{start} >= {{}}"), vec![Box::new(t)]);
        }
        if let Some(t) = f.until_ms {
            w.add(&format!("{start} < {{}}"), vec![Box::new(t)]);
        }
        let sql = format!(
            "SELECT w.path, r.run_id, r.dir, r.origin, {state_sql},
                CASE WHEN r.summary_state IN ('finished', 'interrupted', 'error') THEN 'summary'
                     WHEN r.summary_state = 'running' AND COALESCE(r.last_activity_ns, 0) >= ?1 THEN 'summary'
                     ELSE 'inferred' END,
                r.final_status, r.solved, r.best_score, r.best_reported_score, r.runner, r.task_path,
                r.iterations_planned, r.iteration_count, r.started_ms, r.last_activity_ns,
                r.has_summary, r.has_config, r.run_error_count,
                (SELECT count(*) FROM errors e WHERE e.workspace_id = r.workspace_id AND e.run_id = r.run_id),
                (SELECT count(*) FROM mcp_calls c WHERE c.workspace_id = r.workspace_id AND c.run_id = r.run_id)
             FROM runs r JOIN workspaces w ON w.id = r.workspace_id{}
             ORDER BY {start} DESC, r.run_id DESC LIMIT {}",
            w.sql(),
            f.limit.unwrap_or(DEFAULT_LIMIT)
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(w.args.iter()), |r| {
            Ok(RunRow {
                workspace: r.get(0)?,
                run_id: r.get(1)?,
                dir: r.get(2)?,
                origin: r.get(3)?,
                state: r.get(4)?,
                state_source: r.get(5)?,
                final_status: r.get(6)?,
                solved: opt_bool(r, 7)?,
                best_score: r.get(8)?,
                best_reported_score: r.get(9)?,
                runner: r.get(10)?,
                task_path: r.get(11)?,
                iterations_planned: r.get(12)?,
                iteration_count: r.get(13)?,
                started_at: r.get::<_, Option<i64>>(14)?.and_then(iso_ms),
                last_activity_at: r
                    .get::<_, Option<i64>>(15)?
                    .filter(|n| *n > 0)
                    .and_then(|n| iso_ms(n / 1_000_000)),
                has_summary: r.get(16)?,
                has_config: r.get(17)?,
                run_error_count: r.get(18)?,
                index_error_count: r.get(19)?,
                mcp_call_count: r.get(20)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Iterations with their phases and phase files, newest run first, in iteration order.
    pub fn iterations(&self, f: &Filter) -> Result<Vec<IterationRow>, IndexError> {
        let mut w = Where::default();
        w.workspace("w.path", &f.workspace);
        if let Some(run) = &f.run {
            w.add("r.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(n) = f.iteration {
            w.add("i.iteration = {}", vec![Box::new(n)]);
        }
        if let Some(s) = &f.status {
            w.add("i.status = {}", vec![Box::new(s.clone())]);
        }
        let t = "COALESCE(i.created_ms, i.last_activity_ns / 1000000)";
        if let Some(x) = f.since_ms {
            w.add(&format!("{t} >= {{}}"), vec![Box::new(x)]);
        }
        if let Some(x) = f.until_ms {
            w.add(&format!("{t} < {{}}"), vec![Box::new(x)]);
        }
        let sql = format!(
            "SELECT i.id, w.path, r.run_id, i.iteration, i.dir, i.has_result, i.status, i.verified,
                    i.solved, i.score, i.summary, i.created_at, i.updated_at, i.mcp_call_count,
                    i.active_tool_count, i.quality_gate, i.qualification_status, i.file_count,
                    i.result_errors_json, r.workspace_id,
                    (SELECT count(*) FROM errors e WHERE e.workspace_id = r.workspace_id
                      AND e.run_id = r.run_id AND e.iteration = i.iteration)
             FROM iterations i JOIN runs r ON r.id = i.run_pk JOIN workspaces w ON w.id = r.workspace_id{}
             ORDER BY COALESCE(r.started_ms, 0) DESC, r.run_id DESC, i.iteration LIMIT {}",
            w.sql(),
            f.limit.unwrap_or(DEFAULT_LIMIT)
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut out = Vec::new();
        let mut keys = Vec::new();
        let rows = st.query_map(params_from_iter(w.args.iter()), |r| {
            let errors: Option<String> = r.get(18)?;
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(19)?,
                IterationRow {
                    workspace: r.get(1)?,
                    run_id: r.get(2)?,
                    iteration: r.get(3)?,
                    dir: r.get(4)?,
                    has_result: r.get(5)?,
                    status: r.get(6)?,
                    verified: opt_bool(r, 7)?,
                    solved: opt_bool(r, 8)?,
                    score: r.get(9)?,
                    summary: r.get(10)?,
                    created_at: r.get(11)?,
                    updated_at: r.get(12)?,
                    mcp_call_count: r.get(13)?,
                    active_tool_count: r.get(14)?,
                    quality_gate: r.get(15)?,
                    qualification_status: r.get(16)?,
                    file_count: r.get(17)?,
                    phases: Vec::new(),
                    phase_files: Vec::new(),
                    result_errors: errors.and_then(|e| serde_json::from_str(&e).ok()),
                    index_error_count: r.get(20)?,
                },
            ))
        })?;
        for row in rows {
            let (pk, ws_id, it) = row?;
            keys.push((pk, ws_id));
            out.push(it);
        }
        let mut phases = self.conn.prepare_cached(
            "SELECT phase, status, return_code, timed_out, duration_seconds, session_id
             FROM phases WHERE iteration_pk = ?1
             ORDER BY CASE phase WHEN 'attempt' THEN 0 WHEN 'reflection' THEN 1
                                 WHEN 'build' THEN 2 ELSE 3 END, id",
        )?;
        let mut files = self.conn.prepare_cached(
            // The planner, without statistics, would walk every file of the workspace.
            "SELECT phase, stream, path, size, lines FROM files INDEXED BY files_by_run
             WHERE workspace_id = ?1 AND run_id = ?2 AND iteration = ?3 AND kind = 'phase_text'
             ORDER BY path",
        )?;
        for ((pk, ws_id), it) in keys.iter().zip(out.iter_mut()) {
            it.phases = phases
                .query_map([pk], |r| {
                    Ok(PhaseRow {
                        phase: r.get(0)?,
                        status: r.get(1)?,
                        return_code: r.get(2)?,
                        timed_out: opt_bool(r, 3)?,
                        duration_seconds: r.get(4)?,
                        session_id: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            it.phase_files = files
                .query_map(rusqlite::params![ws_id, it.run_id, it.iteration], |r| {
                    Ok(PhaseFileRow {
                        phase: r.get(0)?,
                        stream: r.get(1)?,
                        path: r.get(2)?,
                        size: r.get::<_, i64>(3)?.max(0),
                        lines: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    fn call_where(&self, f: &Filter) -> Where {
        let mut w = Where::default();
        w.workspace_ids("c.workspace_id", &f.workspace);
        if let Some(run) = &f.run {
            w.add("c.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(n) = f.iteration {
            w.add("c.iteration = {}", vec![Box::new(n)]);
        }
        if let Some(p) = &f.phase {
            w.add("c.phase = {}", vec![Box::new(p.clone())]);
        }
        match f.status.as_deref() {
            Some("success") => w.add("c.ok = 1", vec![]),
            Some("failure") => w.add("c.ok = 0", vec![]),
            Some(s) => w.add("c.status = {}", vec![Box::new(s.to_string())]),
            None => {}
        }
        if let Some(t) = &f.tool {
            w.add("c.tool = {}", vec![Box::new(t.clone())]);
        }
        if let Some(s) = &f.server {
            w.add("c.server = {}", vec![Box::new(s.clone())]);
        }
        if let Some(t) = f.since_ms {
            w.add("c.ts_ms >= {}", vec![Box::new(t)]);
        }
        if let Some(t) = f.until_ms {
            w.add("c.ts_ms < {}", vec![Box::new(t)]);
        }
        w
    }

    /// MCP calls, newest first. `status` is the status as written, or `success` / `failure`.
    pub fn calls(&self, f: &Filter) -> Result<Vec<CallRow>, IndexError> {
        let w = self.call_where(f);
        let sql = format!(
            "SELECT (SELECT path FROM workspaces WHERE id = c.workspace_id),
                    (SELECT path FROM files WHERE id = c.file_id), c.line, c.created_at, c.format,
                    c.server, c.tool, c.status, c.ok, c.duration_ms, c.request_bytes, c.response_bytes,
                    c.request_id, c.error_message, c.run_id, c.iteration, c.phase
             FROM mcp_calls c{} ORDER BY c.ts_ms DESC, c.id DESC LIMIT {}",
            w.sql(),
            f.limit.unwrap_or(DEFAULT_LIMIT)
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(w.args.iter()), |r| {
            Ok(CallRow {
                workspace: r.get(0)?,
                file: r.get(1)?,
                line: r.get(2)?,
                created_at: r.get(3)?,
                format: r.get(4)?,
                server: r.get(5)?,
                tool: r.get(6)?,
                status: r.get(7)?,
                ok: r.get(8)?,
                duration_ms: r.get(9)?,
                request_bytes: r.get(10)?,
                response_bytes: r.get(11)?,
                request_id: r.get(12)?,
                error_message: r.get(13)?,
                run_id: r.get(14)?,
                iteration: r.get(15)?,
                phase: r.get(16)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Compare trials, from reports (and lone `trial.json` files). `workspace` filters by the
    /// compare directory, `run` by the trial's run id, `status` by the trial's status.
    pub fn compare_trials(&self, f: &Filter) -> Result<Vec<CompareTrialRow>, IndexError> {
        let mut w = Where::default();
        w.workspace("w.path", &f.workspace);
        if let Some(run) = &f.run {
            w.add("t.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(s) = &f.status {
            w.add("t.status = {}", vec![Box::new(s.clone())]);
        }
        let sql = format!(
            "SELECT w.path, t.source, t.grp, t.trial, t.workspace, t.run_id, t.status, t.solved, t.error,
                    t.duration_seconds, t.iterations_completed, t.score, t.post_status, t.post_score,
                    t.post_valid, t.comparison_valid, t.invalid_reason, t.mcp_call_count
             FROM compare_trials t JOIN workspaces w ON w.id = t.workspace_id{}
             ORDER BY w.path, t.source, t.id LIMIT {}",
            w.sql(),
            f.limit.unwrap_or(DEFAULT_LIMIT)
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(w.args.iter()), |r| {
            Ok(CompareTrialRow {
                compare_dir: r.get(0)?,
                source: r.get(1)?,
                group: r.get(2)?,
                trial: r.get(3)?,
                workspace: r.get(4)?,
                run_id: r.get(5)?,
                status: r.get(6)?,
                solved: opt_bool(r, 7)?,
                error: r.get(8)?,
                duration_seconds: r.get(9)?,
                iterations_completed: r.get(10)?,
                score: r.get(11)?,
                post_status: r.get(12)?,
                post_score: r.get(13)?,
                post_valid: opt_bool(r, 14)?,
                comparison_valid: opt_bool(r, 15)?,
                invalid_reason: r.get(16)?,
                mcp_call_count: r.get(17)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Problems found while indexing. `status` filters by kind.
    pub fn errors(&self, f: &Filter) -> Result<Vec<ErrorRow>, IndexError> {
        let mut w = Where::default();
        w.workspace("w.path", &f.workspace);
        if let Some(run) = &f.run {
            w.add("e.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(n) = f.iteration {
            w.add("e.iteration = {}", vec![Box::new(n)]);
        }
        if let Some(k) = &f.status {
            w.add("e.kind = {}", vec![Box::new(k.clone())]);
        }
        let sql = format!(
            "SELECT w.path, e.scope, e.run_id, e.iteration, e.kind, e.message, e.line, e.byte_offset,
                    e.detected_at
             FROM errors e JOIN workspaces w ON w.id = e.workspace_id{}
             ORDER BY w.path, e.scope, e.id LIMIT {}",
            w.sql(),
            f.limit.unwrap_or(DEFAULT_LIMIT)
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(w.args.iter()), |r| {
            Ok(ErrorRow {
                workspace: r.get(0)?,
                path: r.get(1)?,
                run_id: r.get(2)?,
                iteration: r.get(3)?,
                kind: r.get(4)?,
                message: r.get(5)?,
                line: r.get(6)?,
                byte_offset: r.get(7)?,
                detected_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Call statistics per tool or server: count, successes, errors, every status, duration
    /// percentiles (nearest rank) and request/response bytes.
    pub fn call_stats(&self, f: &Filter, group_by: GroupBy) -> Result<CallStats, IndexError> {
        let w = self.call_where(f);
        let col = match group_by {
            GroupBy::Tool => "c.tool",
            GroupBy::Server => "c.server",
        };
        let sql = format!(
            "SELECT {col}, c.status, c.ok, c.duration_ms, c.request_bytes, c.response_bytes
             FROM mcp_calls c{}",
            w.sql()
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(w.args.iter()))?;
        // Rows mostly arrive grouped (the covering index is ordered by tool, server, status), so
        // the previous group is kept at hand and compared before any hashing.
        let mut groups: Vec<(String, Acc)> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        let mut last: Option<usize> = None;
        while let Some(r) = rows.next()? {
            let key = match r.get_ref(0)? {
                ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or(""),
                _ => "",
            };
            let i = match last.filter(|&i| groups[i].0 == key) {
                Some(i) => i,
                None => {
                    let i = match slot.get(key) {
                        Some(&i) => i,
                        None => {
                            groups.push((key.to_string(), Acc::default()));
                            slot.insert(key.to_string(), groups.len() - 1);
                            groups.len() - 1
                        }
                    };
                    last = Some(i);
                    i
                }
            };
            let status = match r.get_ref(1)? {
                ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or("unknown"),
                _ => "unknown",
            };
            let ok = r.get_ref(2)?.as_i64().unwrap_or(0) != 0;
            let dur = match r.get_ref(3)? {
                ValueRef::Real(x) => Some(x),
                ValueRef::Integer(x) => Some(x as f64),
                _ => None,
            };
            let req = r.get_ref(4)?.as_i64_or_null().ok().flatten();
            let resp = r.get_ref(5)?.as_i64_or_null().ok().flatten();
            groups[i].1.add(status, ok, dur, req, resp);
        }
        let mut total = Acc::default();
        for (_, a) in &groups {
            total.merge(a);
        }
        let mut out: Vec<CallStatsGroup> = groups.into_iter().map(|(k, a)| a.finish(k)).collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Ok(CallStats {
            group_by: group_by.name().into(),
            total: total.finish("*".into()),
            groups: out,
        })
    }
}

#[derive(Default)]
struct Acc {
    count: i64,
    ok: i64,
    by_status: Vec<(String, i64)>,
    last_status: usize,
    durations: Vec<f64>,
    req_total: i64,
    req_max: Option<i64>,
    resp_total: i64,
    resp_max: Option<i64>,
}

impl Acc {
    fn add(
        &mut self,
        status: &str,
        ok: bool,
        dur: Option<f64>,
        req: Option<i64>,
        resp: Option<i64>,
    ) {
        self.count += 1;
        self.ok += ok as i64;
        // Few statuses, mostly in runs: check the last one, then the short list.
        match self.by_status.get_mut(self.last_status) {
            Some((s, n)) if s == status => *n += 1,
            _ => match self.by_status.iter().position(|(s, _)| s == status) {
                Some(i) => {
                    self.by_status[i].1 += 1;
                    self.last_status = i;
                }
                None => {
                    self.by_status.push((status.to_string(), 1));
                    self.last_status = self.by_status.len() - 1;
                }
            },
        }
        if let Some(d) = dur.filter(|d| d.is_finite()) {
            self.durations.push(d);
        }
        if let Some(b) = req {
            self.req_total += b;
            self.req_max = Some(self.req_max.map_or(b, |m| m.max(b)));
        }
        if let Some(b) = resp {
            self.resp_total += b;
            self.resp_max = Some(self.resp_max.map_or(b, |m| m.max(b)));
        }
    }

    fn merge(&mut self, o: &Acc) {
        self.count += o.count;
        self.ok += o.ok;
        for (s, n) in &o.by_status {
            match self.by_status.iter_mut().find(|(k, _)| k == s) {
                Some((_, m)) => *m += n,
                None => self.by_status.push((s.clone(), *n)),
            }
        }
        self.durations.extend_from_slice(&o.durations);
        self.req_total += o.req_total;
        self.resp_total += o.resp_total;
        self.req_max = self.req_max.max(o.req_max);
        self.resp_max = self.resp_max.max(o.resp_max);
    }

    fn finish(mut self, key: String) -> CallStatsGroup {
        let n = self.durations.len();
        let rank = |d: &mut [f64], q: f64| -> Option<f64> {
            if d.is_empty() {
                return None;
            }
            let k = ((q * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1;
            let (_, v, _) = d.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            Some(*v)
        };
        let p50 = rank(&mut self.durations, 0.50);
        // After the first selection the upper part holds everything above the median.
        let p95 = if n > 1 {
            let k50 = ((0.50 * n as f64).ceil() as usize).clamp(1, n) - 1;
            let k95 = ((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1;
            if k95 > k50 {
                let upper = &mut self.durations[k50 + 1..];
                let (_, v, _) = upper.select_nth_unstable_by(k95 - k50 - 1, |a, b| a.total_cmp(b));
                Some(*v)
            } else {
                p50
            }
        } else {
            p50
        };
        let max = self.durations.iter().copied().reduce(f64::max);
        let mean = (n > 0).then(|| self.durations.iter().sum::<f64>() / n as f64);
        CallStatsGroup {
            key,
            count: self.count,
            ok: self.ok,
            errors: self.count - self.ok,
            by_status: self
                .by_status
                .into_iter()
                .fold(BTreeMap::new(), |mut m, (s, n)| {
                    *m.entry(s).or_insert(0) += n;
                    m
                }),
            duration_ms: DurationStats {
                p50,
                p95,
                max,
                mean,
            },
            request_bytes: ByteStats {
                total: self.req_total,
                max: self.req_max,
            },
            response_bytes: ByteStats {
                total: self.resp_total,
                max: self.resp_max,
            },
        }
    }
}

// --- search ------------------------------------------------------------------------------------

/// A query term: lower-case letters and digits, as the FTS tokenizer sees them.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    text: String,
    prefix: bool,
}

/// Splits text into the tokens the index uses (unicode letters and digits; everything else
/// separates), lower-cased.
fn tokens(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(move |t| {
            let start = t.as_ptr() as usize - text.as_ptr() as usize;
            (start, t.to_lowercase())
        })
}

fn query_terms(query: &str) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    for word in query.split_whitespace() {
        let prefix = word.ends_with('*');
        let toks: Vec<String> = tokens(word).map(|(_, t)| t).collect();
        let last = toks.len().saturating_sub(1);
        for (i, t) in toks.into_iter().enumerate() {
            let term = Term {
                text: t,
                prefix: prefix && i == last,
            };
            if !out.contains(&term) {
                out.push(term);
            }
        }
    }
    out
}

fn term_matches(term: &Term, token: &str) -> bool {
    if term.prefix {
        token.starts_with(&term.text)
    } else {
        token == term.text
    }
}

/// A snippet of at most ~240 characters around byte `at` of `line`.
fn snippet(line: &str, at: usize) -> String {
    const MAX: usize = 240;
    let (clean, at) = strip_escapes(line.trim_end_matches(['\r', '\n']), at);
    let line = clean.as_str();
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let mut start = at.saturating_sub(80);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + MAX).min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}{}{}",
        if start > 0 { "…" } else { "" },
        &line[start..end],
        if end < line.len() { "…" } else { "" }
    )
}

/// `line` without terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \\`)
/// and other control characters but tab, so snippets print safely; `at` is moved along.
fn strip_escapes(line: &str, at: usize) -> (String, usize) {
    if !line.bytes().any(|b| b < 0x20 && b != b'\t') {
        return (line.to_string(), at);
    }
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut new_at = None;
    let mut i = 0;
    while i < b.len() {
        if i >= at && new_at.is_none() {
            new_at = Some(out.len());
        }
        match b[i] {
            0x1b if b.get(i + 1) == Some(&b'[') => {
                i += 2;
                while i < b.len() && !(0x40..=0x7e).contains(&b[i]) {
                    i += 1;
                }
                i += 1;
            }
            0x1b if b.get(i + 1) == Some(&b']') => {
                i += 2;
                while i < b.len() && b[i] != 0x07 && !(b[i] == 0x1b && b.get(i + 1) == Some(&b'\\'))
                {
                    i += 1;
                }
                i += if b.get(i) == Some(&0x1b) { 2 } else { 1 };
            }
            c if c < 0x20 && c != b'\t' => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    let at = new_at.unwrap_or(out.len());
    // Only ASCII bytes were removed, so the rest is still UTF-8.
    (String::from_utf8_lossy(&out).into_owned(), at)
}

impl Index {
    /// Full-text search over prompts, outputs, transcripts and other run text. Every word must
    /// appear in a hit (a trailing `*` matches a prefix); hits are lines, most recently indexed first.
    /// Filters: workspace, run, iteration, phase.
    pub fn search(&self, query: &str, f: &Filter) -> Result<SearchResult, IndexError> {
        let terms = query_terms(query);
        if terms.is_empty() {
            return Err(IndexError::BadQuery(
                "the search has no words (letters or digits) in it".into(),
            ));
        }
        let limit = f.limit.unwrap_or(50).max(1);
        let fts = terms
            .iter()
            .map(|t| format!("\"{}\"{}", t.text, if t.prefix { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" AND ");
        let mut w = Where::default();
        w.add("chunks_fts MATCH {}", vec![Box::new(fts.clone())]);
        w.workspace("w.path", &f.workspace);
        if let Some(run) = &f.run {
            w.add("fl.run_id = {}", vec![Box::new(run.clone())]);
        }
        if let Some(n) = f.iteration {
            w.add("fl.iteration = {}", vec![Box::new(n)]);
        }
        if let Some(p) = &f.phase {
            w.add("fl.phase = {}", vec![Box::new(p.clone())]);
        }
        let from = "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
                    JOIN files fl ON fl.id = c.file_id JOIN workspaces w ON w.id = fl.workspace_id";
        let matching_chunks: i64 = self.conn.query_row(
            &format!("SELECT count(*) {from}{}", w.sql()),
            params_from_iter(w.args.iter()),
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT c.offset, c.len, c.first_line, fl.path, fl.run_id, fl.iteration, fl.phase,
                    fl.stream, w.path
             {from}{} ORDER BY chunks_fts.rowid DESC",
            w.sql()
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(w.args.iter()))?;
        let mut hits = Vec::new();
        let mut truncated = false;
        while let Some(r) = rows.next()? {
            if hits.len() >= limit {
                truncated = true;
                break;
            }
            let (offset, len, first_line): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let path: String = r.get(3)?;
            let Some(text) = read_range(&path, offset as u64, len as usize) else {
                continue;
            };
            let found = match_lines(&text, &terms, 3);
            for (line_idx, byte_in_chunk, at) in found {
                if hits.len() >= limit {
                    truncated = true;
                    break;
                }
                let line_text = text[byte_in_chunk..].lines().next().unwrap_or("");
                hits.push(SearchHit {
                    workspace: r.get(8)?,
                    file: path.clone(),
                    run_id: r.get(4)?,
                    iteration: r.get(5)?,
                    phase: r.get(6)?,
                    stream: r.get(7)?,
                    line: first_line + line_idx as i64,
                    snippet: snippet(line_text, at),
                    byte_offset: offset + byte_in_chunk as i64,
                });
            }
        }
        Ok(SearchResult {
            query: query.to_string(),
            terms: terms
                .iter()
                .map(|t| format!("{}{}", t.text, if t.prefix { "*" } else { "" }))
                .collect(),
            matching_chunks,
            hits,
            truncated,
        })
    }
}

/// Reads `len` bytes at `offset` of a file (lossy UTF-8); `None` when the file is gone or shorter.
fn read_range(path: &str, offset: u64, len: usize) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return None,
        }
    }
    if got == 0 {
        return None;
    }
    buf.truncate(got);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Lines of a chunk that contain every term (up to `max`), else the first line with any term.
/// Each is (line index in chunk, byte offset of the line in chunk, byte offset of the match in the line).
fn match_lines(text: &str, terms: &[Term], max: usize) -> Vec<(usize, usize, usize)> {
    let mut all = Vec::new();
    let mut any = None;
    let mut pos = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        let mut found = vec![false; terms.len()];
        let mut first_at = None;
        for (at, tok) in tokens(line) {
            for (k, t) in terms.iter().enumerate() {
                if !found[k] && term_matches(t, &tok) {
                    found[k] = true;
                    first_at.get_or_insert(at);
                }
            }
        }
        if let Some(at) = first_at {
            if found.iter().all(|x| *x) {
                all.push((i, pos, at));
                if all.len() >= max {
                    break;
                }
            } else if any.is_none() {
                any = Some((i, pos, at));
            }
        }
        pos += line.len() + 1;
    }
    if all.is_empty() {
        any.into_iter().collect()
    } else {
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_follow_the_tokenizer() {
        let t = query_terms("Run_Probe  kernel* kernel*");
        assert_eq!(
            t,
            vec![
                Term {
                    text: "run".into(),
                    prefix: false
                },
                Term {
                    text: "probe".into(),
                    prefix: false
                },
                Term {
                    text: "kernel".into(),
                    prefix: true
                },
            ]
        );
        assert!(query_terms(" -- ").is_empty());
    }

    #[test]
    fn lines_with_all_terms_win() {
        let text = "alpha only\nbeta and alpha here\nnothing\nALPHA BETA again\n";
        let terms = query_terms("alpha beta");
        let m = match_lines(text, &terms, 3);
        assert_eq!(m.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 3]);
        let m = match_lines(text, &query_terms("alpha gamma"), 3);
        assert_eq!(m, vec![(0, 0, 0)]);
    }

    #[test]
    fn time_arguments() {
        assert_eq!(
            parse_time_arg("2026-11-25").unwrap(),
            parse_time_arg("2026-11-25T00:00:00Z").unwrap()
        );
        let ago = parse_time_arg("2h").unwrap();
        assert!((now_ms() - ago - 7_200_000).abs() < 5_000);
        assert!(parse_time_arg("yesterday").is_err());
    }

    #[test]
    fn long_lines_are_cut_around_the_match() {
        let line = format!("{}needle{}", "a ".repeat(300), " b".repeat(300));
        let s = snippet(&line, 600);
        assert!(s.contains("needle") && s.starts_with('…') && s.ends_with('…'));
        assert!(s.chars().count() <= 242);
    }
}

#[cfg(test)]
mod snippet_tests {
    use super::{snippet, strip_escapes};

    #[test]
    fn snippets_carry_no_terminal_escapes() {
        let line = "\u{1b}[1;31merror\u{1b}[0m: kernel \u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7} failed\r";
        assert_eq!(snippet(line, 0), "error: kernel link failed");
        let (clean, at) = strip_escapes(line, line.find("kernel").unwrap());
        assert_eq!(&clean[at..at + 6], "kernel");
    }
}
