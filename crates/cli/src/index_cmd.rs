//! `harnessgym index`, `watch`, `query` and `search`: thin shells over `harnessgym_index`.

use crate::exit;
use clap::{Args, Subcommand, ValueEnum};
use harnessgym_index::{
    default_db_path, parse_time_arg, ChangeEvent, Filter, GroupBy, Index, IndexError, IndexReport,
    Progress, WatchEvent, WatchOptions, Watcher,
};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the index database is.
#[derive(Args, Debug, Clone)]
pub struct DbArg {
    /// Index database (default: $HARNESSGYM_DB, else index.sqlite3 in the per-user data directory).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

impl DbArg {
    fn path(&self) -> Result<PathBuf, IndexError> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => default_db_path(),
        }
    }
    fn open(&self) -> Result<Index, IndexError> {
        Index::open(self.path()?)
    }
}

/// `harnessgym index WS…`
#[derive(Args, Debug)]
pub struct IndexArgs {
    /// Workspaces, `.harnessgym` directories, compare output directories, or directories holding them.
    #[arg(required = true, value_name = "WS")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArg,
    /// Print the report as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

/// `harnessgym watch WS…`
#[derive(Args, Debug)]
pub struct WatchArgs {
    #[arg(required = true, value_name = "WS")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArg,
    /// One JSON object per line for every report and change.
    #[arg(long)]
    json: bool,
    /// Quiet time (milliseconds) before a burst of file changes is indexed.
    #[arg(long, default_value_t = 50)]
    debounce_ms: u64,
}

/// Filters shared by the queries and search.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// A workspace (or a directory holding workspaces).
    #[arg(long)]
    workspace: Option<String>,
    /// A run id.
    #[arg(long)]
    run: Option<String>,
    #[arg(long)]
    iteration: Option<i64>,
    /// runs: state or final status; iterations: status; calls: status as written, or
    /// success/failure; errors: kind.
    #[arg(long)]
    status: Option<String>,
    /// calls, call-stats: tool name.
    #[arg(long)]
    tool: Option<String>,
    /// calls, call-stats: server name.
    #[arg(long)]
    server: Option<String>,
    /// calls: phase; search: phase of the file.
    #[arg(long)]
    phase: Option<String>,
    /// From this time on: 2026-11-25, 2026-11-25T12:00:00Z, or an age like 30m, 2h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// At most this many rows.
    #[arg(long)]
    limit: Option<usize>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter, IndexError> {
        Ok(Filter {
            workspace: self.workspace.clone(),
            run: self.run.clone(),
            iteration: self.iteration,
            status: self.status.clone(),
            tool: self.tool.clone(),
            server: self.server.clone(),
            phase: self.phase.clone(),
            since_ms: self.since.as_deref().map(parse_time_arg).transpose()?,
            until_ms: self.until.as_deref().map(parse_time_arg).transpose()?,
            limit: self.limit,
        })
    }
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON (an array of rows).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GroupByArg {
    Tool,
    Server,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    filter: FilterArgs,
    #[arg(long, value_enum, default_value = "tool")]
    group_by: GroupByArg,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum QueryWhat {
    /// Runs, newest first, with their state (running/finished/interrupted/error).
    Runs(ListArgs),
    /// Iterations with status, phases and phase files.
    Iterations(ListArgs),
    /// MCP tool calls, newest first.
    Calls(ListArgs),
    /// Problems found while indexing (damaged files, empty iterations, …).
    Errors(ListArgs),
    /// Call count, errors by status, duration p50/p95/max and bytes, per tool or server.
    CallStats(StatsArgs),
}

/// `harnessgym query …`
#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(subcommand)]
    what: QueryWhat,
}

/// `harnessgym search "words"`
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Words that must all appear (a trailing * matches a prefix).
    #[arg(required = true, value_name = "WORDS")]
    words: Vec<String>,
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    filter: FilterArgs,
    #[arg(long)]
    json: bool,
}

fn fail(e: &IndexError) -> ExitCode {
    eprintln!("harnessgym: error: {e}");
    ExitCode::from(match e {
        IndexError::BadQuery(_) | IndexError::NotFound(_) => exit::USAGE,
        _ => exit::ERROR,
    })
}

fn print_json<T: Serialize>(value: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
struct Bar {
    tty: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }
    fn update(&mut self, p: Progress) {
        if p.files_total == 0 {
            return;
        }
        let frac = p.fraction.clamp(0.0, 1.0);
        let text = format!(
            "{:3.0}% · {}/{} workspaces · {} files · {} · {:.1}s",
            frac * 100.0,
            p.targets_done,
            p.targets_total,
            p.files_done,
            mb(p.bytes_done),
            self.started.elapsed().as_secs_f64()
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            // Only draw once the work is long enough to be worth a bar.
            if self.started.elapsed() < Duration::from_millis(300) && !self.drawn {
                return;
            }
            let width = 30;
            let full = (frac * width as f64) as usize;
            let _ = write!(
                err,
                "\r\x1b[2Kindexing [{}{}] {text}",
                "#".repeat(full),
                " ".repeat(width - full)
            );
            self.drawn = true;
        } else if self
            .last
            .is_none_or(|t| t.elapsed() > Duration::from_secs(2))
            && self.started.elapsed() > Duration::from_secs(2)
        {
            let _ = writeln!(err, "indexing: {text}");
            self.last = Some(Instant::now());
        }
    }
    fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

fn describe(r: &IndexReport) -> String {
    let mut s = format!(
        "indexed {} workspace(s): {} runs, {} iterations, {} MCP calls, {} text chunks, {} problem(s) ({} new)\n\
         {} files seen: {} read ({}), {} unchanged, {} removed, in {:.2}s",
        r.workspaces.len(),
        r.runs,
        r.iterations,
        r.calls,
        r.chunks,
        r.errors,
        r.new_errors,
        r.files_seen,
        r.files_indexed,
        mb(r.bytes_read),
        r.files_unchanged,
        r.files_removed,
        r.seconds
    );
    for m in &r.missing_workspaces {
        s.push_str(&format!("\ngone (its rows were removed): {m}"));
    }
    s
}

pub fn index_main(args: IndexArgs) -> ExitCode {
    let mut index = match args.db.open() {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let mut bar = Bar::new();
    let outcome = index.index_paths(&args.paths, &mut |p| bar.update(p));
    bar.finish();
    match outcome {
        Ok(out) => {
            if args.json {
                print_json(&out.report);
            } else {
                println!("{}", describe(&out.report));
                if out.report.errors > 0 {
                    println!("see them with: harnessgym query errors");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn change_line(e: &ChangeEvent) -> String {
    let what = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let action = serde_json::to_value(e.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut s = format!("{what} {action}: {}", e.workspace);
    if let Some(r) = &e.run_id {
        s.push_str(&format!(" run {r}"));
    }
    if let Some(i) = e.iteration {
        s.push_str(&format!(" iteration {i}"));
    }
    if let Some(n) = e.calls_added {
        s.push_str(&format!(" (+{n} calls)"));
    }
    s
}

pub fn watch_main(args: WatchArgs) -> ExitCode {
    let db = match args.db.path() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let json = args.json;
    // Long passes (the first one, rescans) draw the same progress as `index`, on stderr; a
    // bar (and its clock) per pass.
    let mut bar: Option<Bar> = None;
    let sink = move |ev: WatchEvent| {
        match &ev {
            WatchEvent::Progress(p) => return bar.get_or_insert_with(Bar::new).update(*p),
            WatchEvent::Indexed(_) | WatchEvent::PassFailed(_) => {
                if let Some(mut b) = bar.take() {
                    b.finish();
                }
            }
            _ => {}
        }
        let mut out = std::io::stdout().lock();
        let time = chrono_now();
        let _ = match (&ev, json) {
            (WatchEvent::Change(c), true) => writeln!(
                out,
                "{}",
                serde_json::json!({"event": "change", "at": time, "change": c})
            ),
            (WatchEvent::Indexed(r), true) => writeln!(
                out,
                "{}",
                serde_json::json!({"event": "indexed", "at": time, "report": r})
            ),
            (WatchEvent::Error(m) | WatchEvent::PassFailed(m), true) => writeln!(
                out,
                "{}",
                serde_json::json!({"event": "error", "at": time, "message": m})
            ),
            (WatchEvent::Change(c), false) => writeln!(out, "{time} {}", change_line(c)),
            (WatchEvent::Indexed(r), false) => {
                writeln!(out, "{time} {}", describe(r).replace('\n', "; "))
            }
            (WatchEvent::Error(m) | WatchEvent::PassFailed(m), false) => {
                writeln!(out, "{time} problem: {m}")
            }
            (WatchEvent::Progress(_), _) => Ok(()),
        };
        let _ = out.flush();
    };
    let options = WatchOptions {
        debounce: Duration::from_millis(args.debounce_ms.max(1)),
        ..WatchOptions::default()
    };
    let watcher = match Watcher::start(&db, &args.paths, options, sink) {
        Ok(w) => w,
        Err(e) => return fail(&e),
    };
    if !json {
        eprintln!("watching (Ctrl-C to stop); index: {}", db.display());
    }
    while !stop.load(Ordering::Relaxed) && watcher.is_running() {
        std::thread::sleep(Duration::from_millis(100));
    }
    match watcher.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), |x| x.to_string())
}

pub fn query_main(args: QueryArgs) -> ExitCode {
    let result = match args.what {
        QueryWhat::Runs(a) => list(
            &a,
            |i, f| i.runs(f),
            |r| {
                format!(
                    "{}  {:<11} {:<13} iter {}/{}  score {}  {}",
                    r.run_id,
                    r.state,
                    opt(&r.final_status),
                    r.iteration_count,
                    opt(&r.iterations_planned),
                    opt(&r.best_score),
                    r.workspace
                )
            },
        ),
        QueryWhat::Iterations(a) => list(
            &a,
            |i, f| i.iterations(f),
            |r| {
                let phases: Vec<String> = r
                    .phases
                    .iter()
                    .map(|p| format!("{}={}", p.phase, opt(&p.status)))
                    .collect();
                format!(
                    "{} #{}  {:<13} verified {}  score {}  {}",
                    r.run_id,
                    r.iteration,
                    opt(&r.status),
                    opt(&r.verified),
                    opt(&r.score),
                    phases.join(" ")
                )
            },
        ),
        QueryWhat::Calls(a) => list(
            &a,
            |i, f| i.calls(f),
            |c| {
                format!(
                    "{}  {}/{}  {:<14} {} ms  {}→{} B  run {} #{} {}",
                    opt(&c.created_at),
                    opt(&c.server),
                    opt(&c.tool),
                    opt(&c.status),
                    opt(&c.duration_ms),
                    opt(&c.request_bytes),
                    opt(&c.response_bytes),
                    opt(&c.run_id),
                    opt(&c.iteration),
                    opt(&c.phase)
                )
            },
        ),
        QueryWhat::Errors(a) => list(
            &a,
            |i, f| i.errors(f),
            |e| {
                let at = match (e.line, e.byte_offset) {
                    (Some(l), _) => format!(":{l}"),
                    (None, Some(o)) => format!(" @{o}"),
                    _ => String::new(),
                };
                format!("{}{at}: {}: {}", e.path, e.kind, e.message)
            },
        ),
        QueryWhat::CallStats(a) => stats(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn list<T: Serialize>(
    a: &ListArgs,
    fetch: impl Fn(&Index, &Filter) -> Result<Vec<T>, IndexError>,
    line: impl Fn(&T) -> String,
) -> Result<(), IndexError> {
    let filter = a.filter.filter()?;
    let index = a.db.open()?;
    let rows = fetch(&index, &filter)?;
    if a.json {
        print_json(&rows);
    } else {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        if rows.is_empty() {
            let _ = writeln!(out, "(nothing)");
        }
    }
    Ok(())
}

fn stats(a: &StatsArgs) -> Result<(), IndexError> {
    let filter = a.filter.filter()?;
    let index = a.db.open()?;
    let group = match a.group_by {
        GroupByArg::Tool => GroupBy::Tool,
        GroupByArg::Server => GroupBy::Server,
    };
    let s = index.call_stats(&filter, group)?;
    if a.json {
        print_json(&s);
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>7} {:>9} {:>9} {:>9} {:>12} {:>12}",
            s.group_by, "calls", "errors", "p50 ms", "p95 ms", "max ms", "req bytes", "resp bytes"
        );
        for g in s.groups.iter().chain(std::iter::once(&s.total)) {
            let _ = writeln!(
                out,
                "{:<32} {:>8} {:>7} {:>9} {:>9} {:>9} {:>12} {:>12}",
                if g.key.is_empty() { "(none)" } else { &g.key },
                g.count,
                g.errors,
                opt(&g.duration_ms.p50),
                opt(&g.duration_ms.p95),
                opt(&g.duration_ms.max),
                g.request_bytes.total,
                g.response_bytes.total
            );
        }
    }
    Ok(())
}

pub fn search_main(a: SearchArgs) -> ExitCode {
    let run = || -> Result<(), IndexError> {
        let filter = a.filter.filter()?;
        let index = a.db.open()?;
        let res = index.search(&a.words.join(" "), &filter)?;
        if a.json {
            print_json(&res);
        } else {
            let mut out = std::io::stdout().lock();
            for h in &res.hits {
                let _ = writeln!(out, "{}:{}: {}", h.file, h.line, h.snippet);
            }
            let _ = writeln!(
                out,
                "{} hit(s){} in {} matching chunk(s)",
                res.hits.len(),
                if res.truncated {
                    " (more with --limit)"
                } else {
                    ""
                },
                res.matching_chunks
            );
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
