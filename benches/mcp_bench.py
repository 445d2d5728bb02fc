#!/usr/bin/env python3
"""MCP proxy benchmark (issue 5): per-call latency of a tools/call with a 1 KB and a 1 MB result
through four paths, side by side in one run, and our proxy's peak memory.

    python3 benches/mcp_bench.py [--calls N] [--big-calls N] [--quick] [--no-build]

Paths, all with the same Content-Length client (this script) and the same Content-Length
server (written to target/bench/mcp_bench_server.py; it answers tools/call `blob` with a text
result of arguments.bytes bytes, pre-serialised, so the server costs the same in every path):

  direct    the client talks to the server itself
  relay     target/release/examples/byte_relay: copies bytes both ways without parsing (the
            physical limit of any stdio proxy)
  ours      target/release/harnessgym mcp-proxy --framing content-length (telemetry on)
  original  python -m harnessgym.mcp_telemetry_proxy (PyPI harnessgym==0.1.1, telemetry on)

For each size the four sessions are open at once and called in interleaved rounds (after a
warm-up), so load changes hit all paths alike. Added latency = path median - direct median.
Peak RSS is VmHWM from /proc/<pid>/status of the proxy process (not its server), read before
it exits; one proxy session per size (1 KB, 1 MB, 50 MB). Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "target" / "bench"
OURS = ROOT / "target" / "release" / "harnessgym"
RELAY = ROOT / "target" / "release" / "examples" / "byte_relay"
VENV = BENCH / "pyref"
SERVER = BENCH / "mcp_bench_server.py"
KB, MB = 1024, 1024 * 1024

SERVER_CODE = r'''
import json, sys
IN, OUT = sys.stdin.buffer, sys.stdout.buffer
cache = {}

def read():
    length = None
    while True:
        line = IN.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length is not None:
                break
            continue
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(IN.read(length))

def write(body):
    OUT.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    OUT.flush()

while True:
    msg = read()
    if msg is None:
        break
    mid = msg.get("id")
    if mid is None:
        continue
    method = msg.get("method")
    if method == "initialize":
        result = b'{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"bench","version":"1"}}'
    elif method == "tools/list":
        result = b'{"tools":[{"name":"blob","inputSchema":{"type":"object"}}]}'
    elif method == "tools/call":
        n = int(msg["params"]["arguments"]["bytes"])
        result = cache.get(n)
        if result is None:
            # A text result whose whole response is n bytes (the envelope is ~80 bytes).
            text = ("0123456789abcdef" * (n // 16 + 1))[: max(1, n - 100)]
            result = json.dumps({"content": [{"type": "text", "text": text}], "isError": False},
                                separators=(",", ":")).encode()
            cache[n] = result
    else:
        result = b"{}"
    write(b'{"jsonrpc":"2.0","id":' + json.dumps(mid).encode() + b',"result":' + result + b"}")
'''


class Session:
    """A Content-Length client for one path."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=cwd, bufsize=0)
        self.out = self.proc.stdout
        self.next_id = 0
        self.samples = []
        self.request({"protocolVersion": "2025-06-18", "capabilities": {},
                      "clientInfo": {"name": "mcp-bench", "version": "1"}}, "initialize")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg):
        body = json.dumps(msg, separators=(",", ":")).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def recv(self):
        length = None
        while True:
            line = self.out.readline()
            if not line:
                raise RuntimeError(f"{self.name}: the path closed its output")
            line = line.strip()
            if not line:
                if length is not None:
                    break
                continue
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = bytearray()
        while len(body) < length:
            chunk = self.out.read(length - len(body))
            if not chunk:
                raise RuntimeError(f"{self.name}: the path ended inside a frame")
            body += chunk
        return bytes(body)

    def request(self, params, method="tools/call"):
        self.next_id += 1
        mid = self.next_id
        self.send({"jsonrpc": "2.0", "id": mid, "method": method, "params": params})
        body = self.recv()
        # Cheap check on the envelope (the result itself is not parsed: same cost everywhere).
        head = body[:40]
        if b'"id":%d,' % mid not in head and b'"id": %d,' % mid not in head:
            raise RuntimeError(f"{self.name}: unexpected reply {body[:200]!r}")
        return body

    def call(self, size):
        t0 = time.perf_counter()
        body = self.request({"name": "blob", "arguments": {"bytes": size}})
        dt = time.perf_counter() - t0
        return dt, body

    def peak_rss(self):
        """VmHWM of the path's own process (the proxy), in bytes."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ensure_venv():
    python = VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import harnessgym.mcp_telemetry_proxy"],
                               capture_output=True)
        if check.returncode == 0:
            return python
    print(f"creating {VENV} with harnessgym==0.1.1 from PyPI ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "harnessgym==0.1.1"], check=True)
    return python


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "harnessgym"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "harnessgym_mcp", "--example",
                    "byte_relay"], cwd=ROOT, check=True)


def open_paths(tmp, pyref, which):
    server = [sys.executable, str(SERVER)]
    paths = {}
    if "direct" in which:
        paths["direct"] = Session("direct", server)
    if "relay" in which:
        paths["relay"] = Session("relay", [str(RELAY)] + server)
    if "ours" in which:
        paths["ours"] = Session("ours", [str(OURS), "mcp-proxy", "--server-name", "x",
                                         "--telemetry", str(tmp / "ours_calls.jsonl"),
                                         "--framing", "content-length", "--response-timeout",
                                         "60", "--"] + server)
    if "original" in which:
        env = dict(os.environ, HARNESSGYM_MCP_TELEMETRY_PATH=str(tmp / "orig_calls.jsonl"))
        paths["original"] = Session("original", [str(pyref), "-m",
                                                 "harnessgym.mcp_telemetry_proxy",
                                                 "--server-name", "x", "--response-timeout",
                                                 "60", "--"] + server, env=env, cwd=str(tmp))
    return paths


def measure(paths, size, calls, warmup, round_len):
    for s in paths.values():
        for _ in range(warmup):
            _, body = s.call(size)
        if not size - 100 <= len(body) <= size:
            raise RuntimeError(f"{s.name}: a {size}-byte call returned {len(body)} bytes")
    done = 0
    while done < calls:
        n = min(round_len, calls - done)
        for s in paths.values():
            for _ in range(n):
                s.samples.append(s.call(size)[0])
        done += n
    return {name: statistics.median(s.samples) for name, s in paths.items()}


def fmt_ms(x):
    return f"{x * 1000:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=2000, help="timed 1 KB calls per path")
    ap.add_argument("--big-calls", type=int, default=200, help="timed 1 MB calls per path")
    ap.add_argument("--quick", action="store_true", help="400 / 40 calls")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.calls, args.big_calls = 400, 40
    if not args.no_build:
        build()
    pyref = ensure_venv()
    BENCH.mkdir(parents=True, exist_ok=True)
    SERVER.write_text(SERVER_CODE)
    load_before = os.getloadavg()
    tmp_dir = tempfile.TemporaryDirectory(prefix="mcp-bench-")
    tmp = Path(tmp_dir.name)
    results = {}
    rss = {}
    for size, calls, label in [(KB, args.calls, "1 KB"), (MB, args.big_calls, "1 MB")]:
        paths = open_paths(tmp, pyref, ["direct", "relay", "ours", "original"])
        try:
            results[label] = measure(paths, size, calls, warmup=max(10, calls // 20),
                                     round_len=max(5, calls // 20))
            rss[label] = {name: s.peak_rss() for name, s in paths.items()}
        finally:
            for s in paths.values():
                s.close()
    # 50 MB: our proxy's memory (and latency next to the direct path), a few calls.
    big = 50 * MB
    paths = open_paths(tmp, pyref, ["direct", "ours"])
    try:
        results["50 MB"] = measure(paths, big, 3, warmup=1, round_len=1)
        rss["50 MB"] = {name: s.peak_rss() for name, s in paths.items()}
    finally:
        for s in paths.values():
            s.close()
    load_after = os.getloadavg()
    tmp_dir.cleanup()

    print(f"per-call latency, median ms (1 KB: {args.calls} calls, 1 MB: {args.big_calls} calls, "
          "50 MB: 3 calls per path)")
    print(f"{'result':>7} {'direct':>9} {'relay':>9} {'ours':>9} {'original':>9}   "
          f"{'+relay':>8} {'+ours':>8} {'+orig':>8}")
    for label, med in results.items():
        d = med["direct"]
        cells = [fmt_ms(med[p]) if p in med else "-" for p in ("direct", "relay", "ours",
                                                                 "original")]
        added = [fmt_ms(med[p] - d) if p in med else "-" for p in ("relay", "ours", "original")]
        print(f"{label:>7} " + " ".join(f"{c:>9}" for c in cells) + "   "
              + " ".join(f"{c:>8}" for c in added))
    print("(+path: added median latency over the direct path)")
    print()
    k, m = results["1 KB"], results["1 MB"]
    add_ours, add_orig = k["ours"] - k["direct"], k["original"] - k["direct"]
    add_relay = k["relay"] - k["direct"]
    checks = [
        ("1 KB added latency, ours / original", add_ours / add_orig, "< 0.1",
         add_ours / add_orig < 0.1),
        ("1 KB added latency, ours / relay", add_ours / add_relay, "<= 2",
         add_ours / add_relay <= 2),
        ("1 MB throughput, ours / original (= original ms / ours ms)", m["original"] / m["ours"],
         ">= 5", m["original"] / m["ours"] >= 5),
    ]
    for what, ratio, target, ok in checks:
        print(f"{what:<62} {ratio:7.2f}x  target {target:<5} {'met' if ok else 'NOT MET'}")
    print(f"{'  for reference, bare relay / original (1 KB added latency)':<62} "
          f"{add_relay / add_orig:7.2f}x  (the floor for the first ratio)")
    print(f"1 MB throughput: direct {MB / m['direct'] / MB:.0f} MB/s, relay "
          f"{MB / m['relay'] / MB:.0f}, ours {MB / m['ours'] / MB:.0f}, original "
          f"{MB / m['original'] / MB:.0f} (1 MiB over the median call time)")
    print()
    print("peak RSS (VmHWM) of the path's process, MiB; target for ours: < 20 + largest message")
    print(f"{'result':>7} {'ours':>8} {'target':>8} {'relay':>8} {'original':>9}")
    for label, size in [("1 KB", KB), ("1 MB", MB), ("50 MB", big)]:
        r = rss[label]
        mib = lambda v: f"{v / MB:.1f}" if v else "-"  # noqa: E731
        target = 20 + size / MB
        ok = r["ours"] is not None and r["ours"] / MB < target
        print(f"{label:>7} {mib(r['ours']):>8} {target:>8.1f} {mib(r.get('relay')):>8} "
              f"{mib(r.get('original')):>9}   {'met' if ok else 'NOT MET'}")
    print()
    print(f"load average before/after: {' '.join(f'{x:.2f}' for x in load_before)} / "
          f"{' '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs")
    raw = {label: {name: med for name, med in med.items()} for label, med in results.items()}
    (BENCH / "mcp_last_results.json").write_text(json.dumps({"median_s": raw, "peak_rss": rss},
                                                            indent=2))


if __name__ == "__main__":
    main()
