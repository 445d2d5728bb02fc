//! One run per workspace: an advisory `flock` on `.harnessgym/run.lock`. The kernel releases it
//! when the process dies, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held for the whole run; dropping it releases the workspace.
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another HarnessGym run is using this workspace ({holder}); wait for it to finish or stop it first")]
    Busy { holder: String },
    #[error("cannot create lock file {path}: {source}")]
    Io { path: String, source: io::Error },
}

impl WorkspaceLock {
    /// Takes the lock of `harness_dir` for `run_id`, or says who holds it.
    pub fn acquire(harness_dir: &Path, run_id: &str) -> Result<WorkspaceLock, LockError> {
        let path = harness_dir.join("run.lock");
        let io_err = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(LockError::Busy {
                holder: if holder.is_empty() {
                    "unknown process".into()
                } else {
                    holder.to_string()
                },
            });
        }
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        write!(file, "pid {}, run {run_id}", std::process::id()).map_err(io_err)?;
        Ok(WorkspaceLock { _file: file })
    }
}
