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
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "error: Node.js $(node --version) is too old for the UI build (Vite 8 needs 20.19+); install Node.js 20 or newer" >&2
    exit 1
  fi
}

# The desktop app (Tauri 2 on WebKitGTK) needs these to build and run; the tests also need a
# virtual display, WebKit's WebDriver and Debian's Chromium.
DESKTOP_PACKAGES="build-essential pkg-config curl wget file libssl-dev libwebkit2gtk-4.1-dev
  libxdo-dev libayatana-appindicator3-dev librsvg2-dev fonts-dejavu-core"
TEST_PACKAGES="webkit2gtk-driver xvfb xauth x11-utils chromium imagemagick"

need_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] || apt_install --no-install-recommends "${missing[@]}"
}

need_desktop_deps() {
  # shellcheck disable=SC2086
  need_packages $DESKTOP_PACKAGES
}

need_test_deps() {
  # shellcheck disable=SC2086
  need_packages $TEST_PACKAGES
  command -v tauri-driver >/dev/null || {
    echo "==> cargo install tauri-driver 2.1.0"
    cargo install tauri-driver --version 2.1.0 --locked --quiet
  }
}

# npm packages (from package-lock.json) and the built UI that both shells embed.
build_ui() {
  need_node
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "==> npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  echo "==> building the UI (ui/dist)"
  npm run --silent build -- --logLevel warn
}
