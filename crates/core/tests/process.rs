//! Process supervision through the public API: exit codes, output capture, stdin,
//! timeouts, the TERM → grace → KILL sequence, leftover group members, cancellation,
//! byte-exact output, bounded memory and error reporting.

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::runner::process::{
    read_lossy, run, shell, ProcessError, ProcessOutcome, ProcessSpec, StdinSource,
};
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn out(&self) -> PathBuf {
        self.path("stdout.txt")
    }
    fn err(&self) -> PathBuf {
        self.path("stderr.txt")
    }
    fn sh(&self, script: &str) -> ProcessSpec {
        shell(script, self.dir.path(), self.out(), self.err())
    }
    fn spec(&self, program: &str) -> ProcessSpec {
        ProcessSpec::new(program, self.dir.path(), self.out(), self.err())
    }
    fn stdout(&self) -> Vec<u8> {
        fs::read(self.out()).unwrap()
    }
    fn stderr(&self) -> String {
        fs::read_to_string(self.err()).unwrap()
    }
    fn read_pid(&self, name: &str) -> i32 {
        fs::read_to_string(self.path(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

fn go(spec: &ProcessSpec) -> ProcessOutcome {
    run(spec, &CancelToken::new()).expect("process runs")
}

/// Alive = exists and is not a zombie. Orphans are reaped by init only eventually (about a
/// second in some containers), and a zombie is dead for our purposes.
fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let rest = &stat[stat.rfind(')').unwrap() + 1..];
            rest.split_whitespace().next() != Some("Z")
        }
        Err(_) => false,
    }
}

fn vm_hwm_kb() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const TERM_NOTE: &str = "harnessgym: process timed out after 0.4s; process group terminated\n";

#[test]
fn exit_code_and_both_outputs_recorded() {
    let sb = Sandbox::new();
    let o = go(&sb.sh("printf 'to-out\\n'; printf 'to-err\\n' >&2; exit 3"));
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(o.signal, None);
    assert!(!o.timed_out && !o.cancelled && !o.killed_group && !o.success());
    assert_eq!(sb.stdout(), b"to-out\n");
    assert_eq!(sb.stderr(), "to-err\n");
    assert_eq!((o.stdout_bytes, o.stderr_bytes), (7, 7));

    let o = go(&sb.sh("true"));
    assert!(o.success());
    assert_eq!(sb.stdout(), b"", "stdout file is truncated on each run");
}

#[test]
fn args_env_and_cwd_are_applied() {
    let sb = Sandbox::new();
    let spec = sb
        .spec("/bin/sh")
        .args([
            "-c",
            "printf '%s|%s|%s' \"$HG_TEST_VAR\" \"$1\" \"$(pwd -P)\"",
            "sh",
        ])
        .arg("first arg")
        .env("HG_TEST_VAR", "value");
    let o = go(&spec);
    assert_eq!(o.exit_code, Some(0));
    let cwd = sb.dir.path().canonicalize().unwrap();
    let expected = format!("value|first arg|{}", cwd.display());
    assert_eq!(String::from_utf8(sb.stdout()).unwrap(), expected);
}

#[test]
fn stdin_defaults_to_dev_null() {
    let sb = Sandbox::new();
    // `cat` would hang on an inherited terminal or open pipe; with /dev/null it ends at once.
    let o = go(&sb
        .sh("cat; readlink /proc/$$/fd/0")
        .timeout(Duration::from_secs(5)));
    assert_eq!(o.exit_code, Some(0));
    assert!(!o.timed_out);
    assert_eq!(sb.stdout(), b"/dev/null\n");
}

#[test]
fn stdin_bytes_and_file_are_delivered() {
    let sb = Sandbox::new();
    // Larger than a pipe buffer, so the writer thread and the reader must run concurrently.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let spec = sb
        .spec("cat")
        .stdin(StdinSource::Bytes(data.clone()))
        .timeout(Duration::from_secs(10));
    let o = go(&spec);
    assert_eq!(o.exit_code, Some(0), "cat saw EOF after the bytes");
    assert!(!o.timed_out);
    assert_eq!(o.stdout_bytes, data.len() as u64);
    assert!(sb.stdout() == data, "stdin bytes round-trip through cat");

    let input = sb.path("input.txt");
    fs::write(&input, "from a file\n").unwrap();
    let o = go(&sb.spec("cat").stdin(StdinSource::File(input)));
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(sb.stdout(), b"from a file\n");
}

#[test]
fn timeout_terminates_hanging_script_and_keeps_output() {
    let sb = Sandbox::new();
    let spec = sb
        .sh("echo before; printf partial >&2; sleep 30; echo after")
        .timeout(Duration::from_millis(400));
    let o = go(&spec);
    assert!(o.timed_out && o.killed_group && !o.cancelled);
    assert_eq!(o.signal, Some(libc::SIGTERM), "SIGTERM was enough");
    assert_eq!(o.exit_code, None);
    // Grace is the default 5 s: returning this fast means SIGTERM ended the whole group.
    assert!(o.duration < Duration::from_secs(3), "{:?}", o.duration);
    assert_eq!(sb.stdout(), b"before\n");
    assert_eq!(sb.stderr(), format!("partial\n{TERM_NOTE}"));
    assert_eq!(o.stderr_bytes, "partial".len() as u64);
}

#[test]
fn exit_code_recorded_when_leader_exits_after_term() {
    let sb = Sandbox::new();
    // `wait` is interruptible, so the trap runs as soon as SIGTERM arrives.
    let spec = sb
        .sh("trap 'echo got-term; exit 7' TERM; sleep 30 & wait")
        .timeout(Duration::from_millis(400));
    let o = go(&spec);
    assert!(o.timed_out);
    assert_eq!(o.exit_code, Some(7));
    assert_eq!(o.signal, None);
    assert_eq!(sb.stdout(), b"got-term\n");
    assert!(sb.stderr().ends_with(TERM_NOTE));
}

#[test]
fn term_ignoring_group_is_killed_after_grace() {
    let sb = Sandbox::new();
    // The ignored disposition is inherited by the `sleep` children, so they survive TERM too.
    let spec = sb
        .sh("trap '' TERM; echo ready; sleep 30 & echo $! > child.pid; wait")
        .timeout(Duration::from_millis(300))
        .grace(Duration::from_millis(300));
    let o = go(&spec);
    assert!(o.timed_out && o.killed_group);
    assert_eq!(o.signal, Some(libc::SIGKILL));
    assert_eq!(o.exit_code, None);
    assert!(
        o.duration >= Duration::from_millis(550),
        "the grace period is respected: {:?}",
        o.duration
    );
    assert!(o.duration < Duration::from_secs(3), "{:?}", o.duration);
    assert_eq!(sb.stdout(), b"ready\n");
    assert!(
        !pid_alive(sb.read_pid("child.pid")),
        "child in the group was killed"
    );
}

#[test]
fn grandchild_holding_pipes_is_terminated_and_its_output_kept() {
    let sb = Sandbox::new();
    // The leader exits as soon as the grandchild has written; the grandchild keeps stdout
    // open for 30 s. The marker file makes the ordering deterministic.
    let script = "(echo from-grandchild; touch marker; exec sleep 30) & echo $! > gc.pid; \
                  while [ ! -e marker ]; do sleep 0.01; done; echo leader-done";
    let o = go(&sb.sh(script).timeout(Duration::from_secs(20)));
    assert!(
        o.duration < Duration::from_secs(2),
        "returned without waiting out sleep 30 or the 5 s grace: {:?}",
        o.duration
    );
    assert_eq!(o.exit_code, Some(0));
    assert!(!o.timed_out && o.killed_group);
    let out = String::from_utf8(sb.stdout()).unwrap();
    assert!(
        out.contains("from-grandchild\n") && out.contains("leader-done\n"),
        "{out:?}"
    );
    assert!(
        !pid_alive(sb.read_pid("gc.pid")),
        "grandchild was left running"
    );
    assert_eq!(sb.stderr(), "", "no timeout note for a normal exit");
}

#[test]
fn orphan_ignoring_term_without_pipes_is_killed() {
    let sb = Sandbox::new();
    // Not holding the pipes, so only the group check can find it. The leader waits until
    // the trap is in place, or TERM could reach the subshell before it.
    let script = "(trap '' TERM; touch ready; exec sleep 30) >/dev/null 2>&1 & \
                  echo $! > orphan.pid; while [ ! -e ready ]; do sleep 0.01; done";
    let o = go(&sb.sh(script).grace(Duration::from_millis(300)));
    assert_eq!(o.exit_code, Some(0));
    assert!(o.killed_group);
    assert!(o.duration >= Duration::from_millis(250), "{:?}", o.duration);
    assert!(o.duration < Duration::from_secs(4), "{:?}", o.duration);
    assert!(!pid_alive(sb.read_pid("orphan.pid")), "orphan survived");
}

#[test]
fn invalid_utf8_is_preserved_on_disk() {
    let sb = Sandbox::new();
    let o = go(&sb.sh("printf 'ok \\377\\376 end\\n'"));
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(sb.stdout(), b"ok \xff\xfe end\n");
    assert_eq!(read_lossy(sb.out(), 1024), "ok \u{FFFD}\u{FFFD} end\n");
}

#[test]
fn read_lossy_keeps_the_tail_on_a_char_boundary() {
    let sb = Sandbox::new();
    let path = sb.path("tail.txt");
    fs::write(&path, "abcdef").unwrap();
    assert_eq!(read_lossy(&path, 3), "def");
    assert_eq!(read_lossy(&path, 100), "abcdef");
    fs::write(&path, "xé").unwrap(); // 'é' is two bytes
    assert_eq!(read_lossy(&path, 2), "é");
    assert_eq!(
        read_lossy(&path, 1),
        "",
        "half a character is dropped, not shown as U+FFFD"
    );
    assert_eq!(read_lossy(sb.path("missing.txt"), 10), "");
}

#[test]
fn large_output_is_streamed_with_bounded_memory() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let sb = Sandbox::new();
    let before = vm_hwm_kb();
    let o = go(&sb.sh(&format!("head -c {SIZE} /dev/zero; echo done >&2")));
    let growth_kb = vm_hwm_kb().saturating_sub(before);
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(o.stdout_bytes, SIZE);
    assert_eq!(fs::metadata(sb.out()).unwrap().len(), SIZE);
    assert_eq!(sb.stderr(), "done\n");
    assert!(growth_kb < 50 * 1024, "peak RSS grew by {growth_kb} kB");
}

#[test]
fn cancel_from_another_thread_ends_hanging_process() {
    let sb = Sandbox::new();
    let cancel = CancelToken::new();
    let remote = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        remote.cancel();
    });
    let o = run(&sb.sh("echo started; sleep 30"), &cancel).unwrap();
    canceller.join().unwrap();
    assert!(o.cancelled && !o.timed_out && o.killed_group);
    assert_eq!(o.signal, Some(libc::SIGTERM));
    assert!(o.duration >= Duration::from_millis(150), "{:?}", o.duration);
    assert!(o.duration < Duration::from_secs(3), "{:?}", o.duration);
    assert_eq!(sb.stdout(), b"started\n");
    assert_eq!(
        sb.stderr(),
        "harnessgym: cancelled; process group terminated\n"
    );
}

#[test]
fn missing_program_is_not_found() {
    let sb = Sandbox::new();
    for program in ["harnessgym-no-such-program", "/nonexistent/bin/tool"] {
        match run(&sb.spec(program), &CancelToken::new()) {
            Err(e @ ProcessError::NotFound { .. }) => {
                assert!(e.to_string().contains(program), "{e}");
            }
            other => panic!("expected NotFound for {program}, got {other:?}"),
        }
    }
}

#[test]
fn missing_cwd_is_an_io_error_not_a_missing_program() {
    let sb = Sandbox::new();
    let cwd = sb.path("no-such-dir");
    let spec = shell("true", &cwd, sb.out(), sb.err());
    match run(&spec, &CancelToken::new()) {
        Err(ProcessError::Io { path, .. }) => assert_eq!(path, cwd),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn short_process_overhead_is_small() {
    let sb = Sandbox::new();
    let spec = sb.spec("true");
    // The minimum over a few runs ignores scheduling noise from the other tests, but a
    // supervisor that sleeps a fixed poll interval before noticing the exit would still fail.
    let fastest = (0..10)
        .map(|_| {
            let t = Instant::now();
            assert!(go(&spec).success());
            t.elapsed()
        })
        .min()
        .unwrap();
    assert!(
        fastest < Duration::from_millis(15),
        "fastest run took {fastest:?}"
    );
}
