//! Installs the real `codex` and `claude` CLIs from npm, pinned, once per target directory.
//!
//! The install goes to `<target>/tmp/clients` (the directory Cargo calls `CARGO_TARGET_TMPDIR`,
//! found from the running test binary), or to `$HG_CLIENTS_DIR` when that is set. It is skipped
//! when both packages are already there at the pinned versions. Concurrent callers (test
//! threads, nextest processes) serialize on a lock file in that directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const CODEX_PACKAGE: &str = "@openai/codex";
/// The version documented in the clients spec (still the npm `latest` on 2026-11-25).
pub const CODEX_VERSION: &str = "0.169.0";
pub const CLAUDE_PACKAGE: &str = "@anthropic-ai/claude-code";
/// The version documented in the clients spec (npm `latest` was 2.1.332 on 2026-11-25).
pub const CLAUDE_VERSION: &str = "2.1.197";

/// Paths of an installed pair of clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clients {
    /// The npm prefix they were installed into.
    pub dir: PathBuf,
    /// `node_modules/.bin/codex`: the Node launcher (needs `node` on PATH) that execs the
    /// native binary.
    pub codex: PathBuf,
    /// `node_modules/.bin/claude`: the native binary (`claude.exe`).
    pub claude: PathBuf,
}

/// The default install directory: `$HG_CLIENTS_DIR`, else `<cargo target dir>/tmp/clients`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HG_CLIENTS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    target_dir().join("tmp").join("clients")
}

/// The Cargo target directory of the running test binary: the nearest ancestor of the
/// executable holding `CACHEDIR.TAG` (Cargo writes one there), else `<exe>/../../..`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("."));
    if let Some(d) = exe
        .ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())
    {
        return d.to_path_buf();
    }
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Installs (if needed) into [`default_dir`] and returns the client paths. Panics with the npm
/// output when the install fails. Cheap after the first call in a process.
pub fn ensure_installed() -> Clients {
    static DONE: OnceLock<Result<Clients, String>> = OnceLock::new();
    match DONE.get_or_init(|| ensure_installed_in(&default_dir())) {
        Ok(c) => c.clone(),
        Err(e) => panic!("cannot install the real clients: {e}"),
    }
}

fn installed_version(dir: &Path, package: &str) -> Option<String> {
    let pj = dir.join("node_modules").join(package).join("package.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(pj).ok()?).ok()?;
    v.get("version")?.as_str().map(str::to_string)
}

fn check(dir: &Path) -> Result<Clients, String> {
    let bin = dir.join("node_modules").join(".bin");
    let clients = Clients {
        dir: dir.to_path_buf(),
        codex: bin.join("codex"),
        claude: bin.join("claude"),
    };
    for (package, want) in [
        (CODEX_PACKAGE, CODEX_VERSION),
        (CLAUDE_PACKAGE, CLAUDE_VERSION),
    ] {
        match installed_version(dir, package) {
            Some(v) if v == want => {}
            Some(v) => return Err(format!("{package} {v} installed, {want} wanted")),
            None => return Err(format!("{package} not installed")),
        }
    }
    // Claude's postinstall copies the native binary into place; a failed copy leaves a stub.
    let claude_size = std::fs::metadata(&clients.claude)
        .map(|m| m.len())
        .unwrap_or(0);
    if claude_size < 1_000_000 {
        return Err(format!(
            "{} is missing or is not the native binary ({claude_size} bytes)",
            clients.claude.display()
        ));
    }
    if !clients.codex.exists() {
        return Err(format!("{} is missing", clients.codex.display()));
    }
    Ok(clients)
}

/// An exclusive `flock` held until dropped.
pub(crate) struct LockFile(std::fs::File);

impl LockFile {
    pub(crate) fn acquire(path: &Path) -> Result<LockFile, String> {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on a file descriptor we own; it is released when the file is closed.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(format!(
                "cannot lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(LockFile(f))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking our own descriptor.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Installs the pinned clients into `dir` unless they are already there, and returns their
/// paths. Runs `npm install --prefix <dir> --no-audit --no-fund --save-exact
/// @openai/codex@<v> @anthropic-ai/claude-code@<v>`.
pub fn ensure_installed_in(dir: &Path) -> Result<Clients, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = LockFile::acquire(&dir.join(".install.lock"))?;
    if let Ok(c) = check(dir) {
        return Ok(c);
    }
    let started = std::time::Instant::now();
    let out = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(dir)
        .args([
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--loglevel=error",
        ])
        .arg(format!("{CODEX_PACKAGE}@{CODEX_VERSION}"))
        .arg(format!("{CLAUDE_PACKAGE}@{CLAUDE_VERSION}"))
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run npm (is Node.js/npm installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm install failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!(
        "harnessgym_testkit: installed {CODEX_PACKAGE}@{CODEX_VERSION} and \
         {CLAUDE_PACKAGE}@{CLAUDE_VERSION} into {} in {:.1}s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    check(dir).map_err(|e| {
        format!(
            "after npm install: {e}\nnpm output:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What one run of a client printed, and how it ended.
pub struct ClientRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
}

impl ClientRun {
    /// The stdout lines that are JSON objects.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .collect()
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {:?} after {:.1}s\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs a client: `program args` in `cwd` with exactly `env`, `stdin` on its stdin (then EOF),
/// output to files; panics, with what it printed, when it runs longer than `limit`.
pub fn run_client(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    stdin: &str,
    limit: std::time::Duration,
) -> ClientRun {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let started = std::time::Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    {
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(stdin.as_bytes()).unwrap();
    } // stdin closed: EOF
    let read = |code| ClientRun {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: started.elapsed(),
    };
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} timed out: {}", program.display(), read(None).describe());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    read(code)
}
