#!/usr/bin/env python3
"""Benchmark: our `harnessgym` (Rust) against the Python reference `harnessgym==0.1.1`.

Usage: python3 benches/run_bench.py [--runs N] [--quick]

Scenarios (see benches/README.md):
  a  examples/numerical_debug_task without verifier.py, --runner fake --iterations 2
     (the orchestrator itself; compared with spawning /bin/true)
  b  the same task with verifier.py (both tools spawn a Python verifier)
  c  ours only: the attempt phase streams 0 .. 1000 MiB of stdout (--fake-script);
     peak RSS must stay flat; compared with dd writing the same bytes.

Python 3 standard library only. Exits non-zero, loudly, when any run misbehaves.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (BENCH_DIR, OURS, REF, REF_PY, REF_VERSION, ROOT, VENV, build_ours, die,
                      ensure_reference, log)

TASK = os.path.join(ROOT, "examples", "numerical_debug_task")
MIB = 1024 * 1024


# ---------------------------------------------------------------- setup


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


# ---------------------------------------------------------------- measuring


def measure(argv, cwd, env, out_dir):
    """Wall time: runs argv directly (Popen + os.wait4), perf_counter around it.

    Returns (exit_code, wall_seconds, stdout_path, stderr_path)."""
    out_path = os.path.join(out_dir, "child.stdout")
    err_path = os.path.join(out_dir, "child.stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err)
        _, status, _ = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
    p.returncode = os.waitstatus_to_exitcode(status)  # we reaped it; tell Popen
    return p.returncode, t1 - t0, out_path, err_path


# Peak RSS. Linux records the exec'ing process's old address space in the child's ru_maxrss:
# a child forked (or vforked) from this Python process reports at least this process's RSS
# (~15 MiB) whatever it does. So for RSS the command is started by a small /bin/sh (dash,
# ~1 MiB) in the background; we are its subreaper, so the orphan becomes our child and
# os.wait4 on it gives the command's own peak RSS (floor: the shell's ~1 MiB).
_SH_SPAWN = 'o=$1; e=$2; shift 2; "$@" >"$o" 2>"$e" </dev/null & echo $!'
_SUBREAPER = None


def _become_subreaper():
    global _SUBREAPER
    if _SUBREAPER is None:
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            _SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            _SUBREAPER = False
        if not _SUBREAPER:
            print("WARNING: cannot become a child subreaper; RSS figures include this "
                  "Python process's RSS as a floor", file=sys.stderr)
    return _SUBREAPER


def measure_rss(argv, cwd, env, out_dir):
    """Peak RSS in KiB of argv run in a separate execution. Returns (exit_code, rss_kib, out, err).
    Retried when the adopted orphan was reaped before we could wait for it (rare, seen with
    very short commands)."""
    for attempt in range(3):
        try:
            return _measure_rss_once(argv, cwd, env, out_dir)
        except ChildProcessError:
            if attempt == 2:
                raise


def _measure_rss_once(argv, cwd, env, out_dir):
    out_path = os.path.join(out_dir, "child.stdout")
    err_path = os.path.join(out_dir, "child.stderr")
    if not _become_subreaper():
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err)
            _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        return p.returncode, ru.ru_maxrss, out_path, err_path
    sh = subprocess.Popen(["/bin/sh", "-c", _SH_SPAWN, "sh", out_path, err_path] + argv,
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    pid_text = sh.stdout.read()
    sh.stdout.close()
    if sh.wait() != 0 or not pid_text.strip().isdigit():
        die(f"cannot spawn {argv[0]} through /bin/sh for the RSS measurement")
    _, status, ru = os.wait4(int(pid_text), 0)
    return os.waitstatus_to_exitcode(status), ru.ru_maxrss, out_path, err_path


def tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def final_status(ws):
    found = glob.glob(os.path.join(ws, ".harnessgym", "runs", "*", "summary.json"))
    if len(found) != 1:
        return None, f"expected one summary.json, found {len(found)}"
    try:
        with open(found[0]) as f:
            return json.load(f).get("final_status"), found[0]
    except (OSError, ValueError) as e:
        return None, f"unreadable {found[0]}: {e}"


def _one_execution(name, kind, exe, with_verifier, env, iterations, script,
                   expect_code, expect_status, stdout_bytes):
    tmp = tempfile.mkdtemp(prefix="hgbench-")
    try:
        ws = os.path.join(tmp, "ws")
        shutil.copytree(TASK, ws)
        if not with_verifier:
            os.remove(os.path.join(ws, "verifier.py"))
        argv = [exe, "run", "--task", "task.md", "--workspace", ws, "--runner", "fake",
                "--iterations", str(iterations)]
        if script is not None:
            argv += ["--fake-script", script]
        if kind == "wall":
            code, value, out, err = measure(argv, ws, env, tmp)
        else:
            code, value, out, err = measure_rss(argv, ws, env, tmp)
        status, where = final_status(ws)
        if code != expect_code or status != expect_status:
            die(f"{name} ({kind} run): exit {code} (want {expect_code}), final_status "
                f"{status!r} (want {expect_status!r}; {where})\ncommand: {' '.join(argv)}\n"
                f"--- stdout tail ---\n{tail(out)}\n--- stderr tail ---\n{tail(err)}")
        if stdout_bytes:
            outs = glob.glob(os.path.join(ws, ".harnessgym", "runs", "*", "iterations", "1",
                                          "attempt.stdout.txt"))
            size = os.path.getsize(outs[0]) if outs else -1
            if size < stdout_bytes:
                die(f"{name}: attempt stdout is {size} bytes, want >= {stdout_bytes}")
        return value
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_task(name, exe, with_verifier, env, iterations=2, script=None,
             expect_code=0, expect_status="solved", stdout_bytes=0):
    """One measured run of `exe run`: a timed execution and an RSS execution, each in a fresh
    copy of the task, both checked. Returns (wall_seconds, peak_rss_kib)."""
    args = (exe, with_verifier, env, iterations, script, expect_code, expect_status,
            stdout_bytes)
    wall = _one_execution(name, "wall", *args)
    rss = _one_execution(name, "rss", *args)
    return wall, rss


def run_plain(argv, env):
    """A timed and an RSS execution of a plain command in a scratch directory."""
    values = []
    for fn in (measure, measure_rss):
        tmp = tempfile.mkdtemp(prefix="hgbench-")
        try:
            try:
                code, value, _, err = fn([a.replace("{TMP}", tmp) for a in argv], tmp, env, tmp)
            except ChildProcessError:
                # The adopted orphan of a command this short is sometimes gone before wait4;
                # its RSS is then left out of the median rather than guessed.
                values.append(None)
                continue
            if code != 0:
                die(f"{' '.join(argv)} failed (exit {code}): {tail(err)}")
            values.append(value)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return tuple(values)


# ---------------------------------------------------------------- scenarios


def scenario_ab(label, with_verifier, runs, env, with_true=False, tmpdir=None):
    """Interleaved ours/reference(/true) runs. Returns dict of lists of (wall_s, rss_kib)."""
    if tmpdir is not None:
        saved, tempfile.tempdir = tempfile.tempdir, tmpdir
        try:
            return scenario_ab(label, with_verifier, runs, env, with_true)
        finally:
            tempfile.tempdir = saved
    res = {"ours": [], "ref": [], "true": []}
    # warm-up (page cache, .pyc files), not measured
    for exe in (OURS, REF):
        run_task(f"{label} warm-up", exe, with_verifier, env)
    for i in range(runs):
        for key, exe in (("ours", OURS), ("ref", REF)):
            res[key].append(run_task(f"{label} {key} run {i + 1}", exe, with_verifier, env))
        if with_true:
            res["true"].append(run_plain(["/bin/true"], env))
    log(f"  {label}: done ({runs} runs each)")
    return res


def scenario_c(sizes_mib, runs, env):
    rows = []
    for mib in sizes_mib:
        nbytes = mib * MIB
        ours, dd = [], []
        with tempfile.TemporaryDirectory(prefix="hgbench-") as sdir:
            script = os.path.join(sdir, "fake_script.json")
            with open(script, "w") as f:
                json.dump({"iterations": {"default": {"attempt": {
                    "demo": True, "stdout_bytes": nbytes}}}}, f)
            for i in range(runs):
                # iteration 1 of the demo is "blocked" and builds tooling: exit 3, not solved
                ours.append(run_task(f"c {mib} MiB run {i + 1}", OURS, False, env,
                                     iterations=1, script=script, expect_code=3,
                                     expect_status="tooling_built", stdout_bytes=nbytes))
                # the physical limit: dd writing the same bytes to the same filesystem
                dd.append(run_plain(["dd", "if=/dev/zero", "of={TMP}/dd.out", "bs=1M",
                                     f"count={mib}"], env))
        rows.append((mib, ours, dd))
        log(f"  c: {mib} MiB done")
    return rows


# ---------------------------------------------------------------- report


def med_ms(samples):
    return statistics.median(w for w, _ in samples) * 1000


def med_rss_mib(samples):
    values = [r for _, r in samples if r is not None]
    return statistics.median(values) / 1024 if values else float("nan")


def ratio(res):
    """Median of per-pair ratios reference/ours (pairs ran back to back)."""
    return statistics.median(r[0] / o[0] for o, r in zip(res["ours"], res["ref"]))


def filesystem_of(path):
    """The mount point and type of the filesystem holding path (from /proc/mounts)."""
    path = os.path.realpath(path)
    best = ("?", "?")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and (best[0] == "?" or len(mnt) >= len(best[0])):
                    best = (mnt, parts[2])
    except OSError:
        pass
    return best


def loadavg():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=None,
                    help="measured runs per implementation and scenario (default 15, --quick 5)")
    ap.add_argument("--quick", action="store_true",
                    help="5 runs, scenario c up to 100 MiB")
    args = ap.parse_args()
    runs = args.runs if args.runs is not None else (5 if args.quick else 15)
    if runs < 1:
        die("--runs must be >= 1")
    sizes = [0, 10, 100] if args.quick else [0, 10, 100, 1000]
    c_runs = 1 if args.quick else min(runs, 3)

    if not os.path.isfile(os.path.join(TASK, "task.md")):
        die(f"missing example task {TASK}")
    build_ours()
    ensure_reference()

    # The reference runs verifier.py with its own interpreter (sys.executable); ours runs
    # `python3` from PATH. Put the reference venv's python3 first on PATH so that both use the
    # same interpreter. Scenario b' keeps the caller's PATH when it resolves differently.
    caller_env = dict(os.environ)
    env = dict(os.environ)
    env["PATH"] = os.path.join(VENV, "bin") + os.pathsep + caller_env.get("PATH", "")
    caller_py = shutil.which("python3", path=caller_env.get("PATH"))
    path_differs = (caller_py is None or not is_elf(caller_py)
                    or os.path.realpath(caller_py) != os.path.realpath(REF_PY))

    load_before = loadavg()
    log(f"\nmeasuring: {runs} interleaved runs per implementation per scenario")
    a = scenario_ab("a (no verifier)", False, runs, env, with_true=True)
    # Rewriting small JSON files costs far more on a disk filesystem (ext4 flushes replaced
    # files) than in memory; a' shows scenario a without that cost when /dev/shm is a tmpfs.
    shm = "/dev/shm"
    a_shm = None
    if (filesystem_of(tempfile.gettempdir())[1] != "tmpfs"
            and filesystem_of(shm) == (shm, "tmpfs") and os.access(shm, os.W_OK)):
        a_shm = scenario_ab("a' (no verifier, tmpfs)", False, runs, env, tmpdir=shm)
    b = scenario_ab("b (with verifier)", True, runs, env)
    b2 = scenario_ab("b' (with verifier, caller's PATH)", True, runs, caller_env) \
        if path_differs else None
    c = scenario_c(sizes, c_runs, env)
    load_after = loadavg()

    now = datetime.datetime.now().astimezone()
    lines = []
    lines.append(f"harnessgym benchmark - {now:%Y-%m-%d %H:%M %Z} - {platform.machine()}, "
                 f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
                 f"Python {platform.python_version()}")
    lines.append(f"ours: target/release/harnessgym (release, thin LTO); "
                 f"reference: harnessgym=={REF_VERSION} from PyPI; {runs} runs each, medians")
    lines.append("")
    hdr = (f"{'scenario':<34} {'ours ms':>9} {'ref ms':>9} {'ref/ours':>9} "
           f"{'ours RSS MiB':>13} {'ref RSS MiB':>12}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    table = [("a  task, no verifier (headline)", a)]
    if a_shm is not None:
        table.append(("a' same, workspaces on tmpfs", a_shm))
    table.append(("b  task with verifier.py", b))
    if b2 is not None:
        table.append(("b' with verifier, caller's PATH", b2))
    for name, res in table:
        lines.append(f"{name:<34} {med_ms(res['ours']):>9.1f} {med_ms(res['ref']):>9.1f} "
                     f"{ratio(res):>8.1f}x {med_rss_mib(res['ours']):>13.1f} "
                     f"{med_rss_mib(res['ref']):>12.1f}")
    lines.append(f"{'   physical limit: spawn /bin/true':<34} {med_ms(a['true']):>9.1f} "
                 f"{'':>9} {'':>9} {med_rss_mib(a['true']):>13.1f}")
    lines.append("")
    lines.append("wall: median of timed executions (Popen + os.wait4); ref/ours: median of the "
                 "per-pair ratios.")
    lines.append("RSS: peak resident set (wait4 ru_maxrss) of a separate execution spawned via "
                 "/bin/sh; includes waited-for children (b: the Python verifier).")
    mnt, fstype = filesystem_of(tempfile.gettempdir())
    lines.append(f"workspaces in {tempfile.gettempdir()} ({fstype} on {mnt}; set TMPDIR to "
                 f"change); load average before/after: {load_before} / {load_after}")
    if b2 is not None:
        lines.append(f"b': python3 on the caller's PATH is {caller_py} "
                     f"({'a script, e.g. a pyenv shim' if caller_py and not is_elf(caller_py) else 'another interpreter'}); "
                     "ours runs it, the reference runs its own sys.executable.")
    lines.append("")
    lines.append(f"c  ours, attempt streams N MiB of stdout (--iterations 1; {c_runs} run(s), medians)")
    hdr2 = f"{'stdout MiB':>10} {'ours ms':>9} {'ours RSS MiB':>13} {'dd ms':>9} {'ours/dd':>8}"
    lines.append(hdr2)
    lines.append("-" * len(hdr2))
    for mib, ours, dd in c:
        lines.append(f"{mib:>10} {med_ms(ours):>9.1f} {med_rss_mib(ours):>13.1f} "
                     f"{med_ms(dd):>9.1f} {med_ms(ours) / med_ms(dd):>7.1f}x")
    growth = med_rss_mib(c[-1][1]) / med_rss_mib(c[0][1])
    lines.append(f"RSS growth {c[0][0]} -> {c[-1][0]} MiB of output: {growth:.2f}x"
                 + (f"; {c[1][0]} -> {c[-1][0]} MiB: "
                    f"{med_rss_mib(c[-1][1]) / med_rss_mib(c[1][1]):.2f}x" if len(c) > 2 else ""))
    lines.append("dd = dd if=/dev/zero bs=1M count=N into the same filesystem (no fsync); "
                 "the physical limit of writing N MiB.")

    report = "\n".join(lines)
    print("\n" + report)

    os.makedirs(BENCH_DIR, exist_ok=True)
    raw = {"date": now.isoformat(), "runs": runs, "report": report,
           "a": a, "a_tmpfs": a_shm, "b": b, "b_caller_path": b2,
           "c": [{"mib": m, "ours": o, "dd": d} for m, o, d in c]}
    with open(os.path.join(BENCH_DIR, "last_results.json"), "w") as f:
        json.dump(raw, f, indent=1)
    print(f"\nraw samples (seconds, KiB): {os.path.join(BENCH_DIR, 'last_results.json')}")
    ratio_a = ratio(a)
    if ratio_a < 10:
        print(f"NOTE: scenario a ratio {ratio_a:.1f}x is below the 10x target", file=sys.stderr)


if __name__ == "__main__":
    main()
