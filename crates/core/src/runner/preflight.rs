//! Preflight: a missing agent binary or an agent with no usable credentials fails the run at once
//! with one clear sentence, instead of wasting iterations (or retrying forever, as Codex does).

use super::process::{self, ProcessSpec};
use crate::cancel::CancelToken;
use crate::config::RunConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What preflight found: an error stops the run; warnings are printed.
#[derive(Debug, Default)]
pub struct Preflight {
    pub warnings: Vec<String>,
}

/// Checks the configured runner's binary and credentials.
pub fn check(config: &RunConfig) -> Result<Preflight, String> {
    let mut report = Preflight::default();
    match config.runner.as_str() {
        "exec" | "tui-goal" => {
            let bin = find_binary(&config.codex_bin).ok_or_else(|| {
                format!(
                    "Codex CLI not found: {:?} is not an executable file or on PATH; install it with \
                     `npm install -g @openai/codex` or pass --codex-bin PATH",
                    config.codex_bin
                )
            })?;
            if let Some(home) = std::env::var_os("CODEX_HOME").map(PathBuf::from) {
                if home.starts_with("/tmp") {
                    report.warnings.push(format!(
                        "CODEX_HOME={} is under /tmp, where Codex's sandbox helper cannot run and every command fails",
                        home.display()
                    ));
                }
            }
            let logged_in =
                capture(&bin, &["login", "status"]).is_some_and(|(code, _)| code == Some(0));
            let provider = config
                .codex_extra_args
                .iter()
                .any(|a| a.contains("model_provider="))
                || codex_config_has_provider();
            let key = ["OPENAI_API_KEY", "CODEX_API_KEY"]
                .iter()
                .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
            if !(logged_in || provider || key) {
                return Err("Codex has no usable credentials: `codex login status` says not logged in, and neither \
                            OPENAI_API_KEY nor a custom model_provider is configured; run `codex login` first"
                    .into());
            }
        }
        "claude" => {
            let bin = find_binary(&config.claude_bin).ok_or_else(|| {
                format!(
                    "Claude Code CLI not found: {:?} is not an executable file or on PATH; install it with \
                     `npm install -g @anthropic-ai/claude-code` or pass --claude-bin PATH",
                    config.claude_bin
                )
            })?;
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            if root
                && config.claude_permission_mode == "bypassPermissions"
                && std::env::var_os("IS_SANDBOX").is_none()
            {
                return Err("Claude Code refuses --permission-mode bypassPermissions as root; if this machine is a sandbox, \
                            set IS_SANDBOX=1, or pass another --claude-permission-mode"
                    .into());
            }
            let logged_in = capture(&bin, &["auth", "status"]).is_some_and(|(code, out)| {
                code == Some(0)
                    && !out.contains("\"loggedIn\": false")
                    && !out.contains("\"loggedIn\":false")
            });
            let key = [
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_USE_BEDROCK",
                "CLAUDE_CODE_USE_VERTEX",
                "CLAUDE_CODE_OAUTH_TOKEN",
            ]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
            if !(logged_in || key) {
                return Err("Claude Code has no usable credentials: `claude auth status` says not logged in, and \
                            ANTHROPIC_API_KEY is not set; run `claude auth login` or set ANTHROPIC_API_KEY"
                    .into());
            }
        }
        _ => {}
    }
    Ok(report)
}

/// The executable for `bin`: a path as given, or the first match on PATH.
pub fn find_binary(bin: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if bin.contains('/') {
        let p = PathBuf::from(bin);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(bin))
        .find(|p| executable(p))
}

fn codex_config_has_provider() -> bool {
    let home = std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")));
    home.and_then(|h| std::fs::read_to_string(h.join("config.toml")).ok())
        .is_some_and(|text| {
            text.lines()
                .any(|l| l.trim_start().starts_with("model_provider"))
        })
}

/// Runs a short status command under supervision; `None` if it could not run.
fn capture(bin: &Path, args: &[&str]) -> Option<(Option<i32>, String)> {
    let dir = std::env::temp_dir().join(format!("harnessgym-preflight-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let spec = ProcessSpec::new(bin.as_os_str().to_owned(), std::env::temp_dir(), &out, &err)
        .args(args.iter().map(|a| a.to_string()))
        .timeout(Duration::from_secs(20))
        .grace(Duration::from_secs(1));
    let outcome = process::run(&spec, &CancelToken::new()).ok();
    let text = process::read_lossy(&out, 64 * 1024);
    let _ = std::fs::remove_dir_all(&dir);
    outcome.map(|o| (o.exit_code, text))
}
