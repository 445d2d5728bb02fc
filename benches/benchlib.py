"""Set-up shared by the benchmarks that run against the Python reference (harnessgym==0.1.1):
paths, messages, our release build, and the reference venv under target/bench/pyref."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "target", "release", "harnessgym")
BENCH_DIR = os.path.join(ROOT, "target", "bench")
VENV = os.path.join(BENCH_DIR, "pyref")
REF = os.path.join(VENV, "bin", "harnessgym")
REF_PY = os.path.join(VENV, "bin", "python3")
REF_VERSION = "0.1.1"


def die(msg):
    print(f"\nBENCHMARK FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


def build_ours(skip=False):
    """`cargo build --release -p harnessgym` (or reuse the binary when `skip` and it exists)."""
    if skip and os.access(OURS, os.X_OK):
        log(f"ours: reusing {OURS}")
        return
    log("building: cargo build --release -p harnessgym")
    r = subprocess.run(["cargo", "build", "--release", "-p", "harnessgym"], cwd=ROOT)
    if r.returncode != 0 or not os.access(OURS, os.X_OK):
        die(f"cargo build --release -p harnessgym failed (exit {r.returncode})")


def ensure_reference():
    def installed_version():
        if not os.access(REF, os.X_OK):
            return None
        r = subprocess.run(
            [REF_PY, "-c", "import importlib.metadata as m; print(m.version('harnessgym'))"],
            capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    if installed_version() == REF_VERSION:
        log(f"reference: reusing {VENV} (harnessgym {REF_VERSION})")
        return
    log(f"reference: creating venv {VENV} and installing harnessgym=={REF_VERSION}")
    os.makedirs(BENCH_DIR, exist_ok=True)
    if not os.access(REF_PY, os.X_OK):
        if subprocess.run([sys.executable, "-m", "venv", VENV]).returncode != 0:
            die("python3 -m venv failed")
    r = subprocess.run([REF_PY, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"harnessgym=={REF_VERSION}"])
    if r.returncode != 0 or installed_version() != REF_VERSION:
        die(f"pip install harnessgym=={REF_VERSION} failed")
