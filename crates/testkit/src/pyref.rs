//! The Python reference, `harnessgym==0.1.1` from PyPI, in one venv per target directory, made
//! once under a file lock (nextest runs tests in parallel processes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pinned reference version.
pub const VERSION: &str = "0.1.1";

/// The venv's `bin/` directory (holding `harnessgym` and `python`): `$HARNESSGYM_PYREF`'s
/// directory when set (a path to a `harnessgym` executable), else `<target>/tmp/pyref-venv/bin`,
/// installed on first use. Panics with a clear message when the install fails.
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(install) {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// The reference `harnessgym` executable.
pub fn cli() -> PathBuf {
    bin_dir().join("harnessgym")
}

fn install() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("HARNESSGYM_PYREF").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return Ok(p.parent().map(Path::to_path_buf).unwrap_or(p));
    }
    let tmp = crate::clients::target_dir().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let _lock = crate::clients::LockFile::acquire(&tmp.join("pyref-venv.lock"))?;
    let venv = tmp.join("pyref-venv");
    let bin = venv.join("bin");
    let usable = |bin: &Path| {
        Command::new(bin.join("python"))
            .args(["-c", "import harnessgym.mcp_telemetry_proxy"])
            .status()
            .is_ok_and(|s| s.success())
            && bin.join("harnessgym").exists()
    };
    if usable(&bin) {
        return Ok(bin);
    }
    let _ = std::fs::remove_dir_all(&venv); // a half-made venv from an interrupted install
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        return Err("python3 -m venv failed (Debian needs python3-venv)".into());
    }
    let ok = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("harnessgym=={VERSION}"))
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        return Err(format!(
            "pip install harnessgym=={VERSION} failed (PyPI must be reachable)"
        ));
    }
    Ok(bin)
}
