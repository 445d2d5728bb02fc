#!/usr/bin/env python3
"""A configurable stdio MCP server for HarnessGym's tests, in either framing, with misbehaviours.

Usage: mcp_server.py [--framing ndjson|content-length] [options]

Framing and transport:
  --framing F           what it reads and writes (default ndjson). The content-length reader is
                        the original's "reader A": byte by byte until CRLFCRLF or LFLF, so a JSON
                        line alone makes it wait, like the original's generated servers.
  --header-style S      content-length headers: crlf (default), lf ("\\n\\n"), extra (lower-case
                        name, a Content-Type header first, CRLF)
  --pretty              pretty-printed (multi-line) JSON bodies
  --banner              write a junk line to stdout at start
  --crash-on-junk       exit 1 on input that is not JSON (else it is skipped)

Behaviour:
  --log FILE            append every message received as one JSON line
  --pidfile FILE        write the pid; with --grandchild also FILE.child (a `sleep 300` in the group)
  --init-delay-ms N     delay the initialize answer
  --never-answer        read everything, answer nothing
  --exit-at-start CODE  exit at once
  --stderr-before-init N  write N bytes to stderr before answering initialize
  --tools-list-error    answer tools/list with a JSON-RPC error
  --notify-before-reply send notifications/message before every response
  --paged               tools/list in two pages (nextCursor)
  --ignore-term         ignore SIGTERM

Tools (tools/call name):
  echo     text = JSON of the arguments (sorted keys)
  record   text = "recorded: <text>"
  fail     result.isError = true
  boom     JSON-RPC error -32001 "boom"
  hold     no reply until a later `release` call (answered after release's own reply)
  release  "released", then the held replies
  ask      sends a notification and a server->client request (roots/list), then answers with
           the client's reply to it
  flood    writes arguments.bytes bytes to stderr, then answers
  big      a text result of arguments.bytes characters (arguments.pattern repeated, default "b")
  sleep    sleeps arguments.ms, then answers
  die      exits with code 3 without answering
  garbage  writes garbage to stdout, then answers
"""

import json
import os
import signal
import subprocess
import sys
import time

ARGS = sys.argv[1:]


def opt(name, default=None):
    if name in ARGS:
        i = ARGS.index(name)
        return ARGS[i + 1]
    return default


def flag(name):
    return name in ARGS


FRAMING = opt("--framing", "ndjson")
HEADER_STYLE = opt("--header-style", "crlf")
LOG = opt("--log")
PIDFILE = opt("--pidfile")
INIT_DELAY = int(opt("--init-delay-ms", "0"))
STDERR_BEFORE_INIT = int(opt("--stderr-before-init", "0"))

IN = sys.stdin.buffer
OUT = sys.stdout.buffer

TOOLS = [
    {"name": n, "description": n, "inputSchema": {"type": "object"}}
    for n in ["echo", "record", "fail", "boom", "hold", "release", "ask", "flood", "big",
              "sleep", "die", "garbage"]
]

held = []  # (id) of held calls
waiting = {}  # server request id -> client request id awaiting it


def log(msg):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(msg, sort_keys=True) + "\n")


def dump(msg):
    if flag("--pretty"):
        return json.dumps(msg, indent=2).encode()
    return json.dumps(msg, separators=(",", ":")).encode()


def write(msg):
    body = dump(msg)
    if FRAMING == "ndjson":
        OUT.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
    elif HEADER_STYLE == "lf":
        OUT.write(b"Content-Length: %d\n\n" % len(body) + body)
    elif HEADER_STYLE == "extra":
        OUT.write(b"Content-Type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    else:
        OUT.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    OUT.flush()


def read():
    """One message (None at EOF, "junk" for unparsable input)."""
    if FRAMING == "ndjson":
        while True:
            line = IN.readline()
            if not line:
                return None
            if line.strip():
                break
        body = line
    else:
        header = b""
        while b"\r\n\r\n" not in header and b"\n\n" not in header:
            b = IN.read(1)
            if not b:
                return None
            header += b
        sep = b"\r\n\r\n" if b"\r\n\r\n" in header else b"\n\n"
        head = header.split(sep)[0].decode("ascii", "replace")
        length = 0
        for line in head.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
        if length <= 0:
            return None
        body = IN.read(length)
    try:
        return json.loads(body)
    except ValueError:
        if flag("--crash-on-junk"):
            sys.exit(1)
        return "junk"


def result(mid, res):
    return {"jsonrpc": "2.0", "id": mid, "result": res}


def text(mid, t, is_error=False):
    return result(mid, {"content": [{"type": "text", "text": t}], "isError": is_error})


def handle(msg, out):
    """Handles one message; appends immediate replies to `out`."""
    if not isinstance(msg, dict):
        return
    method = msg.get("method")
    mid = msg.get("id")
    if method is None:
        # A response from the client to one of our requests.
        if mid in waiting:
            client_id = waiting.pop(mid)
            out.append(text(client_id, "client answered: " + json.dumps(msg.get("result"), sort_keys=True)))
        return
    if mid is None:
        return  # a notification
    if flag("--never-answer"):
        return
    params = msg.get("params") or {}
    if flag("--notify-before-reply"):
        write({"jsonrpc": "2.0", "method": "notifications/message",
               "params": {"level": "info", "data": "about to answer %s" % method}})
    if method == "initialize":
        if STDERR_BEFORE_INIT:
            chunk = b"e" * 4095 + b"\n"
            left = STDERR_BEFORE_INIT
            while left > 0:
                sys.stderr.buffer.write(chunk[:left])
                left -= len(chunk)
            sys.stderr.buffer.flush()
        time.sleep(INIT_DELAY / 1000.0)
        out.append(result(mid, {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                                "serverInfo": {"name": "test-server", "version": "1"}}))
    elif method == "ping":
        out.append(result(mid, {}))
    elif method == "tools/list":
        if flag("--tools-list-error"):
            out.append({"jsonrpc": "2.0", "id": mid, "error": {"code": -32603, "message": "tool registry exploded"}})
        elif flag("--paged") and not params.get("cursor"):
            out.append(result(mid, {"tools": TOOLS[:2], "nextCursor": "page2"}))
        elif flag("--paged"):
            out.append(result(mid, {"tools": TOOLS[2:]}))
        else:
            out.append(result(mid, {"tools": TOOLS}))
    elif method == "tools/call":
        call(mid, params.get("name"), params.get("arguments") or {}, out)
    else:
        out.append({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "method not found: %s" % method}})


def call(mid, name, args, out):
    if name == "echo":
        out.append(text(mid, json.dumps(args, sort_keys=True)))
    elif name == "record":
        out.append(text(mid, "recorded: %s" % args.get("text", "")))
    elif name == "fail":
        out.append(text(mid, "it failed", True))
    elif name == "boom":
        out.append({"jsonrpc": "2.0", "id": mid, "error": {"code": -32001, "message": "boom"}})
    elif name == "hold":
        held.append(mid)
    elif name == "release":
        out.append(text(mid, "released"))
        while held:
            out.append(text(held.pop(0), "held reply"))
    elif name == "ask":
        write({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 0.5}})
        waiting["srv-1"] = mid
        write({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list", "params": {}})
    elif name == "flood":
        n = int(args.get("bytes", 1 << 20))
        chunk = b"x" * 8191 + b"\n"
        while n > 0:
            sys.stderr.buffer.write(chunk[:n])
            n -= len(chunk)
        sys.stderr.buffer.flush()
        out.append(text(mid, "flooded"))
    elif name == "big":
        n = int(args.get("bytes", 1000))
        pattern = args.get("pattern", "b")
        out.append(text(mid, (pattern * (n // len(pattern) + 1))[:n]))
    elif name == "sleep":
        time.sleep(int(args.get("ms", 100)) / 1000.0)
        out.append(text(mid, "slept"))
    elif name == "die":
        sys.exit(3)
    elif name == "garbage":
        OUT.write(b"\x00\xffnot json at all\n")
        OUT.flush()
        out.append(text(mid, "after garbage"))
    else:
        out.append(text(mid, "unknown tool %s" % name, True))


def main():
    if flag("--ignore-term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if PIDFILE:
        with open(PIDFILE + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(PIDFILE + ".tmp", PIDFILE)
        if flag("--grandchild"):
            child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(PIDFILE + ".child", "w") as f:
                f.write(str(child.pid))
    if opt("--exit-at-start") is not None:
        sys.exit(int(opt("--exit-at-start")))
    if flag("--banner"):
        OUT.write(b"test-server starting up\n")
        OUT.flush()
    while True:
        msg = read()
        if msg is None:
            return
        log(msg)
        if msg == "junk":
            continue
        out = []
        if isinstance(msg, list):
            for m in msg:
                handle(m, out)
            if out:
                write(out)
        else:
            handle(msg, out)
            for o in out:
                write(o)


if __name__ == "__main__":
    main()
