//! Terminal progress: one live line per phase on a terminal, plain lines otherwise.

use harnessgym_core::orchestrator::Progress;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Live {
    label: String,
    started: Instant,
}

/// Writes progress to stdout (stderr under `--json`), animating the running phase on a TTY.
pub struct TerminalProgress {
    to_stderr: bool,
    live: bool,
    iterations: u32,
    current: Arc<Mutex<Option<Live>>>,
    stop: Arc<AtomicBool>,
}

impl TerminalProgress {
    pub fn new(to_stderr: bool, iterations: u32) -> TerminalProgress {
        let live = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let p = TerminalProgress {
            to_stderr,
            live,
            iterations,
            current: Arc::new(Mutex::new(None)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        if live {
            let (current, stop) = (p.current.clone(), p.stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(l) = current.lock().expect("progress lock").as_ref() {
                        write_to(
                            to_stderr,
                            &format!(
                                "\r\x1b[2K{} · {:.1}s",
                                l.label,
                                l.started.elapsed().as_secs_f64()
                            ),
                        );
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        p
    }

    fn label(&self, iteration: u32, phase: &str) -> String {
        if iteration == 0 {
            format!("run · {phase}")
        } else {
            format!("iteration {iteration}/{} · {phase}", self.iterations)
        }
    }

    /// Stops the live line.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.live && self.current.lock().expect("progress lock").take().is_some() {
            write_to(self.to_stderr, "\n");
        }
    }
}

fn write_to(stderr: bool, text: &str) {
    if stderr {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let mut out = std::io::stdout();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

impl Progress for TerminalProgress {
    fn phase_started(&self, iteration: u32, phase: &str) {
        let label = self.label(iteration, phase);
        if self.live {
            *self.current.lock().expect("progress lock") = Some(Live {
                label: label.clone(),
                started: Instant::now(),
            });
            write_to(self.to_stderr, &format!("\r\x1b[2K{label} · 0.0s"));
        } else {
            write_to(self.to_stderr, &format!("{label} · started\n"));
        }
    }

    fn phase_finished(&self, iteration: u32, phase: &str, status: &str, seconds: f64) {
        let label = self.label(iteration, phase);
        if self.live {
            *self.current.lock().expect("progress lock") = None;
            write_to(
                self.to_stderr,
                &format!("\r\x1b[2K{label} · {seconds:.1}s · {status}\n"),
            );
        } else {
            write_to(
                self.to_stderr,
                &format!("{label} · {status} · {seconds:.1}s\n"),
            );
        }
    }

    fn note(&self, text: &str) {
        write_to(
            self.to_stderr,
            &format!("{}{text}\n", if self.live { "\r\x1b[2K" } else { "" }),
        );
    }
}
