// Shared machinery for the browser end-to-end tests (`node --test tests/browser/`).
//
// Nothing is built here: CI builds `target/debug/harnessgym` and `ui/dist` first. Each test file
// makes its own fixture workspace in a temporary directory (the demo workspace of
// `scripts/demo_workspace.py` when that script exists, plus a few runs of our own), starts
// `harnessgym view --port 0 --ui-dir ui/dist` on it, and drives Debian's Chromium through
// playwright-core with a fresh browser context.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = process.env.HARNESSGYM_BIN ?? path.join(REPO, "target", "debug", "harnessgym");
export const UI_DIR = process.env.HARNESSGYM_UI_DIR ?? path.join(REPO, "ui", "dist");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const DEMO_SCRIPT = path.join(REPO, "scripts", "demo_workspace.py");
export const TASK_DIR = path.join(REPO, "examples", "numerical_debug_task");

/** Run ids the demo script makes (see the constants at the top of scripts/demo_workspace.py). */
export const DEMO = {
  solved: "solved-in-2",
  never: "never-solved",
  codex: "codex-transcript",
  claude: "claude-transcript",
  failures: "phase-failures",
  ansi: "ansi-long-output",
  damagedResult: "damaged-result",
  damagedSummary: "damaged-summary",
  interrupted: "interrupted",
};
/** Runs this module adds to every fixture. */
export const OWN = {
  fake3: "own-fake-3", // plain `--runner fake --iterations 3`
  damaged: "own-damaged", // result.json of iteration 1 and summary.json made invalid afterwards
};

/** A made-up word the fixture puts into one prompt file. */
export const SEARCH_WORD = "zebracornquux";

export const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Fails with a clear message when the binary, the UI build or Chromium is missing. */
export function checkPrereqs({ ui = true } = {}) {
  const missing = [];
  if (!fs.existsSync(BIN)) missing.push(`${BIN} (run \`cargo build -p harnessgym\` first)`);
  const index = path.join(UI_DIR, "index.html");
  if (!fs.existsSync(index)) missing.push(`${index} (run \`npm run build\` first)`);
  else if (ui && !/<script[^>]+src=/.test(fs.readFileSync(index, "utf8")))
    missing.push(`${index} has no <script src> - not a Vite build (run \`npm run build\`)`);
  if (ui && !fs.existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  if (missing.length) throw new Error("browser tests need:\n  " + missing.join("\n  "));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.error) throw r.error;
  return r;
}

/** `harnessgym run --runner fake` in `ws`; `expect` is the exit status it must end with. */
export function fakeRun(ws, runId, iterations = 3, expect = null, extra = []) {
  const r = run(
    BIN,
    ["run", "--task", "task.md", "--workspace", ws, "--runner", "fake", "--iterations", String(iterations),
      "--run-id", runId, ...extra],
    { cwd: ws, timeout: 60_000 },
  );
  if (expect !== null && r.status !== expect)
    throw new Error(`harnessgym run ${runId} exited ${r.status}, expected ${expect}\n${r.stderr}`);
  return r;
}

export function runsDir(ws) {
  return path.join(ws, ".harnessgym", "runs");
}
export function runDir(ws, runId) {
  return path.join(runsDir(ws), runId);
}
export function iterDir(ws, runId, n) {
  return path.join(runDir(ws, runId), "iterations", String(n));
}
/** Run ids by the directory listing of `.harnessgym/runs`. */
export function listRunDirs(ws) {
  return fs
    .readdirSync(runsDir(ws), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
/** Iteration numbers by the directory listing of `runs/<id>/iterations`. */
export function listIterDirs(ws, runId) {
  const d = path.join(runDir(ws, runId), "iterations");
  if (!fs.existsSync(d)) return [];
  return fs
    .readdirSync(d, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/**
 * Makes a fixture workspace under a fresh temporary directory. Returns `{ tmp, ws, demo }`
 * (`demo`: whether the demo script's runs are there).
 */
export function makeFixture({ demo = true } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hg-browser-"));
  const ws = path.join(tmp, "ws");
  let haveDemo = false;
  if (demo && fs.existsSync(DEMO_SCRIPT)) {
    const r = run("python3", [DEMO_SCRIPT, "--bin", BIN, ws], { timeout: 120_000 });
    if (r.status !== 0) throw new Error(`demo_workspace.py failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    haveDemo = true;
  } else {
    fs.cpSync(TASK_DIR, ws, { recursive: true });
  }
  fakeRun(ws, OWN.fake3, 3);
  fakeRun(ws, OWN.damaged, 1);
  // Damage after the fact: a truncated result.json and a summary.json that is not JSON at all.
  const res = path.join(iterDir(ws, OWN.damaged, 1), "result.json");
  const txt = fs.readFileSync(res, "utf8");
  fs.writeFileSync(res, txt.slice(0, Math.floor(txt.length / 2)));
  fs.writeFileSync(path.join(runDir(ws, OWN.damaged), "summary.json"), "this is { not json\n");
  // A word that is in exactly one prompt file, at a known line (0-based), for the search test.
  const promptPath = path.join(iterDir(ws, OWN.fake3, 2), "attempt.prompt.txt");
  const plines = fs.readFileSync(promptPath, "utf8").split("\n");
  const at = Math.min(60, Math.max(0, plines.length - 1));
  plines.splice(at, 0, `Marker for the browser tests: ${SEARCH_WORD} appears in this prompt only.`);
  fs.writeFileSync(promptPath, plines.join("\n"));
  // A file outside the workspace, for the path-escape checks.
  fs.writeFileSync(path.join(tmp, "outside.txt"), "outside the workspace\n");
  return { tmp, ws, demo: haveDemo, search: { word: SEARCH_WORD, path: promptPath, line: at, runId: OWN.fake3, iteration: 2 } };
}

export function removeFixture(fx) {
  if (fx?.tmp && fx.tmp.startsWith(os.tmpdir())) fs.rmSync(fx.tmp, { recursive: true, force: true });
}

/**
 * Starts `harnessgym view` (the binary itself, no shell) and waits until the index lists
 * every run directory. Returns `{ url, proc, db, stop() }`.
 */
export async function startServer(ws, { db, extraWs = [], waitRuns = true } = {}) {
  db ??= path.join(path.dirname(ws), "index.sqlite3");
  const proc = spawn(BIN, ["view", "--db", db, "--port", "0", "--ui-dir", UI_DIR, ws, ...extraWs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const url = await new Promise((resolve, reject) => {
    proc.once("error", reject);
    const rl = readline.createInterface({ input: proc.stdout });
    const t = setTimeout(() => {
      if (proc.exitCode === null) process.kill(proc.pid, "SIGKILL");
      reject(new Error(`harnessgym view printed no URL in 30 s\n${stderr}`));
    }, 30_000);
    rl.once("line", (line) => {
      clearTimeout(t);
      rl.close();
      resolve(line.trim());
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`harnessgym view exited ${code} before printing its URL\n${stderr}`));
    });
  });
  proc.stdout.resume();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, "first stdout line of harnessgym view is its URL");
  const server = {
    url,
    proc,
    db,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      process.kill(proc.pid, "SIGTERM");
      const t = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, "SIGKILL");
      }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
  if (waitRuns) {
    // Runs are listed before their text is indexed: wait for the end of the first pass too.
    const want = listRunDirs(ws).length;
    try {
      await waitFor(
        async () =>
          (await api(url, "info")).indexing === null &&
          (await api(url, "runs", {})).filter((r) => r.workspace === ws).length >= want,
        { timeout: 30_000, what: `the first index pass to end with ${want} runs of ${ws} listed` },
      );
    } catch (e) {
      await server.stop();
      throw e;
    }
  }
  return server;
}

/** Raw HTTP request (full control over headers, unlike fetch). Returns `{ status, headers, body, json }`. */
export function rawRequest(url, { method = "GET", headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const h = { ...headers };
    if (body !== null) h["content-length"] = Buffer.byteLength(body);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (data += d));
        res.on("end", () => {
          let json = null;
          try {
            json = JSON.parse(data);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, body: data, json });
        });
      },
    );
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== null) req.write(body);
    req.end();
  });
}

/** `POST /api` with `{cmd, args}`; throws on a non-2xx status. */
export async function api(url, cmd, args) {
  const payload = args === undefined ? { cmd } : { cmd, args };
  const r = await rawRequest(new URL("api", url).href, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  if (r.status < 200 || r.status >= 300) throw new Error(`api ${cmd}: HTTP ${r.status} ${r.body}`);
  return r.json;
}

export async function waitFor(fn, { timeout = 10_000, interval = 100, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
}

/**
 * A fresh context and page that records page errors and console errors. Call `check()` (or
 * `assertClean()` at the end of a test) to fail on them. `allow(re)` tolerates console errors
 * matching `re` (for the few cases where a test provokes one on purpose).
 */
export async function openPage(browser, { permissions = [], viewport = { width: 1400, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  if (permissions.length) await context.grantPermissions(permissions);
  const page = await context.newPage();
  const problems = [];
  const allowed = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.stack || e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    if (allowed.some((re) => re.test(text))) return;
    problems.push(`console.error: ${text}`);
  });
  page.on("crash", () => problems.push("page crashed"));
  page.setDefaultTimeout(10_000);
  return {
    context,
    page,
    problems,
    allow(re) {
      allowed.push(re);
    },
    assertClean(what = "") {
      assert.deepEqual(problems, [], `page errors / console errors${what ? " in " + what : ""}`);
    },
    async close() {
      await context.close();
    },
  };
}

/** The hash route of a run view (ui/src/lib/router.ts formatRoute). */
export function runHash(ws, runId, iteration, tab, params = {}) {
  let h = `#/run/${encodeURIComponent(ws)}/${encodeURIComponent(runId)}`;
  if (iteration !== undefined) {
    h += `/${iteration}`;
    if (tab) h += `/${tab}`;
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return h + (s ? "?" + s : "");
}

/** The status chip the runs table should show for a run row (ui/src/lib/format.ts runStatus). */
export function expectedStatus(r) {
  if (r.state === "running") return "running";
  if (r.state === "interrupted") return "interrupted";
  if (r.state === "error") return "error";
  const fs_ = (r.final_status ?? "").toLowerCase();
  if (r.solved === true || fs_ === "solved") return "solved";
  if (fs_ === "error" || fs_ === "failed") return "error";
  if (fs_ === "interrupted" || fs_ === "cancelled") return "interrupted";
  if (fs_ === "running") return "running";
  return "not_solved";
}

/** Lines of a text file (split like the backend: a last line without newline counts). */
export function fileLines(p) {
  const t = fs.readFileSync(p, "utf8");
  const lines = t.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The tab names of the run view (ui/src/lib/router.ts TABS). */
export const TABS = ["transcript", "prompt", "stdout", "stderr", "result", "activation", "artifacts", "calls", "files"];

/**
 * Common per-file setup: fixture + server + browser (`browser: false` for API-only files);
 * returns an object filled in `before`. `t` is `{ before, after }` from node:test.
 */
export function suite(t, { browser = true, ...fixtureOpts } = {}) {
  const ctx = { fx: null, server: null, browser: null };
  t.before(async () => {
    checkPrereqs({ ui: browser });
    ctx.fx = makeFixture(fixtureOpts);
    ctx.server = await startServer(ctx.fx.ws);
    if (browser) ctx.browser = await launchBrowser();
  });
  t.after(async () => {
    await ctx.browser?.close().catch(() => {});
    await ctx.server?.stop();
    if (!process.env.KEEP_FIXTURE) removeFixture(ctx.fx);
  });
  return ctx;
}
