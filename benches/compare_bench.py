#!/usr/bin/env python3
"""Benchmark: `harnessgym compare` (Rust) against the Python reference `harnessgym==0.1.1`.

Usage: python3 benches/compare_bench.py [--reps N] [--quick] [--sizes 100,1000,10000]

For each template size (files, task.md included), interleaved, N repetitions:
  ours -j1   harnessgym compare --runner fake --trials 8 --jobs 1 --post-command P
  ours -j2   the same with --jobs 2
  ref        the reference's compare, same flags (no --jobs: it has none)
  and the same three with --trials 1, to take the start-up cost out of the per-trial cost.

Printed: wall time of the 2x8-trial compare; per-trial overhead beyond the runner's own time
  overhead = (wall(2x8) - wall(2x1)) / 14 - mean over the 16 trials of (attempt + post seconds)
(attempt and post durations read from each tool's compare_report.json), its growth with the
template size, and the physical limit of the workspace copy (`cp -r` of the template).
Target: per-trial overhead at least 10x lower than the reference's on the 1,000-file template.

Python 3 standard library only. Exits non-zero, loudly, when any run misbehaves.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

from benchlib import BENCH_DIR, OURS, REF, build_ours, die, ensure_reference, log

POST = 'echo \'{"status": "passed", "score": 1}\''
TRIALS = 8
AGENT_MS = 200  # the "agent takes time" scenario (ours only: the reference's fake cannot wait)


def make_template(path, files):
    """`files` files: task.md plus source-like files, 25 per directory, 2 levels deep."""
    os.makedirs(path)
    with open(os.path.join(path, "task.md"), "w") as f:
        f.write("# Task\n\nMake the kernel faster without changing its results.\n")
    for i in range(files - 1):
        d = os.path.join(path, "src", f"pkg{i // 250}", f"mod{(i // 25) % 10}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.py"), "w") as f:
            f.write(f'"""Module {i}."""\n\n' + "".join(
                f"def fn_{i}_{k}(x):\n    return x * {k} + {i}\n\n" for k in range(4)))


def run(argv, cwd):
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    return r, wall


def compare_argv(tool, tpl, out, trials, jobs, agent_script=None):
    base = ["compare", "--runner", "fake", "--task", "task.md", "--workspace-template", tpl,
            "--output-dir", out, "--trials", str(trials), "--post-command", POST]
    if tool == "ref":
        return [REF] + base
    extra = ["--fake-script", agent_script] if agent_script else []
    return [OURS] + base + ["--jobs", str(jobs)] + extra


def runner_and_post_seconds(report):
    """Mean over trials of attempt + post seconds, as the tool itself recorded them."""
    per_trial = []
    for t in report["trials"]:
        attempt = t.get("cumulative_attempt_duration_seconds") or 0.0
        post = (t.get("post_result") or {}).get("duration_seconds") or 0.0
        per_trial.append(attempt + post)
    return statistics.mean(per_trial) if per_trial else 0.0


def measure(tool, tpl, work, trials, jobs, env_note, agent_script=None):
    out = os.path.join(work, f"out-{tool}-{trials}-{jobs}")
    shutil.rmtree(out, ignore_errors=True)
    r, wall = run(compare_argv(tool, tpl, out, trials, jobs, agent_script), work)
    if r.returncode != 0:
        die(f"{tool} compare ({env_note}) exited {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
    path = os.path.join(out, "compare_report.json")
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        die(f"{tool} wrote no readable report ({e})")
    if len(report["trials"]) != 2 * trials:
        die(f"{tool}: {len(report['trials'])} trials in the report, expected {2 * trials}")
    inner = runner_and_post_seconds(report)
    internal = [t["timings"]["overhead_seconds"] for t in report["trials"] if t.get("timings")]
    prepare = [t["timings"]["prepare_seconds"] for t in report["trials"] if t.get("timings")]
    shutil.rmtree(out, ignore_errors=True)
    return {"wall": wall, "inner": inner,
            "internal_overhead": statistics.median(internal) if internal else None,
            "prepare": statistics.median(prepare) if prepare else None}


def cp_time(tpl, work):
    dst = os.path.join(work, "cp-copy")
    shutil.rmtree(dst, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", tpl, dst], check=True)
    t = time.perf_counter() - t0
    shutil.rmtree(dst, ignore_errors=True)
    return t


def ms(x):
    return "-" if x is None else f"{x * 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repetitions")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--no-build", action="store_true", help="reuse target/release/harnessgym")
    ap.add_argument("--ours", help="our binary (default: build target/release/harnessgym)")
    args = ap.parse_args()
    global OURS
    if args.ours:
        OURS = os.path.abspath(args.ours)
    reps = 3 if args.quick else args.reps
    sizes = [int(s) for s in args.sizes.split(",")]

    if not args.ours:
        build_ours(args.no_build)
    ensure_reference()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hg-compare-bench-") as work:
        agent = os.path.join(work, "agent.json")
        with open(agent, "w") as f:
            json.dump({"iterations": {"default": {"attempt": {"delay_ms": AGENT_MS}}}}, f)
        for size in sizes:
            tpl = os.path.join(work, f"tpl-{size}")
            make_template(tpl, size)
            samples = {k: [] for k in ("j1", "j2", "ref", "j1_1", "ref_1", "cp", "a8", "a1")}
            n = reps if size < 10000 else max(2, reps - 2)
            log(f"template {size} files: {n} repetitions, interleaved")
            for rep in range(n):
                note = f"{size} files, rep {rep + 1}"
                samples["j1"].append(measure("ours", tpl, work, TRIALS, 1, note))
                samples["ref"].append(measure("ref", tpl, work, TRIALS, 1, note))
                samples["j2"].append(measure("ours", tpl, work, TRIALS, 2, note))
                samples["j1_1"].append(measure("ours", tpl, work, 1, 1, note))
                samples["ref_1"].append(measure("ref", tpl, work, 1, 1, note))
                samples["a8"].append(measure("ours", tpl, work, TRIALS, 1, note, agent))
                samples["a1"].append(measure("ours", tpl, work, 1, 1, note, agent))
                samples["cp"].append(cp_time(tpl, work))
            results[size] = samples

    def med(xs):
        return statistics.median(xs)

    def overhead(big, small):
        # Per repetition: start-up cancels out; the tool's own runner + post time is removed.
        return med([(b["wall"] - s["wall"]) / (2 * TRIALS - 2) - b["inner"]
                    for b, s in zip(big, small)])

    load = os.getloadavg()
    log("")
    log(f"Date {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, workspaces in {tempfile.gettempdir()}, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    log("")
    log(f"wall time of a 2x{TRIALS}-trial fake compare with a post command (median)")
    hdr = (f"{'files':>6} {'ours -j1 ms':>12} {'ours -j2 ms':>12} {'ref ms':>10} "
           f"{'ref/ours-j1':>12} {'ref/ours-j2':>12} {'j1/j2':>7}")
    log(hdr)
    log("-" * len(hdr))
    for size, s in results.items():
        j1, j2, ref = (med([x["wall"] for x in s[k]]) for k in ("j1", "j2", "ref"))
        ratio = lambda a, b: med([x["wall"] / y["wall"] for x, y in zip(s[a], s[b])])
        log(f"{size:>6} {ms(j1):>12} {ms(j2):>12} {ms(ref):>10} "
            f"{ratio('ref', 'j1'):>11.1f}x {ratio('ref', 'j2'):>11.1f}x {ratio('j1', 'j2'):>6.2f}x")
    log("")
    log("per-trial overhead beyond the runner's own time (and the post command's), median ms")
    hdr = (f"{'files':>6} {'ref':>8} {'ours':>8} {'ref/ours':>9} "
           f"{'ours, agent':>12} {'ref/ours':>9} {'ours copy':>10} {'cp -r':>7}")
    log(hdr)
    log("-" * len(hdr))
    verdict = None
    for size, s in results.items():
        ours = overhead(s["j1"], s["j1_1"])
        ref = overhead(s["ref"], s["ref_1"])
        agent = overhead(s["a8"], s["a1"])
        prep = med([x["prepare"] for x in s["j1"]])
        ratio = ref / ours if ours > 0 else float("inf")
        ratio_agent = ref / agent if agent > 0 else float("inf")
        log(f"{size:>6} {ms(ref):>8} {ms(ours):>8} {ratio:>8.1f}x {ms(agent):>12} "
            f"{ratio_agent:>8.1f}x {ms(prep):>10} {ms(med(s['cp'])):>7}")
        if size == 1000:
            verdict = (ratio, ratio_agent)
    log("")
    log("ours: instant fake agent, so the next workspace copy cannot overlap anything;")
    log(f"ours, agent: the fake agent's attempt takes {AGENT_MS} ms, during which the next trial's")
    log("workspace is prepared (the reference's fake agent cannot wait; its overhead is additive);")
    log("ours copy: median timings.prepare_seconds (template copy + hashing + harness copy);")
    log("cp -r: copying the template with cp, the physical limit of one copy.")
    if verdict is not None:
        log(f"target (>= 10x lower per-trial overhead than the reference, 1,000 files): "
            f"instant agent {verdict[0]:.1f}x ({'met' if verdict[0] >= 10 else 'not met'}), "
            f"{AGENT_MS} ms agent {verdict[1]:.1f}x ({'met' if verdict[1] >= 10 else 'not met'})")
    with open(os.path.join(BENCH_DIR, "compare_last_results.json"), "w") as f:
        json.dump({str(k): v for k, v in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
