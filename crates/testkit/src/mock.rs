//! [`MockServer`]: runs `hg-mock-model` for a test and says how to point each client at it.

use crate::script::Script;
use crate::server;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The dummy key handed to Claude Code (`ANTHROPIC_API_KEY`).
pub const ANTHROPIC_KEY: &str = "mock-anthropic-key";
/// The dummy key handed to Codex (`MOCK_API_KEY`, via `model_providers.mock.env_key`).
pub const OPENAI_KEY: &str = "mock-openai-key";
/// The model slug passed to Codex: unknown to Codex, so "code mode" stays off and the request
/// has ordinary top-level `tools` (the mock handles code mode too; see [`crate::server`]).
pub const CODEX_MODEL: &str = "mock-model";

enum Backend {
    Process(Child),
    InProcess(Arc<AtomicBool>),
    Stopped,
}

/// A running mock model server on `127.0.0.1:port`. Stopped (the process killed) on drop.
pub struct MockServer {
    pub port: u16,
    /// The JSON-lines request log (see [`crate::server`] for the fields).
    pub log_path: PathBuf,
    pub script_path: PathBuf,
    backend: Backend,
}

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Where `hg-mock-model` is: `$HG_MOCK_MODEL_BIN`, else beside the running test binary
/// (`<target>/<profile>/hg-mock-model`, the test binary being in `<target>/<profile>/deps`).
pub fn locate_binary() -> Option<PathBuf> {
    locate("HG_MOCK_MODEL_BIN", "hg-mock-model")
}

/// Where `hg-mock-mcp` is: `$HG_MOCK_MCP_BIN`, else beside the running test binary. Only
/// there if the testkit's binaries were built (`cargo test --workspace`, or
/// `cargo build -p harnessgym_testkit`).
pub fn locate_mcp_binary() -> Option<PathBuf> {
    locate("HG_MOCK_MCP_BIN", "hg-mock-mcp")
}

fn locate(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

fn default_log_path(script: &Path) -> PathBuf {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "script".into());
    let n = SERIAL.fetch_add(1, Ordering::SeqCst);
    script.with_file_name(format!("{name}.requests-{}-{n}.jsonl", std::process::id()))
}

impl MockServer {
    /// Starts the `hg-mock-model` binary found by [`locate_binary`] on a free port, logging
    /// beside the script (`<script>.requests-<pid>-<n>.jsonl`). If the binary is not built
    /// (e.g. `cargo test -p` of another crate), the same server runs in-process instead.
    /// Panics if the script is invalid or the server cannot start.
    pub fn start(script: &Path) -> MockServer {
        let log = default_log_path(script);
        match locate_binary() {
            Some(bin) => MockServer::start_binary(&bin, script, &log),
            None => {
                eprintln!(
                    "harnessgym_testkit: hg-mock-model not found beside the test binary; \
                     serving in-process (build it with `cargo build -p harnessgym_testkit`)"
                );
                MockServer::start_in_process(script, &log)
            }
        }
    }

    /// Writes `script` to `<dir>/mock-script-<n>.json` and starts the server on it.
    pub fn start_json(dir: &Path, script: &Value) -> MockServer {
        let n = SERIAL.fetch_add(1, Ordering::SeqCst);
        let path = dir.join(format!("mock-script-{n}.json"));
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(script).expect("script JSON"),
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        MockServer::start(&path)
    }

    /// Spawns `bin --script script --log log --port 0` and waits for its `listening on` line.
    pub fn start_binary(bin: &Path, script: &Path, log: &Path) -> MockServer {
        let mut child = Command::new(bin)
            .arg("--script")
            .arg(script)
            .arg("--log")
            .arg(log)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "hg-mock-model did not start (first line {line:?}, status {status:?}); \
                 script {}",
                script.display()
            );
        };
        MockServer {
            port,
            log_path: log.to_path_buf(),
            script_path: script.to_path_buf(),
            backend: Backend::Process(child),
        }
    }

    /// Runs the server on a thread of this process (same code as the binary).
    pub fn start_in_process(script: &Path, log: &Path) -> MockServer {
        let parsed = Script::load(script).unwrap_or_else(|e| panic!("{e}"));
        let listener = server::bind(0).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let stop = Arc::new(AtomicBool::new(false));
        let config = server::Config {
            script: parsed,
            log_path: log.to_path_buf(),
            dump_dir: None,
        };
        let stop2 = Arc::clone(&stop);
        std::thread::spawn(move || server::serve(listener, config, stop2));
        MockServer {
            port,
            log_path: log.to_path_buf(),
            script_path: script.to_path_buf(),
            backend: Backend::InProcess(stop),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every logged request so far, oldest first. Each line is written before the request is
    /// answered, so once a client has exited its requests are all here.
    pub fn requests(&self) -> Vec<Value> {
        server::read_log(&self.log_path)
    }

    /// The logged requests that were answered as model calls (not refused).
    pub fn model_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["refused"] != Value::Bool(true))
            .collect()
    }

    /// The logged requests that were refused (CONNECT, foreign hosts, other paths).
    pub fn refused_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["refused"] == Value::Bool(true))
            .collect()
    }

    fn proxy_env(&self) -> Vec<(String, String)> {
        let proxy = self.base_url();
        let mut env = Vec::new();
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            env.push((k.to_string(), proxy.clone()));
            env.push((k.to_ascii_lowercase(), proxy.clone()));
        }
        // Loopback goes direct (to the mock itself); everything else hits the mock as a proxy,
        // which refuses and logs it.
        for k in ["NO_PROXY", "no_proxy"] {
            env.push((k.to_string(), "127.0.0.1,localhost,::1".to_string()));
        }
        env
    }

    /// The complete environment for `claude` (use with `Command::env_clear()`): `PATH` (this
    /// process's), `HOME=home`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`,
    /// `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, `CLAUDE_CODE_MAX_RETRIES=2`,
    /// `IS_SANDBOX=1` when running as root, and the proxy variables (upper and lower case)
    /// pointing at the mock with `NO_PROXY=127.0.0.1,localhost,::1`.
    ///
    /// Run `claude` from the same cwd with the same `home` to `--resume` a session.
    pub fn env_for_claude(&self, home: &Path) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), home.display().to_string()),
            ("ANTHROPIC_BASE_URL".to_string(), self.base_url()),
            ("ANTHROPIC_API_KEY".to_string(), ANTHROPIC_KEY.to_string()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_string(),
                "1".to_string(),
            ),
            ("CLAUDE_CODE_MAX_RETRIES".to_string(), "2".to_string()),
        ];
        if is_root() {
            env.push(("IS_SANDBOX".to_string(), "1".to_string()));
        }
        env.extend(self.proxy_env());
        env
    }

    /// Arguments to put right after `codex exec` or `codex exec resume`, and the complete
    /// environment for `codex` (use with `Command::env_clear()`).
    ///
    /// Args: the `mock` Responses provider (`-c model_provider=mock`,
    /// `model_providers.mock.{name,base_url,env_key=MOCK_API_KEY,wire_api=responses}`),
    /// `-m mock-model`, `-c check_for_update_on_startup=false`, `-c analytics.enabled=false`,
    /// `--disable plugins --disable apps --disable remote_plugin --disable
    /// unbounded_connection_retries`.
    ///
    /// Env: `PATH` (this process's; the `codex` launcher needs `node`), `HOME` and `CODEX_HOME`
    /// = `codex_home` (created if missing), `MOCK_API_KEY`, and the proxy variables as for
    /// Claude. Keep `codex_home` out of `/tmp`: Codex refuses to create its helper binaries
    /// there, which breaks its sandbox (`-s workspace-write`); a warning is printed if it is.
    pub fn codex_args_and_env(&self, codex_home: &Path) -> (Vec<String>, Vec<(String, String)>) {
        std::fs::create_dir_all(codex_home)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", codex_home.display()));
        if codex_home.starts_with("/tmp") {
            eprintln!(
                "harnessgym_testkit: warning: CODEX_HOME {} is under /tmp; Codex's sandbox \
                 breaks there (use --dangerously-bypass-approvals-and-sandbox)",
                codex_home.display()
            );
        }
        let mut args: Vec<String> = Vec::new();
        for c in [
            "model_provider=mock".to_string(),
            "model_providers.mock.name=mock".to_string(),
            format!("model_providers.mock.base_url=\"{}/v1\"", self.base_url()),
            "model_providers.mock.env_key=MOCK_API_KEY".to_string(),
            "model_providers.mock.wire_api=responses".to_string(),
            "check_for_update_on_startup=false".to_string(),
            "analytics.enabled=false".to_string(),
        ] {
            args.push("-c".into());
            args.push(c);
        }
        args.push("-m".into());
        args.push(CODEX_MODEL.into());
        for f in [
            "plugins",
            "apps",
            "remote_plugin",
            "unbounded_connection_retries",
        ] {
            args.push("--disable".into());
            args.push(f.into());
        }
        let home = codex_home.display().to_string();
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), home.clone()),
            ("CODEX_HOME".to_string(), home),
            ("MOCK_API_KEY".to_string(), OPENAI_KEY.to_string()),
        ];
        env.extend(self.proxy_env());
        (args, env)
    }

    /// Stops the server (also done on drop).
    pub fn stop(&mut self) {
        match std::mem::replace(&mut self.backend, Backend::Stopped) {
            Backend::Process(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Backend::InProcess(stop) => {
                stop.store(true, Ordering::SeqCst);
                // Wake the accept loop so it sees the flag.
                let _ = TcpStream::connect(("127.0.0.1", self.port));
            }
            Backend::Stopped => {}
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether this process runs as root (Claude then needs `IS_SANDBOX=1` for bypass modes).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
