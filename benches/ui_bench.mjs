#!/usr/bin/env node
// UI (browser) benchmark: the runs table with 10,000 runs and a 100 MB stdout in the text viewer,
// in headless Chromium against `harnessgym view`. A script, not a test:
//
//   node benches/ui_bench.mjs [--ws DIR] [--many 10000] [--big-mb 100] [--rounds 2] [--json FILE]
//
// Without --ws it makes a demo workspace in a temporary directory
// (`scripts/demo_workspace.py --many N --big-stdout MB`); with --ws it reuses one made that way
// (and its index next to it, DIR/../bench-index.sqlite3). Needs target/debug/harnessgym (or
// HARNESSGYM_BIN), ui/dist (`npm run build`) and /usr/bin/chromium (or CHROMIUM).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = process.env.HARNESSGYM_BIN ?? path.join(REPO, "target", "debug", "harnessgym");
const UI_DIR = process.env.HARNESSGYM_UI_DIR ?? path.join(REPO, "ui", "dist");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const BIG_RUN = "big-stdout";

const args = { db: null, ws: null, many: 10000, bigMb: 100, rounds: 2, json: null, keep: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === "--ws") args.ws = path.resolve(v());
  else if (a === "--db") args.db = path.resolve(v());
  else if (a === "--many") args.many = Number(v());
  else if (a === "--big-mb") args.bigMb = Number(v());
  else if (a === "--rounds") args.rounds = Number(v());
  else if (a === "--json") args.json = v();
  else if (a === "--keep") args.keep = true;
  else {
    console.error(`usage: node benches/ui_bench.mjs [--ws DIR] [--db FILE] [--many N] [--big-mb MB] [--rounds R] [--json FILE] [--keep]`);
    process.exit(2);
  }
}

for (const [p, what] of [
  [BIN, "cargo build -p harnessgym"],
  [path.join(UI_DIR, "index.html"), "npm run build"],
  [CHROMIUM, "apt-get install chromium"],
]) {
  if (!fs.existsSync(p)) {
    console.error(`ui_bench: ${p} is missing (${what})`);
    process.exit(2);
  }
}

const log = (...a) => console.error("[ui_bench]", ...a);

// ---------------------------------------------------------------------------- fixture + server
let tmp = null;
let ws = args.ws;
if (!ws) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hg-ui-bench-"));
  ws = path.join(tmp, "ws");
  log(`making ${args.many} runs + a ${args.bigMb} MiB stdout in ${ws} …`);
  const t = Date.now();
  const r = spawnSync(
    "python3",
    [path.join(REPO, "scripts", "demo_workspace.py"), "--bin", BIN, "--many", String(args.many), "--big-stdout", String(args.bigMb), ws],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(1);
  }
  log(`workspace made in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
const runsDir = path.join(ws, ".harnessgym", "runs");
const runDirCount = fs.readdirSync(runsDir).length;
const bigPath = path.join(runsDir, BIG_RUN, "iterations", "1", "attempt.stdout.txt");
if (!fs.existsSync(bigPath)) {
  console.error(`ui_bench: ${bigPath} is missing (make the workspace with --big-stdout)`);
  process.exit(2);
}
const bigSize = fs.statSync(bigPath).size;
const db = args.db ?? path.join(path.dirname(ws), "bench-index.sqlite3");

async function startServer() {
  const proc = spawn(BIN, ["view", "--db", db, "--port", "0", "--ui-dir", UI_DIR, ws], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => (err = (err + d).slice(-20000)));
  const u = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once("line", (l) => {
      rl.close();
      resolve(l.trim());
    });
    proc.once("exit", (c) => reject(new Error(`harnessgym view exited ${c}\n${err}`)));
  });
  proc.stdout.resume();
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once("exit", r));
    process.kill(proc.pid, "SIGTERM");
    const t = setTimeout(() => process.kill(proc.pid, "SIGKILL"), 5000);
    await done;
    clearTimeout(t);
  };
  const t = Date.now();
  for (;;) {
    let n = 0;
    try {
      n = (await apiCall(u, "runs", {})).length;
    } catch {
      /* starting */
    }
    if (n >= runDirCount) break;
    if (Date.now() - t > 600_000) throw new Error(`index has ${n} of ${runDirCount} runs after 10 min`);
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`server ${u}; index ready with ${runDirCount} runs (${((Date.now() - t) / 1000).toFixed(1)} s wait)`);
  return { url: u, stop, pid: proc.pid };
}

async function apiCall(u, cmd, a) {
  const res = await fetch(new URL("api", u), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ cmd, args: a }),
  });
  if (!res.ok) throw new Error(`${cmd}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
async function timed(f) {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

// Cold reference, on a server process of its own (the text line index is cached per process):
// the calls the Run view makes before its first screen, from Node, one after the other.
const cold = {};
{
  const s = await startServer();
  cold.run = await timed(() => apiCall(s.url, "run", { workspace: ws, run_id: BIG_RUN }));
  cold.iteration = await timed(() => apiCall(s.url, "iteration", { workspace: ws, run_id: BIG_RUN, iteration: 1 }));
  cold.readText = await timed(() => apiCall(s.url, "read_text", { path: bigPath, start_line: 0, max_lines: 500 }));
  cold.readTextWarm = await timed(() => apiCall(s.url, "read_text", { path: bigPath, start_line: 0, max_lines: 500 }));
  cold.runs = await timed(() => apiCall(s.url, "runs", {}));
  await s.stop();
}
const server = await startServer();
const url = server.url;
process.on("SIGINT", async () => {
  await server.stop();
  process.exit(130);
});

// ---------------------------------------------------------------------------- browser helpers
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});

// Installed before any page script: long tasks, frame gaps, and "first time a selector matches".
function initScript(marks) {
  window.__lt = [];
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__lt.push({ start: e.startTime, dur: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch {
    /* no longtask support */
  }
  // every API call the page makes: command, start, headers, end (body read)
  window.__api = [];
  window.__origFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    let cmd = null;
    try {
      cmd = JSON.parse(init?.body ?? "null")?.cmd ?? null;
    } catch {
      /* not JSON */
    }
    const e = { cmd, start: performance.now(), head: null, end: null };
    window.__api.push(e);
    return window.__origFetch(input, init).then((r) => {
      e.head = performance.now();
      r.clone().arrayBuffer().then(() => (e.end = performance.now()), () => {});
      return r;
    });
  };
  window.__marks = {};
  const check = () => {
    for (const m of marks) {
      if (window.__marks[m.name] !== undefined) continue;
      const el = document.querySelector(m.sel);
      if (el && (!m.text || (el.textContent ?? "").includes(m.text))) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight) window.__marks[m.name] = performance.now();
      }
    }
  };
  const start = () => {
    new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true });
    check();
  };
  if (document.documentElement) start();
  else document.addEventListener("DOMContentLoaded", start);
  // frame gaps: the longest time between two animation frames while `window.__frames` is on
  window.__gap = { on: false, last: 0, max: 0 };
  const raf = (t) => {
    const g = window.__gap;
    if (g.on) {
      if (g.last) g.max = Math.max(g.max, t - g.last);
      g.last = t;
    } else g.last = 0;
    requestAnimationFrame(raf);
  };
  requestAnimationFrame(raf);
}

async function newPage(marks) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.addInitScript(initScript, marks);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  return { context, page, cdp, errors };
}

async function metrics(cdp) {
  const { metrics: m } = await cdp.send("Performance.getMetrics");
  return Object.fromEntries(m.map((x) => [x.name, x.value]));
}
async function heapMiB(cdp) {
  await cdp.send("HeapProfiler.collectGarbage").catch(() => {});
  const h = await cdp.send("Runtime.getHeapUsage");
  return h.usedSize / 1048576;
}

/** Runs `fn` and returns the longest task (ms, from longtask entries; 0 = none over 50 ms), the
 *  longest frame gap, and the main-thread task time CDP counted. */
async function watch(page, cdp, fn) {
  await page.evaluate(() => {
    window.__lt.length = 0;
    window.__gap.on = true;
    window.__gap.max = 0;
    window.__gap.last = 0;
  });
  const m0 = await metrics(cdp);
  const t0 = Date.now();
  const extra = await fn();
  const wall = Date.now() - t0;
  const m1 = await metrics(cdp);
  const r = await page.evaluate(() => {
    window.__gap.on = false;
    return { lt: window.__lt.map((e) => e.dur), gap: window.__gap.max };
  });
  return {
    longest: r.lt.length ? Math.max(...r.lt) : 0,
    longCount: r.lt.length,
    gap: r.gap,
    taskMs: (m1.TaskDuration - m0.TaskDuration) * 1000,
    scriptMs: (m1.ScriptDuration - m0.ScriptDuration) * 1000,
    wall,
    ...extra,
  };
}

/** DOMContentLoaded and the API calls the page made so far (start/end relative to navigation). */
async function pageTimeline(page, until) {
  return page.evaluate((until) => {
    const nav = performance.getEntriesByType("navigation")[0];
    return { dcl: nav ? nav.domContentLoadedEventEnd : null, calls: window.__api.filter((e) => e.start <= until).map((e) => ({ ...e })) };
  }, until);
}
/** API calls by command since navigation, and the seconds since navigation. */
async function callCounts(page) {
  return page.evaluate(() => {
    const by = {};
    for (const e of window.__api) by[e.cmd] = (by[e.cmd] ?? 0) + 1;
    return { by, secs: performance.now() / 1000 };
  });
}
const callSpan = (tl, cmd) => {
  const c = tl.calls.filter((e) => e.cmd === cmd);
  if (!c.length) return "-";
  const e = c[0];
  return `${e.start.toFixed(0)}-${e.end === null ? "…" : e.end.toFixed(0)}` + (c.length > 1 ? ` (+${c.length - 1} more)` : "");
};

async function waitMark(page, name, timeout = 30_000) {
  await page.waitForFunction((n) => window.__marks[n] !== undefined, name, { timeout, polling: 16 });
  return page.evaluate((n) => window.__marks[n], name);
}

// ---------------------------------------------------------------------------- (a) runs table
async function benchRuns() {
  const { context, page, cdp, errors } = await newPage([{ name: "firstRow", sel: '[data-testid="run-row"]' }]);
  await page.goto(url + "#/runs");
  const firstRow = await waitMark(page, "firstRow");
  const timeline = await pageTimeline(page, firstRow);
  const rowsInDom = await page.locator('[data-testid="run-row"]').count();
  const ariaRows = Number(await page.locator('[data-testid="runs-table"]').getAttribute("aria-rowcount"));
  // reference: the runs JSON alone, fetched and parsed in the same page
  const ref = await page.evaluate(async () => {
    const t = performance.now();
    const r = await window.__origFetch("/api", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ cmd: "runs", args: {} }) });
    const text = await r.text();
    const t1 = performance.now();
    const rows = JSON.parse(text);
    return { fetchMs: t1 - t, parseMs: performance.now() - t1, totalMs: performance.now() - t, bytes: text.length, rows: rows.length };
  });
  const box = await page.locator('[data-testid="runs-table"]').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height - 10, 300));
  await page.waitForTimeout(300);

  const scroller = () =>
    page.evaluate(() => {
      // the element that scrolls inside the table (virtua's VList)
      const t = document.querySelector('[data-testid="runs-table"]');
      const all = [t, ...t.querySelectorAll("*")];
      const s = all.find((e) => e.scrollHeight > e.clientHeight + 10 && getComputedStyle(e).overflowY !== "visible");
      return s ? { top: s.scrollTop, h: s.scrollHeight, ch: s.clientHeight } : null;
    });
  const wheel800 = await watch(page, cdp, async () => {
    for (let i = 0; i < 100; i++) {
      await page.mouse.wheel(0, 800);
      await page.waitForTimeout(16);
    }
    await page.waitForTimeout(200);
    return { pos: await scroller() };
  });
  // back to the top, then top → bottom in 100 equal wheel steps
  await page.keyboard.press("Home");
  await page.waitForTimeout(300);
  const s0 = await scroller();
  const step = s0 ? Math.ceil((s0.h - s0.ch) / 100) + 1 : 3000;
  const wheelAll = await watch(page, cdp, async () => {
    for (let i = 0; i < 100; i++) {
      await page.mouse.wheel(0, step);
      await page.waitForTimeout(16);
    }
    await page.waitForTimeout(200);
    const pos = await scroller();
    const bottom = pos ? pos.top + pos.ch >= pos.h - 2 : false;
    const lastIds = await page.$$eval('[data-testid="run-row"]', (els) => els.slice(-1).map((e) => e.getAttribute("data-run-id")));
    return { pos, bottom, lastRow: lastIds[0] };
  });
  const heap = await heapMiB(cdp);
  const counts = await callCounts(page);
  await context.close();
  return { counts, timeline, firstRow, rowsInDom, ariaRows, ref, wheel800, wheelAll, step, heap, errors };
}

// ---------------------------------------------------------------------------- (b) 100 MB stdout
const pad9 = (n) => String(n).padStart(9, "0");
async function benchBig() {
  const hash = `#/run/${encodeURIComponent(ws)}/${BIG_RUN}/1/stdout`;
  const { context, page, cdp, errors } = await newPage([
    { name: "firstLine", sel: '[data-testid="text-line"][data-line="0"]', text: pad9(1) },
  ]);
  await page.goto(url + hash);
  const first = await waitMark(page, "firstLine");
  const timeline = await pageTimeline(page, first);
  const total = Number(await page.locator('[data-testid="text-viewer"]').getAttribute("data-total-lines"));
  // reference: the same first window straight from the API, in the same page
  const ref = await page.evaluate(async (p) => {
    const t = performance.now();
    const r = await window.__origFetch("/api", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ cmd: "read_text", args: { path: p, start_line: 0, max_lines: 500 } }) });
    const w = await r.json();
    const t1 = performance.now();
    const mid = Math.floor(w.total_lines / 2);
    const r2 = await window.__origFetch("/api", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ cmd: "read_text", args: { path: p, start_line: mid, max_lines: 500 } }) });
    await r2.json();
    const r3 = await window.__origFetch("/api", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ cmd: "read_text", args: { path: p, start_line: w.total_lines - 500, max_lines: 500 } }) });
    await r3.json();
    return { firstMs: t1 - t, midMs: 0, allThree: performance.now() - t, totalLines: w.total_lines };
  }, bigPath);
  // a second, separate reference for the middle window alone
  ref.midMs = await page.evaluate(async ([p, mid]) => {
    const t = performance.now();
    const r = await window.__origFetch("/api", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ cmd: "read_text", args: { path: p, start_line: mid, max_lines: 500 } }) });
    await r.json();
    return performance.now() - t;
  }, [bigPath, Math.floor(total / 2) + 1234]);

  const scrollEl = page.locator('[data-testid="text-viewer"] .scroll');
  const box = await scrollEl.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);

  // wait until every line on screen has its text (no "…" placeholder rows)
  const settled = () =>
    page.waitForFunction(() => {
      const ls = [...document.querySelectorAll('[data-testid="text-line"]')];
      return ls.length > 0 && ls.every((l) => !/^\s*\d+…\s*$/.test(l.textContent ?? "") && !l.querySelector(".txt > .muted"));
    }, null, { polling: 16, timeout: 30_000 });

  const wheelTop = await watch(page, cdp, async () => {
    for (let i = 0; i < 40; i++) {
      await page.mouse.wheel(0, 800);
      await page.waitForTimeout(16);
    }
    await settled();
  });
  // jump to the middle (drag-like: set scrollTop), time until the lines there are loaded
  const jumpMid = await watch(page, cdp, async () => {
    const t = Date.now();
    const line = await page.evaluate(() => {
      const s = document.querySelector('[data-testid="text-viewer"] .scroll');
      s.scrollTop = (s.scrollHeight - s.clientHeight) / 2;
      s.dispatchEvent(new Event("scroll"));
      return null;
    });
    await settled();
    const firstShown = await page.$eval('[data-testid="text-line"]', (e) => Number(e.getAttribute("data-line")));
    const ok = (await page.locator(`[data-testid="text-line"][data-line="${firstShown}"]`).innerText()).includes(pad9(firstShown + 1));
    return { ms: Date.now() - t, firstShown, ok, line };
  });
  const wheelMid = await watch(page, cdp, async () => {
    for (let i = 0; i < 40; i++) {
      await page.mouse.wheel(0, i % 2 ? -800 : 1600);
      await page.waitForTimeout(16);
    }
    await settled();
  });
  const jumpEnd = await watch(page, cdp, async () => {
    const t = Date.now();
    await scrollEl.focus();
    await page.keyboard.press("Shift+G");
    await page.locator(`[data-testid="text-line"][data-line="${total - 1}"]`).waitFor({ timeout: 30_000 });
    await settled();
    return { ms: Date.now() - t };
  });
  // a deep link to a line in the middle, in the same page (hash change)
  const midLine = Math.floor(total / 2) + 777;
  const jumpLink = await watch(page, cdp, async () => {
    const t = Date.now();
    await page.evaluate((h) => (location.hash = h), hash + `?line=${midLine}`);
    await page.locator(`[data-testid="text-line"][data-line="${midLine}"]`, { hasText: pad9(midLine + 1) }).waitFor({ timeout: 30_000 });
    return { ms: Date.now() - t };
  });
  const heap = await heapMiB(cdp);
  const counts = await callCounts(page);
  await context.close();
  return { counts, timeline, first, total, ref, wheelTop, jumpMid, wheelMid, jumpEnd, jumpLink, heap, errors };
}

// ---------------------------------------------------------------------------- run + report
const rounds = [];
for (let r = 0; r < args.rounds; r++) {
  log(`round ${r + 1}/${args.rounds}: runs table …`);
  const a = await benchRuns();
  log(`round ${r + 1}/${args.rounds}: ${(bigSize / 1048576).toFixed(0)} MiB stdout …`);
  const b = await benchBig();
  rounds.push({ a, b });
}
const chromeVersion = browser.version();
await browser.close();
await server.stop();
if (tmp && !args.keep) fs.rmSync(tmp, { recursive: true, force: true });

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(1));
const f0 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(0));
const lt = (w) => (w.longest ? `${f0(w.longest)} (${w.longCount}x)` : "none>50");
const rows = [];
const add = (name, get, target = "", pass = null) =>
  rows.push({ name, vals: rounds.map((x) => get(x)), target, verdict: pass ? (rounds.every(pass) ? "ok" : "MISS") : "" });

add("a  runs indexed / rows in table (aria-rowcount)", (x) => `${runDirCount} / ${x.a.ariaRows}`, "all", (x) => x.a.ariaRows === runDirCount);
add("a  navigation -> first run-row visible, ms", (x) => f0(x.a.firstRow), "< 1000", (x) => x.a.firstRow < 1000);
add("a  ref: fetch runs JSON in page, ms", (x) => `${f0(x.a.ref.fetchMs)} + parse ${f0(x.a.ref.parseMs)}`);
add("a  ref: runs JSON size, MiB", (x) => f1(x.a.ref.bytes / 1048576));
add("a  first row / (fetch+parse runs JSON)", (x) => `${f1(x.a.firstRow / x.a.ref.totalMs)}x`);
add("a  page: DOMContentLoaded, ms", (x) => f0(x.a.timeline.dcl));
add("a  page's runs call: start-end, ms", (x) => callSpan(x.a.timeline, "runs"));
add("a  cold ref (own server, Node): runs call, ms", () => f0(cold.runs));
add("a  run-row elements in the DOM", (x) => String(x.a.rowsInDom));
add("a  wheel 100 x 800px: longest task, ms", (x) => lt(x.a.wheel800), "<= 50", (x) => x.a.wheel800.longest <= 50);
add("a  wheel 100 x 800px: longest frame gap, ms", (x) => f0(x.a.wheel800.gap));
add("a  wheel 100 x 800px: main-thread task time, ms", (x) => f0(x.a.wheel800.taskMs));
add("a  wheel top->bottom (100 steps): longest task, ms", (x) => lt(x.a.wheelAll), "<= 50", (x) => x.a.wheelAll.longest <= 50);
add("a  wheel top->bottom: longest frame gap, ms", (x) => f0(x.a.wheelAll.gap));
add("a  wheel top->bottom: reached the end / last row", (x) => `${x.a.wheelAll.bottom ? "yes" : "NO"} ${x.a.wheelAll.lastRow ?? ""}`, "yes", (x) => x.a.wheelAll.bottom);
add("a  JS heap after scrolling, MiB", (x) => f1(x.a.heap));
add("b  file size MiB / lines", (x) => `${f0(bigSize / 1048576)} / ${x.b.total}`);
add("b  navigation -> first text-line visible, ms", (x) => f0(x.b.first), "< 500", (x) => x.b.first < 500);
add("b  page: DOMContentLoaded, ms", (x) => f0(x.b.timeline.dcl));
add("b  page's run call: start-end, ms", (x) => callSpan(x.b.timeline, "run"));
add("b  page's iteration call: start-end, ms", (x) => callSpan(x.b.timeline, "iteration"));
add("b  page's read_text calls: start-end, ms", (x) => callSpan(x.b.timeline, "read_text"));
add("b  cold ref (own server, Node): run + iteration + read_text, ms", () => `${f0(cold.run)}+${f0(cold.iteration)}+${f0(cold.readText)}`);
add("b  cold ref: sum / read_text again (warm), ms", () => `${f0(cold.run + cold.iteration + cold.readText)} / ${f1(cold.readTextWarm)}`);
add("b  first screen / cold ref sum", (x) => `${f1(x.b.first / (cold.run + cold.iteration + cold.readText))}x`);
add("b  warm ref: read_text first 500 lines in page, ms", (x) => f1(x.b.ref.firstMs));
add("b  warm ref: read_text 500 lines mid file, ms", (x) => f1(x.b.ref.midMs));
add("b  first screen / warm ref first window", (x) => `${f1(x.b.first / x.b.ref.firstMs)}x`);
add("b  wheel 40 x 800px at top: longest task, ms", (x) => lt(x.b.wheelTop), "<= 50", (x) => x.b.wheelTop.longest <= 50);
add("b  jump to middle (scrollbar): lines shown after, ms", (x) => `${f0(x.b.jumpMid.ms)}${x.b.jumpMid.ok ? "" : " WRONG TEXT"}`, "", (x) => x.b.jumpMid.ok);
add("b  jump to middle: longest task, ms", (x) => lt(x.b.jumpMid), "<= 50", (x) => x.b.jumpMid.longest <= 50);
add("b  wheel 40x in the middle: longest task, ms", (x) => lt(x.b.wheelMid), "<= 50", (x) => x.b.wheelMid.longest <= 50);
add("b  jump to end (G): last line shown after, ms", (x) => f0(x.b.jumpEnd.ms));
add("b  jump to end: longest task, ms", (x) => lt(x.b.jumpEnd), "<= 50", (x) => x.b.jumpEnd.longest <= 50);
add("b  deep link ?line=mid (hash change): shown after, ms", (x) => f0(x.b.jumpLink.ms));
add("b  deep link ?line=mid: longest task, ms", (x) => lt(x.b.jumpLink), "<= 50", (x) => x.b.jumpLink.longest <= 50);
add("b  longest frame gap over all b steps, ms", (x) => f0(Math.max(x.b.wheelTop.gap, x.b.jumpMid.gap, x.b.wheelMid.gap, x.b.jumpEnd.gap, x.b.jumpLink.gap)));
add("b  JS heap with the 100 MB file open, MiB", (x) => f1(x.b.heap));
const countsText = (c) => Object.entries(c.by).sort((p, q) => q[1] - p[1]).slice(0, 3).map(([k, v]) => `${k} ${v}`).join(", ") + ` in ${c.secs.toFixed(0)}s`;
add("a  API calls of the page (whole a phase)", (x) => countsText(x.a.counts));
add("b  API calls of the page (whole b phase)", (x) => countsText(x.b.counts));
add("   page errors / console errors", (x) => String(x.a.errors.length + x.b.errors.length), "0", (x) => x.a.errors.length + x.b.errors.length === 0);

const w0 = Math.max(...rows.map((r) => r.name.length));
for (const r of rows) r.vals = r.vals.map((v) => (v.length > 40 ? v.slice(0, 39) + "…" : v));
const wv = Math.max(12, ...rows.flatMap((r) => r.vals.map((v) => v.length)));
const head = "metric".padEnd(w0) + rounds.map((_, i) => `  ${("round " + (i + 1)).padStart(wv)}`).join("") + "  target    verdict";
const out = [head, "-".repeat(head.length)];
for (const r of rows) out.push(r.name.padEnd(w0) + r.vals.map((v) => "  " + v.padStart(wv)).join("") + "  " + r.target.padEnd(8) + "  " + r.verdict);
const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`UI benchmark: ${runDirCount} runs, ${(bigSize / 1048576).toFixed(0)} MiB stdout; Chromium ${chromeVersion}; ${os.cpus().length} CPUs; load ${load}`);
console.log(out.join("\n"));
for (const [i, x] of rounds.entries()) {
  const errs = [...x.a.errors, ...x.b.errors];
  if (errs.length) console.log(`round ${i + 1} errors:\n  ` + errs.slice(0, 10).join("\n  "));
}
console.log(`binary ${BIN}; times in ms from navigation start unless noted; "none>50" = no long task (the API reports only tasks over 50 ms)`);
if (args.json) fs.writeFileSync(args.json, JSON.stringify({ runDirCount, bigSize, cold, rounds }, null, 2));
