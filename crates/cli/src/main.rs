//! `harnessgym`: the command-line shell over `harnessgym_core`. It parses, dispatches and reports;
//! the behaviour lives in the core.

mod progress;
mod run;

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
    }
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_string()
}

/// Prints one clear line and returns the usage exit code.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("harnessgym: error: {message} (see harnessgym run --help)");
    ExitCode::from(exit::USAGE)
}
