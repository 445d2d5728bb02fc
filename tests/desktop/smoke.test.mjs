// Desktop smoke test: the real Tauri window (WebKitGTK) under Xvfb, driven over W3C WebDriver
// through tauri-driver + WebKitWebDriver (see ../../shared/spec/desktop-ci.md). It lists the runs
// of a workspace made by the fake runner — rows that can only come from Rust over Tauri IPC —
// and opens one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";

const root = resolve(import.meta.dirname, "../..");
const app = join(root, "target/debug/harnessgym-desktop");
const cli = join(root, "target/debug/harnessgym");
const children = [];
let base; // tauri-driver URL
let session;
let ws;
let ws2;
let stateFile;
let runIds;

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  child.lastStderr = () => err;
  children.push(child);
  return child;
}

// Plain fetch keeps connections alive (urllib's `Connection: close` breaks tauri-driver).
async function wd(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

const find = (css) => wd("POST", `/session/${session}/elements`, { using: "css selector", value: css });
const text = (el) => wd("GET", `/session/${session}/element/${Object.values(el)[0]}/text`);

async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

// Screenshots go to target/tmp/desktop/ for people (and CI logs) to look at; never asserted on.
async function screenshot(name) {
  await wd("POST", `/session/${session}/execute/async`, {
    script: "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(done));",
    args: [],
  });
  const png = await wd("GET", `/session/${session}/screenshot`);
  mkdirSync(join(root, "target/tmp/desktop"), { recursive: true });
  writeFileSync(join(root, "target/tmp/desktop", name), Buffer.from(png, "base64"));
}

before(async () => {
  for (const bin of [app, cli]) {
    assert.ok(existsSync(bin), `${bin} is missing: cargo build -p harnessgym -p harnessgym-desktop`);
  }
  const dir = mkdtempSync(join(tmpdir(), "hg-desktop-"));
  // The demo workspace (every kind of run), as `scripts/app` makes it.
  ws = join(dir, "demo");
  execFileSync("python3", [join(root, "scripts/demo_workspace.py"), "--bin", cli, ws], { stdio: "ignore" });
  ws2 = join(dir, "ws2");
  cpSync(join(root, "examples/numerical_debug_task"), ws2, { recursive: true });
  try {
    execFileSync(cli, ["run", "--task", "task.md", "--workspace", ws2, "--runner", "fake", "--iterations", "2", "--run-id", "smoke-c"], { stdio: "ignore" });
  } catch (e) {
    if (e.status !== 3) throw e; // 0 solved, 3 not solved: both made a run
  }
  stateFile = join(dir, "workspaces.json");
  runIds = readdirSync(join(ws, ".harnessgym/runs")).sort();
  assert.ok(runIds.includes("codex-transcript") && runIds.length >= 8, JSON.stringify(runIds));

  const display = `:${100 + Math.floor(Math.random() * 800)}`;
  const xvfb = start("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]);
  const port = await freePort();
  const nativePort = await freePort();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(xvfb.exitCode, null, `Xvfb did not start: ${xvfb.lastStderr()}`);
  const driver = start("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], { DISPLAY: display });
  base = `http://127.0.0.1:${port}`;
  await waitFor("tauri-driver", async () => (await fetch(`${base}/status`)).ok, 15000).catch((e) => {
    throw new Error(`${e.message}; tauri-driver stderr: ${driver.lastStderr()}`);
  });
  const s = await wd("POST", "/session", {
    capabilities: {
      alwaysMatch: {
        // A workspace that is gone: the window opens anyway and says so.
        "tauri:options": { application: app, args: ["--db", join(dir, "index.sqlite3"), ws, join(dir, "gone-ws")] },
      },
    },
  });
  session = s.sessionId;
});

after(async () => {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  for (const c of children.reverse()) c.kill("SIGTERM");
});

test("the window lists the demo runs from Rust and opens one", async () => {
  const rows = await waitFor("every demo run", async () => {
    const r = await find('[data-testid="run-row"]');
    return r.length >= runIds.length ? r : null;
  });
  const texts = await Promise.all(
    rows.map((r) => wd("GET", `/session/${session}/element/${Object.values(r)[0]}/attribute/data-run-id`)),
  );
  await screenshot("desktop-runs.png");
  for (const id of runIds) {
    assert.ok(texts.some((t) => t.includes(id)), `run ${id} not listed: ${JSON.stringify(texts)}`);
  }
  const banner = await waitFor("the startup problem banner", async () => {
    // The message is an ellipsized span, whose WebDriver text WebKit leaves empty: read its title.
    const b = await find('[data-testid="error-banner"][data-kind="startup"] .msg');
    return b.length ? wd("GET", `/session/${session}/element/${Object.values(b[0])[0]}/attribute/title`) : null;
  });
  assert.match(banner, /gone-ws/);
  // The real IPC path: the page's bridge reaches the Rust command.
  const info = await wd("POST", `/session/${session}/execute/async`, {
    script: "const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('api', {request: {cmd: 'info'}}).then(done, (e) => done({error: String(e)}));",
    args: [],
  });
  assert.equal(info.shell, "desktop");

  const target = rows[texts.indexOf("codex-transcript")];
  await wd("POST", `/session/${session}/element/${Object.values(target)[0]}/click`, {});
  const header = await waitFor("the run header", async () => {
    const h = await find('[data-testid="run-header"]');
    return h.length ? text(h[0]) : null;
  });
  assert.match(header, /codex-transcript/);
  const iterations = await waitFor("iteration items", async () => {
    const it = await find('[data-testid="iteration-item"]');
    return it.length ? it : null;
  });
  assert.equal(iterations.length, readdirSync(join(ws, ".harnessgym/runs/codex-transcript/iterations")).length);
  // The attempt's Codex events, read through the API's file windows, render as tool calls.
  await waitFor("transcript tool items", async () => (await find('[data-testid="transcript-item"][data-kind="tool"]')).length > 0);
  await screenshot("desktop-run.png");
  const title = await wd("GET", `/session/${session}/title`);
  assert.match(title, /codex-transcript/, "the window title says where you are");
});

test("a workspace opened through the app is indexed, listed live and remembered", async () => {
  await wd("POST", `/session/${session}/url`, { url: "tauri://localhost/#/runs" }).catch(() => {});
  const added = await wd("POST", `/session/${session}/execute/async`, {
    script:
      "const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('api', {request: {cmd: 'add_workspace', args: {path: arguments[0]}}}).then(done, (e) => done({error: e}));",
    args: [ws2],
  });
  assert.ok(Array.isArray(added), JSON.stringify(added));
  assert.equal(added.length, 2);
  // The watcher indexes it and the event reaches the page through Tauri: no reload.
  await waitFor("the new workspace's run in the table", async () => {
    const rows = await find('[data-testid="run-row"][data-run-id="smoke-c"]');
    return rows.length === 1;
  });
  const saved = JSON.parse(readFileSync(stateFile, "utf8"));
  assert.equal(saved.workspaces.length, 2, JSON.stringify(saved));
  assert.ok(saved.workspaces.some((p) => p.endsWith("/ws2")));
});
