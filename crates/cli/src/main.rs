//! `harnessgym`: the command-line shell over `harnessgym_core`. It parses, dispatches and reports;
//! the behaviour lives in the core.

mod compare_cmd;
mod http;
mod index_cmd;
mod mcp_cmd;
mod progress;
mod run;
mod view_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes of `harnessgym run`.
pub mod exit {
    pub const SOLVED: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_SOLVED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser)]
#[command(
    name = "harnessgym",
    version,
    about = "Iterative harness improvement for coding agents."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the attempt → reflection → build loop on a task.
    Run(Box<run::RunArgs>),
    /// Run plain vs harnessed trials (interleaved, N at a time) and write compare_report.json.
    Compare(Box<compare_cmd::CompareArgs>),
    /// Index workspaces (runs, iterations, phases, artifacts, MCP calls, text) into SQLite.
    Index(index_cmd::IndexArgs),
    /// Index workspaces, then keep the index live and log what changes.
    Watch(index_cmd::WatchArgs),
    /// List runs, iterations, calls or errors from the index, or call statistics.
    Query(index_cmd::QueryArgs),
    /// Full-text search over prompts, outputs and transcripts in the index.
    Search(index_cmd::SearchArgs),
    /// Relay MCP between a client (newline-delimited JSON on stdio) and a wrapped server,
    /// logging each tools/call.
    McpProxy(mcp_cmd::McpProxyArgs),
    /// Call a tool (or list the tools) of an active MCP server of a workspace, logged.
    McpCall(mcp_cmd::McpCallArgs),
    /// Serve the app's UI and API to a browser on 127.0.0.1 (live, like the desktop app).
    View(view_cmd::ViewArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = err.print();
                return ExitCode::from(
                    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::USAGE
                    } else {
                        0
                    },
                );
            }
            return usage_error(&first_line(&err.render().to_string()));
        }
    };
    match cli.command {
        Command::Run(args) => run::main(*args),
        Command::Compare(args) => compare_cmd::main(*args),
        Command::Index(args) => index_cmd::index_main(args),
        Command::Watch(args) => index_cmd::watch_main(args),
        Command::Query(args) => index_cmd::query_main(args),
        Command::Search(args) => index_cmd::search_main(args),
        Command::McpProxy(args) => mcp_cmd::proxy_main(args),
        Command::McpCall(args) => mcp_cmd::call_main(args),
        Command::View(args) => view_cmd::main(args),
    }
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_string()
}

/// Prints one clear line, pointing at the help of the subcommand used, and returns the usage
/// exit code.
pub fn usage_error(message: &str) -> ExitCode {
    use clap::CommandFactory;
    let sub = std::env::args()
        .nth(1)
        .filter(|a| Cli::command().get_subcommands().any(|c| c.get_name() == a))
        .map(|a| format!("{a} "))
        .unwrap_or_default();
    eprintln!("harnessgym: error: {message} (see harnessgym {sub}--help)");
    ExitCode::from(exit::USAGE)
}
