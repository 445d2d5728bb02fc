# Shared setup helpers for scripts/app and scripts/test.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root; run it as root or install sudo" >&2; return 1; fi
}

apt_install() {
  echo "==> installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_rust() {
  [ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
  if ! command -v cargo >/dev/null; then
    echo "error: cargo is missing; install a Rust toolchain (rustup, Rust 1.85 or newer) and rerun" >&2
    exit 1
  fi
}

need_python() {
  command -v python3 >/dev/null || apt_install python3
}

# The compatibility tests make a venv for the Python reference.
need_venv() {
  local probe
  probe=$(mktemp -d)
  if ! python3 -m venv "$probe/v" >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  rm -rf "$probe"
}

# The real-client tests install @openai/codex and @anthropic-ai/claude-code from npm.
need_node() {
  command -v npm >/dev/null && command -v node >/dev/null || apt_install nodejs npm
}
