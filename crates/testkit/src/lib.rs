//! Test-only tooling for HarnessGym (not a dependency of the product crates).
//!
//! * The `hg-mock-model` binary ([`server`]): a scripted mock model server on 127.0.0.1
//!   speaking the Anthropic Messages and OpenAI Responses APIs over SSE, which the real
//!   `claude` and `codex` CLIs talk to. `hg-mock-model --script FILE --log FILE [--port N]
//!   [--dump-bodies DIR]` prints exactly `listening on 127.0.0.1:<port>` and serves until
//!   killed.
//! * The `hg-mock-mcp` binary: a minimal stdio MCP server (tools `record` and `add`) that logs
//!   each `tools/call` as a JSON line: `hg-mock-mcp --log FILE [--init-delay-ms N]`.
//! * [`script`]: the script format and the stateless step rule.
//! * [`mock::MockServer`]: starts `hg-mock-model` for a test, reads its log, and gives the exact
//!   environment / flags that point each client at it.
//! * [`clients::ensure_installed`]: installs the pinned real clients from npm once per target
//!   directory.
//!
//! ```ignore
//! use harnessgym_testkit::{clients, mock::MockServer};
//! let c = clients::ensure_installed();
//! let mock = MockServer::start_json(dir, &serde_json::json!({"rules": [
//!     {"when_prompt_contains": "", "steps": [{"shell": "touch {workspace}/x"}, {"text": "Done."}]}]}));
//! // Claude: env_clear() + this env; prompt on stdin; as root IS_SANDBOX=1 is included.
//! Command::new(&c.claude)
//!     .args(["-p", "--output-format", "stream-json", "--verbose",
//!            "--permission-mode", "bypassPermissions"])
//!     .env_clear().envs(mock.env_for_claude(&home)) /* … */;
//! // Codex: the overrides go after `exec` (or `exec resume`).
//! let (overrides, env) = mock.codex_args_and_env(&codex_home);
//! Command::new(&c.codex)
//!     .args(["exec", "--json", "--skip-git-repo-check",
//!            "--dangerously-bypass-approvals-and-sandbox"])
//!     .args(&overrides).arg("-")
//!     .env_clear().envs(env) /* … */;
//! let log = mock.requests(); // one JSON value per request
//! ```

pub mod clients;
mod http;
pub mod mock;
pub mod pyref;
pub mod script;
pub mod server;
