#!/usr/bin/env python3
"""Builds a demo workspace that holds every kind of HarnessGym run, for the desktop UI.

    python3 scripts/demo_workspace.py --bin target/debug/harnessgym OUT_DIR [--many N] [--big-stdout MB]

OUT_DIR becomes a copy of examples/numerical_debug_task, and `harnessgym run --runner fake` is run
in it several times with fixed run ids and `--fake-script` scenarios: a solved demo run, a run
that never verifies, Codex- and Claude-shaped transcripts, failed and timed-out phases, ANSI
colours and a long stdout, damaged files, an interrupted run, and MCP telemetry for the call
views. One line is printed per run. Everything but the timestamps is the same on every call.

Exit status: 0 when every run ended as expected; 1 (with the reason on stderr) otherwise; 2 for
bad arguments or an OUT_DIR that is not empty.

The scenarios are written to OUT_DIR/.harnessgym/demo_scenarios/ (the index and the task-state
snapshots ignore that directory), so `harnessgym run --resume interrupted` works afterwards.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASK_DIR = REPO / "examples" / "numerical_debug_task"

EXIT_SOLVED, EXIT_UNSOLVED, EXIT_INTERRUPTED = 0, 3, 130  # 1 would be an error

BUGGY_NORM = "math.sqrt(sum(x * x for x in a)) + math.sqrt(sum(y * y for y in b))"
FIXED_NORM = "math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))"
VERIFIER_FAIL = (
    '{"status": "failed", "cases": 203, "failures": 202, '
    '"first_failure": {"case": 0, "got": 0.5, "want": 1.0}}\n'
)
VERIFIER_PASS = '{"status": "passed", "cases": 203, "failures": 0, "first_failure": null}\n'
BENCH_RESULT = '{"shape": [4096], "p50_ms": 1.84, "p95_ms": 2.31, "max_abs_err": 0.5, "runs": 50}'

# Run ids. The test (crates/cli/tests/demo_workspace.rs) checks these.
SOLVED = "solved-in-2"
NEVER = "never-solved"
CODEX = "codex-transcript"
CLAUDE = "claude-transcript"
FAILURES = "phase-failures"
ANSI = "ansi-long-output"
DAMAGED_RESULT = "damaged-result"
DAMAGED_SUMMARY = "damaged-summary"
INTERRUPTED = "interrupted"
BIG = "big-stdout"
BULK_PREFIX = "bulk-"

CODEX_THREAD_1 = "0199a7c2-5b1e-7d40-9f3a-2c6e8b41d0aa"
CODEX_THREAD_2 = "0199a7c3-0c4f-7a12-8e55-91d3f6a2b7c4"
CLAUDE_SESSION_1 = "5f0c2b9e-8d41-4a7b-9c3e-1f6a2d8e4b70"
CLAUDE_SESSION_2 = "a3e91c55-2b7d-4f08-8e6a-c4d1b9f03e26"


class DemoError(Exception):
    pass


def jl(*events):
    """JSON lines, one compact object each."""
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)


def skill(name, text):
    return {
        "kind": "skill",
        "path": f".harnessgym/skills/{name}/SKILL.md",
        "content": f"---\nname: {name}\ndescription: {text}\n---\n\n# {name}\n\n{text}\n",
        "description": text,
    }


# --- Codex (`codex exec --json`) -----------------------------------------------------------------


def codex_cmd(item_id, command, output, code):
    started = {
        "id": item_id,
        "type": "command_execution",
        "command": f"/bin/bash -lc '{command}'",
        "aggregated_output": "",
        "exit_code": None,
        "status": "in_progress",
    }
    done = dict(started, aggregated_output=output, exit_code=code,
                status="completed" if code == 0 else "failed")
    return [{"type": "item.started", "item": started}, {"type": "item.completed", "item": done}]


def codex_mcp(item_id, server, tool, arguments, text, is_error=False):
    started = {
        "id": item_id,
        "type": "mcp_tool_call",
        "server": server,
        "tool": tool,
        "arguments": arguments,
        "result": None,
        "error": None,
        "status": "in_progress",
    }
    done = dict(started, result={"content": [{"type": "text", "text": text}],
                                 "structured_content": None},
                status="failed" if is_error else "completed")
    return [{"type": "item.started", "item": started}, {"type": "item.completed", "item": done}]


def codex_msg(item_id, text):
    return {"type": "item.completed", "item": {"id": item_id, "type": "agent_message", "text": text}}


def codex_reasoning(item_id, text):
    return {"type": "item.completed", "item": {"id": item_id, "type": "reasoning", "text": text}}


def codex_usage(inp, cached, out, reasoning):
    return {"type": "turn.completed", "usage": {
        "input_tokens": inp, "cached_input_tokens": cached, "cache_write_input_tokens": 0,
        "output_tokens": out, "reasoning_output_tokens": reasoning}}


def codex_scenario():
    t1, t2 = CODEX_THREAD_1, CODEX_THREAD_2
    attempt1 = jl(
        {"type": "thread.started", "thread_id": t1},
        {"type": "turn.started"},
        codex_reasoning("item_0", "**Reading the task**\n\nThe task points at `cosine_similarity` "
                        "in kernel_ops.py and a verifier. Run the verifier first."),
        *codex_cmd("item_1", "python3 verifier.py", VERIFIER_FAIL, 1),
        *codex_cmd("item_2", "sed -n 1,40p kernel_ops.py",
                   (TASK_DIR / "kernel_ops.py").read_text(), 0),
        codex_msg("item_3", "The norm is a sum of the two vector norms instead of their product. "
                  "I have no quick way to check numerics on larger vectors, so I stop here and "
                  "ask for a probe tool."),
        codex_usage(18342, 12288, 911, 384),
    )
    reflection = jl(
        {"type": "thread.started", "thread_id": t1},
        {"type": "turn.started"},
        codex_reasoning("item_4", "**Choosing one improvement**\n\nA benchmark/numerics MCP tool "
                        "would have shown the error magnitude directly."),
        codex_msg("item_5", "Selected improvement: a `kernel` MCP server with `run_benchmark` "
                  "and a skill describing the norm bug class."),
        codex_usage(20110, 18176, 402, 256),
    )
    build = jl(
        {"type": "thread.started", "thread_id": t1},
        {"type": "turn.started"},
        {"type": "item.started", "item": {"id": "item_6", "type": "file_change", "changes": [
            {"path": ".harnessgym/skills/numerics-triage/SKILL.md", "kind": "add"}],
            "status": "in_progress"}},
        {"type": "item.completed", "item": {"id": "item_6", "type": "file_change", "changes": [
            {"path": ".harnessgym/skills/numerics-triage/SKILL.md", "kind": "add"}],
            "status": "completed"}},
        *codex_cmd("item_7", "cat .harnessgym/registry.json | head -5",
                   '{\n  "artifacts": [\n', 0),
        codex_msg("item_8", "Added the numerics-triage skill and registered it."),
        codex_usage(22904, 20096, 688, 128),
    )
    attempt2 = jl(
        {"type": "thread.started", "thread_id": t2},
        {"type": "turn.started"},
        codex_reasoning("item_0", "**Using the harness**\n\nThe numerics-triage skill says to "
                        "compare against a reference first, then benchmark."),
        *codex_cmd("item_1", "python3 verifier.py", VERIFIER_FAIL, 1),
        *codex_mcp("item_2", "kernel", "run_benchmark", {"shape": [4096], "runs": 50},
                   BENCH_RESULT),
        codex_msg("item_3", "max_abs_err 0.5 on unit vectors: the denominator adds the norms. "
                  "Replacing `+` with `*`."),
        {"type": "item.started", "item": {"id": "item_4", "type": "file_change", "changes": [
            {"path": "kernel_ops.py", "kind": "update"}], "status": "in_progress"}},
        {"type": "item.completed", "item": {"id": "item_4", "type": "file_change", "changes": [
            {"path": "kernel_ops.py", "kind": "update"}], "status": "completed"}},
        *codex_cmd("item_5", "python3 verifier.py", VERIFIER_PASS, 0),
        codex_msg("item_6", "Fixed `cosine_similarity`: the norms are multiplied now. "
                  "`python3 verifier.py` passes all 203 cases."),
        codex_usage(24816, 19200, 1432, 640),
    )
    fixed = (TASK_DIR / "kernel_ops.py").read_text().replace(BUGGY_NORM, FIXED_NORM)
    return {"iterations": {
        "1": {
            "attempt": {"session_id": t1, "status": "blocked", "stdout": attempt1,
                        "stderr": "Reading prompt from stdin...\n",
                        "result": {"status": "blocked", "verified": False,
                                   "summary": "Found the suspicious norm but could not check it.",
                                   "missing_tooling": ["a numerics benchmark tool"]}},
            "reflection": {"session_id": t1, "stdout": reflection,
                           "result": {"reflection": {"selected_improvement": {
                               "kind": "skill", "name": "numerics-triage",
                               "reason": "One page on checking kernels against a reference."}}}},
            "build": {"session_id": t1, "stdout": build,
                      "artifacts": [skill("numerics-triage",
                                          "Check a numerical kernel against an independent "
                                          "reference before changing it.")],
                      "result": {"status": "tooling_built"}},
        },
        "2": {
            "attempt": {"session_id": t2, "stdout": attempt2,
                        "stderr": "Reading prompt from stdin...\n",
                        "files": {"kernel_ops.py": fixed},
                        "result": {"status": "solved", "verified": True,
                                   "summary": "Multiplied the norms; the verifier passes.",
                                   "verification": {"status": "passed",
                                                    "command": "python3 verifier.py"}}},
        },
    }}


# --- Claude Code (`claude -p --output-format stream-json --verbose`) -----------------------------


def claude_init(session):
    return {
        "type": "system", "subtype": "init", "cwd": "/workspace", "session_id": session,
        "tools": ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite",
                  "mcp__kernel__run_benchmark", "mcp__kernel__check_numerics"],
        "mcp_servers": [{"name": "kernel", "status": "connected"}],
        "model": "claude-sonnet-4-5-20250929", "permissionMode": "bypassPermissions",
        "slash_commands": ["compact", "context", "cost"], "apiKeySource": "ANTHROPIC_API_KEY",
        "claude_code_version": "2.1.197", "output_style": "default", "agents": [],
        "skills": ["hg-numerics-triage"], "plugins": [],
        "uuid": "0b6e2f1a-7c3d-4e58-9a21-d4f7b8c6e012",
    }


def claude_assistant(session, n, content, meta=None):
    ev = {"type": "assistant", "message": {
        "id": f"msg_01Demo{n:04d}", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": content, "stop_reason": None,
        "usage": {"input_tokens": 12 + n, "cache_read_input_tokens": 14210 + 300 * n,
                  "output_tokens": 80 + 7 * n}},
        "parent_tool_use_id": None, "session_id": session,
        "uuid": f"4c1d{n:04d}-0000-4000-8000-00000000a{n:03d}"}
    if meta:
        ev["tool_use_meta"] = meta
    return ev


def claude_tool_result(session, n, tool_use_id, text, is_error=False):
    return {"type": "user", "message": {"role": "user", "content": [
        {"tool_use_id": tool_use_id, "type": "tool_result", "content": text,
         "is_error": is_error}]},
        "parent_tool_use_id": None, "session_id": session,
        "uuid": f"7e2f{n:04d}-0000-4000-8000-00000000b{n:03d}",
        "tool_use_result": {"stdout": text if not is_error else "",
                            "stderr": text if is_error else "", "interrupted": False},
        "timestamp": f"2026-11-25T12:00:{n:02d}.000Z"}


def claude_result(session, turns, cost, text, duration):
    return {"type": "result", "subtype": "success", "is_error": False,
            "duration_ms": duration, "duration_api_ms": duration - 900, "num_turns": turns,
            "result": text, "stop_reason": "end_turn", "session_id": session,
            "total_cost_usd": cost,
            "usage": {"input_tokens": 58, "cache_creation_input_tokens": 4120,
                      "cache_read_input_tokens": 61840, "output_tokens": 1377,
                      "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"},
            "modelUsage": {"claude-sonnet-4-5-20250929": {
                "inputTokens": 58, "outputTokens": 1377, "cacheReadInputTokens": 61840,
                "cacheCreationInputTokens": 4120, "costUSD": cost}},
            "permission_denials": [], "terminal_reason": "completed",
            "uuid": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}


def claude_scenario():
    s1, s2 = CLAUDE_SESSION_1, CLAUDE_SESSION_2
    bench_meta = [{"id": "toolu_01Bench", "display_name": "run_benchmark",
                   "server_display_name": "kernel"}]
    attempt1 = jl(
        claude_init(s1),
        claude_assistant(s1, 1, [{"type": "text", "text": "Let me run the verifier first."}]),
        claude_assistant(s1, 2, [{"type": "tool_use", "id": "toolu_01Verify", "name": "Bash",
                                  "input": {"command": "python3 verifier.py",
                                            "description": "Run the verifier"}}]),
        claude_tool_result(s1, 3, "toolu_01Verify", "Exit code 1\n" + VERIFIER_FAIL, True),
        claude_assistant(s1, 4, [{"type": "tool_use", "id": "toolu_01Bench",
                                  "name": "mcp__kernel__run_benchmark",
                                  "input": {"shape": [4096], "runs": 50}}], bench_meta),
        claude_tool_result(s1, 5, "toolu_01Bench",
                           "tool timed out after 30000 ms (server kernel)", True),
        claude_assistant(s1, 6, [{"type": "text", "text":
                                  "The benchmark server timed out and the verifier fails on "
                                  "case 0 (got 0.5, want 1.0). Stopping: I need a faster probe."}]),
        claude_result(s1, 4, 0.0412, "Blocked: verifier fails, benchmark tool timed out.", 18234),
    )
    reflection = jl(
        claude_init(s1),
        claude_assistant(s1, 7, [{"type": "text", "text":
                                  "Improvement: a numerics check tool that answers in under a "
                                  "second, so the benchmark timeout does not block the attempt."}]),
        claude_result(s1, 1, 0.0093, "Selected a check_numerics tool.", 4120),
    )
    build = jl(
        claude_init(s1),
        claude_assistant(s1, 8, [{"type": "tool_use", "id": "toolu_01Write", "name": "Write",
                                  "input": {"file_path": ".harnessgym/tools/check_numerics.py",
                                            "content": "..."}}]),
        claude_tool_result(s1, 9, "toolu_01Write",
                           "File created successfully at: .harnessgym/tools/check_numerics.py"),
        claude_assistant(s1, 10, [{"type": "text", "text": "Built check_numerics.py."}]),
        claude_result(s1, 2, 0.0187, "Built and registered .harnessgym/tools/check_numerics.py.",
                      9870),
    )
    attempt2 = jl(
        claude_init(s2),
        claude_assistant(s2, 1, [{"type": "text", "text":
                                  "I'll start with the numerics check from the harness."}]),
        claude_assistant(s2, 2, [{"type": "tool_use", "id": "toolu_02Bench",
                                  "name": "mcp__kernel__run_benchmark",
                                  "input": {"shape": [4096], "runs": 50}}],
                         [{"id": "toolu_02Bench", "display_name": "run_benchmark",
                           "server_display_name": "kernel"}]),
        claude_tool_result(s2, 3, "toolu_02Bench", BENCH_RESULT),
        claude_assistant(s2, 4, [{"type": "tool_use", "id": "toolu_02Edit", "name": "Edit",
                                  "input": {"file_path": "kernel_ops.py",
                                            "old_string": BUGGY_NORM,
                                            "new_string": FIXED_NORM}}]),
        claude_tool_result(s2, 5, "toolu_02Edit", "The file kernel_ops.py has been updated."),
        claude_assistant(s2, 6, [{"type": "tool_use", "id": "toolu_02Verify", "name": "Bash",
                                  "input": {"command": "python3 verifier.py",
                                            "description": "Run the verifier"}}]),
        claude_tool_result(s2, 7, "toolu_02Verify", VERIFIER_PASS),
        claude_assistant(s2, 8, [{"type": "text", "text":
                                  "Fixed: the denominator multiplies the norms. "
                                  "The verifier passes all 203 cases."}]),
        claude_result(s2, 5, 0.0731, "Fixed cosine_similarity; verifier passes.", 26540),
    )
    tool_src = ("#!/usr/bin/env python3\n\"\"\"Checks kernel_ops against a reference on a few "
                "vectors.\"\"\"\nimport subprocess, sys\n"
                "sys.exit(subprocess.call([sys.executable, 'verifier.py']))\n")
    fixed = (TASK_DIR / "kernel_ops.py").read_text().replace(BUGGY_NORM, FIXED_NORM)
    return {"iterations": {
        "1": {
            "attempt": {"session_id": s1, "status": "blocked", "stdout": attempt1,
                        "result": {"status": "blocked", "verified": False,
                                   "summary": "Verifier fails; the benchmark tool timed out.",
                                   "blockers": ["kernel.run_benchmark timed out"]}},
            "reflection": {"session_id": s1, "stdout": reflection,
                           "result": {"reflection": {"selected_improvement": {
                               "kind": "tool", "name": "check_numerics",
                               "target_path": ".harnessgym/tools/check_numerics.py"}}}},
            "build": {"session_id": s1, "stdout": build,
                      "artifacts": [{"kind": "tool",
                                     "path": ".harnessgym/tools/check_numerics.py",
                                     "content": tool_src,
                                     "description": "Runs the verifier with a short summary."}],
                      "result": {"status": "tooling_built"}},
        },
        "2": {
            "attempt": {"session_id": s2, "stdout": attempt2,
                        "files": {"kernel_ops.py": fixed},
                        "result": {"status": "solved", "verified": True,
                                   "summary": "Fixed the norm; the verifier passes.",
                                   "verification": {"status": "passed",
                                                    "command": "python3 verifier.py"}}},
        },
    }}


# --- the other scenarios ---------------------------------------------------------------------


def solved_scenario():
    # Unscripted phases play the built-in demo; the first build also adds a skill.
    return {"iterations": {"1": {"build": {"demo": True, "artifacts": [
        skill("kernel-debugging", "Run verifier.py, read first_failure, fix the formula.")]}}}}


def never_solved_scenario():
    scores = [41.7, 27.3, 18.9]
    its = {}
    for n, score in enumerate(scores, 1):
        its[str(n)] = {
            "attempt": {
                "stdout": f"tuning the kernel, round {n}\nbenchmark p50: {score} ms\n",
                "result": {"status": "improved", "verified": False,
                           "summary": f"p50 down to {score} ms; the verifier still fails.",
                           "metrics": {"score": score, "p50_ms": score,
                                       "p95_ms": round(score * 1.31, 1)}}},
            "reflection": {"stdout": f"Reflection {n}: the remaining error is in the norm.\n",
                           "result": {"reflection": {"recommendations": [
                               "Vectorise the inner loops.", "Check the norm formula."]}}},
            "build": {"stdout": f"Build {n}: notes updated.\n",
                      "artifacts": [skill(f"tuning-notes-{n}",
                                          f"What round {n} of tuning learned.")]},
        }
    return {"iterations": its}


def failures_scenario():
    return {"iterations": {
        "1": {
            "attempt": {"status": "failed", "return_code": 1,
                        "stdout": "starting agent\n",
                        "stderr": "error: model request failed: 500 Internal Server Error\n",
                        "result": {"status": "failed", "verified": False,
                                   "summary": "The agent crashed."}},
            "reflection": {"stdout": "thinking...\n", "delay_ms": 5000},
            "build": {"status": "failed", "return_code": 2,
                      "stderr": "Traceback (most recent call last):\n  File \"build.py\", "
                                "line 3\nPermissionError: [Errno 13] Permission denied\n"},
        },
        "2": {
            "attempt": {"stdout": "working on it\n", "delay_ms": 5000},
            "reflection": {"stdout": "Reflection: the attempt ran out of time.\n"},
            "build": {"stdout": "Build: nothing to add.\n"},
        },
    }}


def ansi_scenario():
    esc = "\u001b"
    stderr = "".join([
        f"{esc}[1mharnessgym demo agent{esc}[0m v1.0\n",
        f"{esc}[32m✔{esc}[0m loaded 3 files\n",
        f"{esc}[33mwarning{esc}[0m: kernel_ops.py:12 suspicious expression\n",
        f"{esc}[31merror{esc}[0m: verifier failed ({esc}[1m202{esc}[0m of 203 cases)\n",
        f"{esc}[38;5;208m256-colour orange{esc}[0m {esc}[38;5;45mcyan{esc}[0m "
        f"{esc}[48;5;236m{esc}[38;5;255m on grey {esc}[0m\n",
        f"{esc}[38;2;255;105;180mtrue-colour pink{esc}[0m {esc}[4munderlined{esc}[0m "
        f"{esc}[2mdim{esc}[0m {esc}[7mreverse{esc}[0m\n",
    ])
    stdout = "".join(
        f"{esc}[36m[{i:04d}]{esc}[0m step {i}: "
        + (f"{esc}[31mFAIL{esc}[0m" if i % 7 == 0 else f"{esc}[32mok{esc}[0m") + "\n"
        for i in range(1, 201))
    return {"iterations": {"1": {
        "attempt": {"stdout": stdout, "stderr": stderr, "stdout_bytes": 2_000_000,
                    "result": {"status": "blocked", "verified": False,
                               "summary": "Lots of output, no fix."}},
        "reflection": {"stdout": "Reflection: too much log output.\n"},
        "build": {"stdout": "Build: nothing.\n"},
    }}}


def damaged_result_scenario():
    return {"iterations": {
        "1": {"attempt": {"stdout": "writing result.json\n",
                          "result_raw": '{"status": "solved", "verified": tr'},
              "reflection": {"stdout": "Reflection: result.json was cut off.\n"},
              "build": {"stdout": "Build: the registry write was cut off too.\n",
                        "registry_raw": '{"artifacts": [{"kind": "tool", "pa'}},
        "2": {"attempt": {"stdout": "second try\n",
                          "result": {"status": "blocked", "verified": False,
                                     "summary": "Still not fixed."}},
              "reflection": {"stdout": "Reflection.\n"},
              "build": {"stdout": "Build.\n"}},
    }}


def small_solved_scenario(text):
    return {"iterations": {"1": {"attempt": {
        "stdout": text + "\n",
        "result": {"status": "solved", "verified": True, "summary": text,
                   "metrics": {"score": 1.0}}}}}}


def interrupted_scenario():
    return {"iterations": {"1": {"attempt": {
        "stdout": "a long attempt that the user stops\n", "delay_ms": 60_000}}}}


# --- driving harnessgym ------------------------------------------------------------------------


class Demo:
    def __init__(self, bin_path, ws):
        self.bin = bin_path
        self.ws = ws
        self.scenarios = ws / ".harnessgym" / "demo_scenarios"
        self.made = []

    def scenario_file(self, run_id, scenario):
        self.scenarios.mkdir(parents=True, exist_ok=True)
        path = self.scenarios / f"{run_id}.json"
        path.write_text(json.dumps(scenario, indent=2, ensure_ascii=False) + "\n")
        return path

    def command(self, run_id, scenario, iterations, extra):
        cmd = [str(self.bin), "run", "--runner", "fake", "--task", "task.md",
               "--workspace", str(self.ws), "--run-id", run_id,
               "--iterations", str(iterations), "--json"]
        if scenario is not None:
            cmd += ["--fake-script", str(self.scenario_file(run_id, scenario))]
        return cmd + list(extra)

    def run(self, run_id, what, scenario, iterations, expect, extra=(), interrupt_after=None):
        cmd = self.command(run_id, scenario, iterations, extra)
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=self.ws, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if interrupt_after is not None:
            self.wait_for_attempt(run_id, proc, interrupt_after)
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise DemoError(f"run {run_id}: harnessgym did not end within 60 s\n{err}")
        secs = time.monotonic() - started
        if proc.returncode != expect:
            raise DemoError(
                f"run {run_id}: harnessgym run exited {proc.returncode}, expected {expect}\n"
                f"command: {' '.join(cmd)}\nstderr:\n{err.strip()}\nstdout:\n{out.strip()}")
        try:
            report = json.loads(out)
        except ValueError:
            raise DemoError(f"run {run_id}: --json output is not JSON:\n{out}\n{err}")
        self.line(run_id, f"exit={proc.returncode:<3} status={report.get('final_status')!s:<13} "
                  f"iterations={report.get('iterations')} {secs:5.2f}s  {what}")
        return report

    def wait_for_attempt(self, run_id, proc, after):
        """Waits until iteration 1 has started (its directory exists), then `after` seconds."""
        started = self.ws / ".harnessgym/runs" / run_id / "iterations/1"
        deadline = time.monotonic() + 20
        while not started.is_dir():
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        time.sleep(after)

    def line(self, run_id, text):
        self.made.append(run_id)
        print(f"{run_id:<20} {text}", flush=True)


def run_dir(ws, run_id):
    return ws / ".harnessgym" / "runs" / run_id


def backdate(root, seconds):
    when = time.time() - seconds
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            os.utime(Path(dirpath) / name, (when, when), follow_symlinks=False)
        os.utime(dirpath, (when, when))


def truncate_summary(ws, run_id):
    path = run_dir(ws, run_id) / "summary.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_big_stdout(path, megabytes):
    """Numbered log lines with some colour, streamed to `path` until it holds `megabytes` MiB."""
    esc = "\u001b"
    target = megabytes * 1024 * 1024
    written = 0
    n = 0
    levels = [f"{esc}[32mINFO{esc}[0m ", f"{esc}[32mINFO{esc}[0m ", f"{esc}[33mWARN{esc}[0m ",
              f"{esc}[32mINFO{esc}[0m ", f"{esc}[31mFAIL{esc}[0m "]
    with open(path, "wb") as f:
        block = []
        while written < target:
            n += 1
            line = (f"{n:09d} {levels[n % 5]}step={n} loss={1.0 / (1 + n % 997):.6f} "
                    f"grad_norm={(n * 7919) % 10007 / 1000:.3f} the quick brown fox\n").encode()
            if written + len(line) > target:  # the last line: plain filler, exact size
                line = b"." * (target - written - 1) + b"\n"
            block.append(line)
            written += len(line)
            if len(block) >= 4096:
                f.write(b"".join(block))
                block = []
        f.write(b"".join(block))
    return n


def copy_runs(ws, templates, first, last, width):
    """Makes bulk runs `first`..`last` as copies of the template runs (taken in turn), rewriting
    the run id in every file (run_id fields, paths, session ids). The templates are read once;
    the copies are written straight from memory."""
    sources = []
    for template_id in templates:
        src = run_dir(ws, template_id)
        files = []
        for root, _dirs, names in os.walk(src):
            for name in names:
                p = Path(root) / name
                files.append((p.relative_to(src), p.read_bytes()))
        sources.append((template_id.encode(), files))
    for k in range(first, last + 1):
        new_id = f"{BULK_PREFIX}{k:0{width}d}"
        dst = run_dir(ws, new_id)
        if dst.exists():
            raise DemoError(f"--many: {dst} already exists")
        old, files = sources[(k - 1) % len(sources)]
        made = set()
        for rel, data in files:
            target = dst / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data.replace(old, new_id.encode()))


# --- MCP telemetry -----------------------------------------------------------------------------


def started_at(ws, run_id):
    try:
        text = json.loads((run_dir(ws, run_id) / "summary.json").read_text())["started_at"]
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.now(timezone.utc)


def stamp(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# (run, iteration, phase, number of calls)
CALL_PLAN = [
    (SOLVED, 2, "attempt", 4),
    (NEVER, 1, "attempt", 5),
    (NEVER, 2, "attempt", 6),
    (NEVER, 3, "attempt", 7),
    (CODEX, 2, "attempt", 6),
    (CLAUDE, 1, "attempt", 4),
    (CLAUDE, 2, "attempt", 6),
    (CLAUDE, 1, "build", 2),
]
TOOLS = [("kernel", "run_benchmark", ["runs", "shape"]),
         ("kernel", "check_numerics", ["a", "b", "tolerance"]),
         ("docs", "search_docs", ["limit", "query"])]
TOOL_PATTERN = [0, 1, 0, 2, 0, 1, 0, 0, 2, 1]  # 5 run_benchmark, 3 check_numerics, 2 search_docs


def mcp_telemetry(ws):
    """Appends ours-format lines (with run/iteration/phase) and a few in the original's format
    (no run, `completed`/`error`, argument/result_json_bytes) to .harnessgym/mcp_calls.jsonl."""
    rng = random.Random(20261125)
    lines = []
    counts = {}
    req = 0
    for run_id, iteration, phase, n in CALL_PLAN:
        t = started_at(ws, run_id) + timedelta(seconds=iteration * 3)
        for j in range(n):
            req += 1
            # Tools and statuses follow fixed patterns (the test counts them); the sizes and
            # durations come from a seeded generator.
            server, tool, keys = TOOLS[TOOL_PATTERN[req % len(TOOL_PATTERN)]]
            status = "tool_error" if req % 9 == 4 else "timeout" if req % 19 == 7 else "ok"
            if run_id == CLAUDE and iteration == 1 and j == 0:
                status = "timeout"  # the transcript's timed-out run_benchmark
                server, tool, keys = TOOLS[0]
            if status == "timeout":
                duration = 30000
                resp = 112
                message = "no response from the server within 30000 ms"
            elif status == "tool_error":
                duration = rng.randint(5, 400)
                resp = rng.randint(150, 600)
                message = rng.choice(["shape must be a list of positive integers",
                                      "reference and kernel disagree on case 0",
                                      "index not built yet"])
            else:
                duration = rng.choice([rng.randint(3, 90), rng.randint(90, 2500)])
                resp = rng.randint(200, 48000)
                message = ""
            args = rng.randint(18, 220)
            t += timedelta(milliseconds=rng.randint(200, 4000))
            counts[tool] = counts.get(tool, 0) + 1
            lines.append({
                "argument_json_bytes": args, "argument_keys": keys, "created_at": stamp(t),
                "duration_ms": duration, "error_message": message, "framing": "ndjson",
                "iteration": iteration, "method": "tools/call", "phase": phase,
                "request_bytes": args + 96, "request_id": req, "response_bytes": resp,
                "result_json_bytes": max(resp - 40, 0), "run_id": run_id, "server": server,
                "status": status, "tool_name": tool})
    # The original's proxy: no run/phase, statuses completed/error/timeout.
    t = started_at(ws, SOLVED) - timedelta(minutes=5)
    for j, status in enumerate(["completed", "completed", "error", "completed"]):
        server, tool, keys = TOOLS[j % 2]
        t += timedelta(seconds=2)
        counts[tool] = counts.get(tool, 0) + 1
        lines.append({
            "argument_json_bytes": 31 + j, "argument_keys": keys, "created_at": stamp(t),
            "duration_ms": 40 + 17 * j,
            "error_message": "wrapped server exited" if status == "error" else "",
            "method": "tools/call", "request_id": 100 + j,
            "result_json_bytes": 0 if status == "error" else 840 + j,
            "server": server, "status": status, "tool_name": tool})
    with open(ws / ".harnessgym" / "mcp_calls.jsonl", "a") as f:
        for rec in lines:
            f.write(json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n")
    return len(lines), counts


def make_bulk(demo, ws, many):
    """`--many N`: bulk runs 1 (solved) and 2 (unsolved, with reflection and build) are real;
    the rest are copies of them, alternating."""
    width = max(5, len(str(many)))
    ids = [f"{BULK_PREFIX}{k:0{width}d}" for k in (1, 2)][:many]
    quick = ["--no-qualify-artifacts"]
    demo.run(ids[0], f"bulk run 1 of {many}, solved (template of the odd copies)",
             small_solved_scenario("bulk run"), 1, EXIT_SOLVED, quick)
    if many > 1:
        unsolved = {"iterations": {"1": {
            "attempt": {"stdout": "bulk run, not solved\n",
                        "result": {"status": "blocked", "verified": False,
                                   "metrics": {"score": 7.5}}},
            "reflection": {"stdout": "bulk reflection\n"},
            "build": {"stdout": "bulk build\n"}}}}
        demo.run(ids[1], f"bulk run 2 of {many}, not solved (template of the even copies)",
                 unsolved, 1, EXIT_UNSOLVED, quick)
    if many > 2:
        t = time.monotonic()
        copy_runs(ws, ids, 3, many, width)
        last = f"{BULK_PREFIX}{many:0{width}d}"
        demo.made.extend(f"{BULK_PREFIX}{k:0{width}d}" for k in range(3, many + 1))
        print(f"{BULK_PREFIX}{3:0{width}d}..{last}: {many - 2} copies of {ids[0]} and {ids[1]} "
              f"({time.monotonic() - t:.1f}s)", flush=True)


# --- main --------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the harnessgym binary")
    ap.add_argument("out_dir", help="the workspace to create (must not exist, or be empty)")
    ap.add_argument("--many", type=int, default=0, metavar="N",
                    help="also make N small runs (bulk-…), copies of one real run")
    ap.add_argument("--big-stdout", type=int, default=0, metavar="MB",
                    help="also make run big-stdout whose attempt stdout is MB MiB of log lines")
    args = ap.parse_args(argv)
    if args.many < 0 or args.big_stdout < 0:
        ap.error("--many and --big-stdout take a number >= 0")
    binary = Path(args.bin).resolve()
    if not os.access(binary, os.X_OK):
        ap.error(f"--bin {args.bin}: not an executable file")
    ws = Path(args.out_dir).resolve()
    if ws.exists() and (not ws.is_dir() or any(ws.iterdir())):
        print(f"demo_workspace: {ws} exists and is not an empty directory", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    ws.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TASK_DIR, ws, dirs_exist_ok=True)
    demo = Demo(binary, ws)
    try:
        build(demo, ws, args)
    except DemoError as e:
        print(f"demo_workspace: {e}", file=sys.stderr)
        return 1
    print(f"done: {len(demo.made)} runs in {ws}, {time.monotonic() - t0:.1f}s",
          flush=True)
    return 0


def build(demo, ws, args):
    # 7a. Damage first: an invalid result.json (recorded in that result.json) and a truncated
    # registry.json (recorded in summary.json). The registry is replaced by an empty one, so
    # this runs before the runs that build the harness shown in the artifact views.
    demo.run(DAMAGED_RESULT, "iteration 1: result.json invalid JSON, registry.json truncated",
             damaged_result_scenario(), 2, EXIT_UNSOLVED)
    # 1. The original demo (while kernel_ops.py is still buggy).
    demo.run(SOLVED, "built-in demo: blocked, probe tool + skill built, solved in iteration 2",
             solved_scenario(), 3, EXIT_SOLVED)
    # 2. Never verified; the score (lower is better) improves each iteration.
    demo.run(NEVER, "3 iterations, score 41.7 -> 27.3 -> 18.9, never verified",
             never_solved_scenario(), 3, EXIT_UNSOLVED, ["--optimization-mode"])
    # 3. and 4. Real-shaped client transcripts.
    demo.run(CODEX, "codex exec --json events, new thread in iteration 2, solved",
             codex_scenario(), 2, EXIT_SOLVED)
    demo.run(CLAUDE, "claude stream-json, MCP tool error/timeout, solved in iteration 2",
             claude_scenario(), 2, EXIT_SOLVED)
    # 5. Failed and timed-out phases.
    demo.run(FAILURES, "attempt failed, reflection timeout, build failed, attempt timeout",
             failures_scenario(), 2, EXIT_UNSOLVED,
             ["--attempt-timeout", "400ms", "--reflection-timeout", "300ms"])
    # 6. ANSI colours and ~2 MB of stdout.
    demo.run(ANSI, "ANSI colours in stdout/stderr, ~2 MB attempt stdout",
             ansi_scenario(), 1, EXIT_UNSOLVED)
    # 7b. A truncated summary.json (an index error); its files are dated two hours back, so the
    # index infers "interrupted" now and later (not "running" for the next 15 minutes).
    demo.run(DAMAGED_SUMMARY, "summary.json truncated afterwards, files dated 2 h back",
             small_solved_scenario("solved quickly; its summary gets damaged"), 1, EXIT_SOLVED)
    truncate_summary(ws, DAMAGED_SUMMARY)
    backdate(run_dir(ws, DAMAGED_SUMMARY), 2 * 3600)
    # 8. Interrupted with SIGINT during the first attempt.
    demo.run(INTERRUPTED, "SIGINT during the iteration 1 attempt (resume with --resume)",
             interrupted_scenario(), 2, EXIT_INTERRUPTED, interrupt_after=1.0)
    # 10. Benchmarks.
    if args.big_stdout:
        demo.run(BIG, f"attempt stdout replaced by {args.big_stdout} MiB of log lines",
                 small_solved_scenario("big stdout follows"), 1, EXIT_SOLVED)
        write_big_stdout(run_dir(ws, BIG) / "iterations/1/attempt.stdout.txt", args.big_stdout)
    if args.many:
        make_bulk(demo, ws, args.many)
    # 9. MCP telemetry for the call views.
    n, counts = mcp_telemetry(ws)
    per_tool = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{'mcp_calls.jsonl':<20} {n} calls appended ({per_tool})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
