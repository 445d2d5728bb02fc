//! `harnessgym view WS…`: the desktop app's UI and API over HTTP on 127.0.0.1, for a browser
//! (a remote box over SSH, or UI tests). `POST /api` takes a `harnessgym_api::Request`;
//! `GET /api/events` is a server-sent event stream of `ApiEvent`s; everything else is the UI
//! embedded at build time. The shell only moves bytes: every answer comes from `harnessgym_api`.

use crate::exit;
use crate::http::{self, Reply};
use clap::Args;
use harnessgym_api::{Api, ApiError, ApiOptions, Request, Subscription};
use harnessgym_index::{default_db_path, WatchOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Workspaces, compare directories, or directories holding them.
    #[arg(required = true, value_name = "WS")]
    paths: Vec<PathBuf>,
    /// Index database (default: $HARNESSGYM_DB, else index.sqlite3 in the per-user data directory).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 4747)]
    port: u16,
    /// Serve the UI from this directory instead of the copy built into the binary.
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
}

pub fn main(args: ViewArgs) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("harnessgym view: {e}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn serve(args: ViewArgs) -> anyhow::Result<()> {
    if args.ui_dir.is_none() && assets::ASSETS.is_empty() {
        eprintln!(
            "harnessgym view: this binary was built without the UI; run `npm ci && npm run build` \
             and rebuild, or pass --ui-dir ui/dist (the API is served anyway)"
        );
    }
    // The port first: a busy one fails at once, before any indexing.
    let listener = TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another `harnessgym view`? pass --port 0 for a free port)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}{hint}", args.port)
    })?;
    let port = listener.local_addr()?.port();
    let db = match args.db {
        Some(p) => p,
        None => default_db_path()?,
    };
    eprintln!(
        "opening {} workspace(s) with the index {}; the page shows the first index pass's progress",
        args.paths.len(),
        db.display()
    );
    let api = Api::open(ApiOptions {
        db,
        state_file: None,
        workspaces: args.paths,
        shell: "browser".into(),
        watch: WatchOptions::default(),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(first) = api.problems().first() {
        anyhow::bail!("{first}");
    }
    let api = Arc::new(api);
    // The first stdout line is the address (scripts and tests read it).
    println!("http://127.0.0.1:{port}/");
    eprintln!(
        "serving the HarnessGym UI on http://127.0.0.1:{port}/ (Ctrl-C to stop); from another \
         machine: ssh -L {port}:127.0.0.1:{port} THIS_HOST, then open that address"
    );
    let ui_dir = args.ui_dir;
    http::serve(
        listener,
        Arc::new(move |req: &http::Request| handle(req, &api, port, ui_dir.as_ref())),
    );
    Ok(())
}

fn handle(req: &http::Request, api: &Arc<Api>, port: u16, ui_dir: Option<&PathBuf>) -> Reply {
    // Only pages we served may call the API: the Host must be ours (no DNS rebinding) and
    // POSTs must be JSON (a cross-site form cannot send that without a CORS preflight).
    let host_ok = req
        .header("Host")
        .is_some_and(|h| h == format!("127.0.0.1:{port}") || h == format!("localhost:{port}"));
    if !host_ok {
        return error(403, "forbidden", "unexpected Host header");
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api") => {
            let json_ct = req
                .header("Content-Type")
                .is_some_and(|c| c.starts_with("application/json"));
            if json_ct {
                answer(api, &req.body)
            } else {
                error(415, "bad_request", "the API takes application/json")
            }
        }
        ("GET", "/api/events") => {
            let sub = api.subscribe();
            Reply::Stream(Box::new(move |out| events(sub, out)))
        }
        ("GET", path) => asset(path, ui_dir),
        _ => error(405, "bad_request", "method not allowed"),
    }
}

fn answer(api: &Api, body: &[u8]) -> Reply {
    let request: Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return error(400, "bad_request", &format!("invalid request: {e}")),
    };
    match api.handle(request) {
        Ok(text) => Reply::Body {
            status: 200,
            content_type: "application/json",
            cache: "no-store",
            body: text.into_bytes(),
        },
        Err(e) => {
            let status = match e {
                ApiError::NotFound(_) => 404,
                ApiError::Forbidden(_) => 403,
                ApiError::BadRequest(_) => 400,
                ApiError::Internal(_) => 500,
            };
            json(status, &e.body())
        }
    }
}

/// Server-sent events until the client goes; a comment every 15 s finds closed clients.
fn events(sub: Subscription, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(b": connected\n\n")?;
    out.flush()?;
    loop {
        let chunk = match sub.next(Duration::from_secs(15)) {
            Ok(Some(ev)) => {
                let mut line = b"data: ".to_vec();
                serde_json::to_writer(&mut line, &ev).map_err(std::io::Error::other)?;
                line.extend_from_slice(b"\n\n");
                line
            }
            Ok(None) => b": ping\n\n".to_vec(),
            Err(()) => return Ok(()),
        };
        out.write_all(&chunk)?;
        out.flush()?;
    }
}

fn asset(path: &str, ui_dir: Option<&PathBuf>) -> Reply {
    let rel = match path.trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    if rel.split('/').any(|c| c == ".." || c.is_empty()) {
        return error(404, "not_found", "no such file");
    }
    let bytes = match ui_dir {
        Some(dir) => std::fs::read(dir.join(rel)).ok(),
        None => assets::ASSETS
            .iter()
            .find(|(name, _)| *name == rel)
            .map(|(_, b)| b.to_vec()),
    };
    let Some(body) = bytes else {
        if rel == "index.html" {
            return error(
                503,
                "not_found",
                "the UI is not built: run `npm ci && npm run build`, then rebuild harnessgym",
            );
        }
        return error(404, "not_found", "no such file");
    };
    Reply::Body {
        status: 200,
        content_type: mime(rel),
        cache: if rel == "index.html" {
            "no-cache"
        } else {
            "max-age=3600"
        },
        body,
    }
}

fn mime(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn json(status: u16, v: &impl serde::Serialize) -> Reply {
    Reply::Body {
        status,
        content_type: "application/json",
        cache: "no-store",
        body: serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()),
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    json(
        status,
        &harnessgym_api::ApiErrorBody {
            kind: kind.into(),
            message: message.into(),
        },
    )
}
