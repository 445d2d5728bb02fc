// Awkward input: a workspace path full of characters that need encoding, unusual run ids and file
// names, binary and single-huge-line phase files, files / iterations / runs / the workspace
// vanishing while open, empty things, and very long values.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  TABS,
  TASK_DIR,
  api,
  checkPrereqs,
  fakeRun,
  iterDir,
  launchBrowser,
  openPage,
  runDir,
  runHash,
  startServer,
  waitFor,
} from "./helpers.mjs";

const ID = {
  odd: "Odd.Run_id-1..x", // every kind of character validate_run_id allows
  bin: "binary-files",
  vanish: "vanish",
  many: "many-iterations",
  noIter: "no-iterations",
  noFiles: "no-files",
  rewrite: "rewritten-while-open",
};
const ODD_FILE = "notes #1 ü?&=%20.log";
const ODD_WORD = "quokkawordxyz"; // only in one phase file of ID.odd
const LONG_SUMMARY = "long summary words ".repeat(530).trim() + " THE-END"; // > 10,000 characters
const ODD_PHASE = "wéird phase <b>&amp; #x";

const ctx = { tmp: null, ws: null, empty: null, server: null, browser: null };

/** `n` lines "<word> line <i>". */
function numbered(word, n) {
  return Array.from({ length: n }, (_, i) => `${word} line ${i}\n`).join("");
}

before(async () => {
  checkPrereqs();
  ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hg-browser-edge-"));
  const ws = (ctx.ws = path.join(ctx.tmp, "my ws #1 %20 ünï ?&=x"));
  fs.cpSync(TASK_DIR, ws, { recursive: true });
  fakeRun(ws, ID.odd, 3);
  fs.writeFileSync(path.join(iterDir(ws, ID.odd, 2), ODD_FILE), `first line\nthe ${ODD_WORD} line\n`);
  fs.appendFileSync(path.join(iterDir(ws, ID.odd, 2), "attempt.stdout.txt"), `stdout has ${ODD_WORD} too\n`);

  fakeRun(ws, ID.bin, 1);
  const b = crypto.randomBytes(300_000);
  for (let i = 0; i < b.length; i += 97) b[i] = 0;
  fs.writeFileSync(path.join(iterDir(ws, ID.bin, 1), "attempt.stdout.txt"), b);
  fs.writeFileSync(path.join(iterDir(ws, ID.bin, 1), "attempt.stderr.txt"), "y".repeat(5 * 1024 * 1024) + "\nafter the long line\n");

  fakeRun(ws, ID.vanish, 2);
  fakeRun(ws, ID.rewrite, 1);
  fs.writeFileSync(path.join(iterDir(ws, ID.rewrite, 1), "attempt.stdout.txt"), numbered("old", 1500));

  fakeRun(ws, ID.many, 1);
  const it1 = iterDir(ws, ID.many, 1);
  const res = JSON.parse(fs.readFileSync(path.join(it1, "result.json"), "utf8"));
  res.summary = LONG_SUMMARY;
  fs.writeFileSync(path.join(it1, "result.json"), JSON.stringify(res));
  fs.copyFileSync(path.join(it1, "attempt.stdout.txt"), path.join(it1, `${ODD_PHASE}.stdout.txt`));
  for (let i = 2; i <= 200; i++) fs.cpSync(it1, iterDir(ws, ID.many, i), { recursive: true });

  fakeRun(ws, ID.noIter, 1);
  fs.rmSync(path.join(runDir(ws, ID.noIter), "iterations"), { recursive: true });
  fakeRun(ws, ID.noFiles, 1);
  for (const f of fs.readdirSync(iterDir(ws, ID.noFiles, 1))) fs.rmSync(path.join(iterDir(ws, ID.noFiles, 1), f), { recursive: true });

  // A workspace with no runs at all.
  ctx.empty = path.join(ctx.tmp, "empty ws");
  fs.mkdirSync(path.join(ctx.empty, ".harnessgym"), { recursive: true });

  ctx.server = await startServer(ws, { extraWs: [ctx.empty] });
  ctx.browser = await launchBrowser();
});

after(async () => {
  await ctx.browser?.close().catch(() => {});
  await ctx.server?.stop();
  if (!process.env.KEEP_FIXTURE && ctx.tmp?.startsWith(os.tmpdir())) fs.rmSync(ctx.tmp, { recursive: true, force: true });
});

async function expectSelected(page, { runId, iteration, tab }) {
  const header = page.locator('[data-testid="run-header"]');
  await header.waitFor();
  assert.equal(await header.getAttribute("data-run-id"), runId);
  if (iteration !== undefined) {
    const item = page.locator(`[data-testid="iteration-item"][data-iteration="${iteration}"]`);
    await waitFor(async () => /\bsel\b/.test((await item.getAttribute("class")) ?? ""), { what: `iteration ${iteration} selected` });
  }
  if (tab) assert.equal(await page.locator(`[data-testid="tab-${tab}"]`).getAttribute("aria-selected"), "true", `tab ${tab}`);
}

/** Counts "Failed to load resource … 404" console messages (a fetch of something that is gone). */
function count404(p) {
  const n = { value: 0 };
  p.allow(/Failed to load resource.*404/);
  p.page.on("console", (m) => m.type() === "error" && /Failed to load resource.*404/.test(m.text()) && n.value++);
  return n;
}

test("a workspace path with spaces, #, %, ?, & and non-ASCII: list, every tab, deep link, copy link, search", async () => {
  const ws = ctx.ws;
  const p = await openPage(ctx.browser, { permissions: ["clipboard-read", "clipboard-write"] });
  const { page } = p;
  try {
    await page.goto(ctx.server.url);
    const row = page.locator(`[data-testid="run-row"][data-run-id="${ID.odd}"]`);
    await row.waitFor();
    await row.click();
    await expectSelected(page, { runId: ID.odd, iteration: 2 }); // the fake runner solves in 2
    assert.ok(page.url().includes(encodeURIComponent(ws)), `URL encodes the workspace: ${page.url()}`);

    await page.locator('[data-testid="iteration-item"][data-iteration="1"]').click();
    await expectSelected(page, { runId: ID.odd, iteration: 1 });
    await page.locator('[data-testid="iteration-item"][data-iteration="2"]').click();
    for (const t of TABS) {
      await page.locator(`[data-testid="tab-${t}"]`).click();
      await expectSelected(page, { runId: ID.odd, iteration: 2, tab: t });
      const content = page.locator("section.content");
      await waitFor(async () => !/Loading/.test(await content.innerText()), { what: `tab ${t} loaded` });
      assert.equal(await content.locator('[data-testid="error-banner"]').count(), 0, `no error on tab ${t}: ${await content.innerText()}`);
    }
    // Files tab: the oddly named file opens, and its link survives a copy / paste round trip.
    await page.locator(`[data-testid="file-row"][data-file="${ODD_FILE}"] a`).click();
    const f = path.join(iterDir(ws, ID.odd, 2), ODD_FILE);
    await page.locator(`[data-testid="text-viewer"][data-path="${f}"] [data-testid="text-line"][data-line="1"]`).waitFor();
    await page.locator('[data-testid="copy-link"]').click();
    const copied = await page
      .waitForFunction(async () => {
        const t = await navigator.clipboard.readText().catch(() => "");
        return t.startsWith("http") ? t : null;
      })
      .then((h) => h.jsonValue());
    assert.equal(copied, page.url());
    const page2 = await p.context.newPage();
    const errs = [];
    page2.on("pageerror", (e) => errs.push(String(e)));
    await page2.goto(copied);
    await expectSelected(page2, { runId: ID.odd, iteration: 2, tab: "files" });
    assert.match(await page2.locator(`[data-testid="text-viewer"][data-path="${f}"] [data-testid="text-line"][data-line="1"]`).innerText(), new RegExp(ODD_WORD));
    assert.deepEqual(errs, []);
    await page2.close();

    // A pasted deep link with a line parameter.
    await page.goto(ctx.server.url + runHash(ws, ID.odd, 1, "prompt", { line: 3 }));
    await expectSelected(page, { runId: ID.odd, iteration: 1, tab: "prompt" });
    const hl = page.locator('[data-testid="text-line"][data-line="3"]');
    await hl.waitFor();
    assert.match((await hl.getAttribute("class")) ?? "", /\bhl\b/);

    // Search → both hits → jump to each (a phase stream and a plain file).
    const res = await api(ctx.server.url, "search", { query: ODD_WORD });
    assert.ok(res.hits.length >= 1 && res.hits.every((h) => h.workspace === ws), JSON.stringify(res.hits));
    await page.goto(ctx.server.url + "#/search?q=" + ODD_WORD);
    const hit = page.locator('[data-testid="search-hit"]');
    await hit.first().waitFor();
    const stdoutHit = page.locator(`[data-testid="search-hit"][data-file$="attempt.stdout.txt"]`);
    await stdoutHit.click();
    await expectSelected(page, { runId: ID.odd, iteration: 2, tab: "stdout" });
    const line = page.locator('[data-testid="text-line"].hl');
    await line.waitFor();
    assert.match(await line.innerText(), new RegExp(ODD_WORD));
    p.assertClean("odd workspace path");
  } finally {
    await p.close();
  }
});

test("a binary phase file and a 5 MB single line: shown, marked, no page error, page stays responsive", async () => {
  const ws = ctx.ws;
  const p = await openPage(ctx.browser);
  const { page } = p;
  try {
    await page.goto(ctx.server.url + runHash(ws, ID.bin, 1, "stdout"));
    const tv = page.locator(`[data-testid="text-viewer"][data-path="${path.join(iterDir(ws, ID.bin, 1), "attempt.stdout.txt")}"]`);
    await tv.locator('[data-testid="text-line"][data-line="0"]').waitFor();
    await tv.locator('[data-testid="binary-file"]').waitFor();
    assert.ok(Number(await tv.getAttribute("data-total-lines")) > 0);
    // responsive: a round trip through the page's event loop is quick
    let t0 = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(1))));
    assert.ok(Date.now() - t0 < 2000, `page answered in ${Date.now() - t0} ms`);

    // the Transcript tab falls back to the transcript / stdout without failing
    await page.locator('[data-testid="tab-transcript"]').click();
    await page.locator('section.content [data-testid="text-line"][data-line="0"]').waitFor();

    await page.locator('[data-testid="tab-stderr"]').click();
    const se = page.locator(`[data-testid="text-viewer"][data-path="${path.join(iterDir(ws, ID.bin, 1), "attempt.stderr.txt")}"]`);
    const l0 = se.locator('[data-testid="text-line"][data-line="0"]');
    await l0.waitFor();
    assert.equal(await se.getAttribute("data-total-lines"), "2");
    assert.equal(await l0.locator(".cut").count(), 1, "the 5 MB line is marked as cut");
    assert.ok((await l0.innerText()).length < 100_000, "only a bounded part of the line is in the DOM");
    assert.match(await se.locator('[data-testid="text-line"][data-line="1"]').innerText(), /after the long line/);
    assert.equal(await se.locator('[data-testid="binary-file"]').count(), 0, "a long text line is not binary");
    t0 = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(1))));
    assert.ok(Date.now() - t0 < 2000);

    // both in the Files tab too
    await page.locator('[data-testid="tab-files"]').click();
    await page.locator('[data-testid="file-row"][data-file="attempt.stdout.txt"] a').click();
    await page.locator('[data-testid="binary-file"]').waitFor();
    p.assertClean("binary and long lines");
  } finally {
    await p.close();
  }
});

test("a file truncated, then deleted, while open; then its iteration, its run, and the whole workspace", async () => {
  const ws = ctx.ws;
  const p = await openPage(ctx.browser);
  const { page } = p;
  const n404 = count404(p);
  const it2 = iterDir(ws, ID.vanish, 2);
  const f = path.join(it2, "attempt.prompt.txt");
  const slow = { timeout: 20_000 };
  try {
    // Files tab, one file open
    await page.goto(ctx.server.url + runHash(ws, ID.vanish, 2, "files", { file: "attempt.prompt.txt" }));
    const tv = page.locator(`[data-testid="text-viewer"][data-path="${f}"]`);
    await tv.locator('[data-testid="text-line"][data-line="5"]').waitFor();

    fs.writeFileSync(f, "truncated to one line\n");
    await waitFor(async () => (await tv.getAttribute("data-total-lines")) === "1", { ...slow, what: "the truncated file to show 1 line" });
    assert.match(await tv.locator('[data-testid="text-line"][data-line="0"]').innerText(), /truncated to one line/);

    fs.rmSync(f);
    await tv.locator('[data-testid="file-gone"]').waitFor(slow);
    assert.equal(await tv.locator('[data-testid="text-line"]').count(), 0, "no stale lines of a deleted file");
    fs.writeFileSync(f, "it is back\nsecond\n");
    await tv.locator('[data-testid="text-line"][data-line="1"]').waitFor(slow);
    assert.match(await tv.locator('[data-testid="text-line"][data-line="0"]').innerText(), /it is back/);

    // the iteration directory
    const saved = path.join(ctx.tmp, "saved-iteration");
    fs.renameSync(it2, saved);
    await page.locator('[data-testid="iteration-gone"]').waitFor(slow);
    assert.match(await page.locator('[data-testid="iteration-gone"]').innerText(), /Iteration 2/);
    fs.renameSync(saved, it2);
    await page.locator('[data-testid="iteration-gone"]').waitFor({ state: "detached", ...slow });
    await tv.locator('[data-testid="text-line"][data-line="1"]').waitFor(slow);

    // the run directory (Stdout tab this time)
    await page.locator('[data-testid="tab-stdout"]').click();
    await page.locator('section.content [data-testid="text-line"][data-line="0"]').waitFor();
    const savedRun = path.join(ctx.tmp, "saved-run");
    fs.renameSync(runDir(ws, ID.vanish), savedRun);
    await page.locator('[data-testid="run-gone"]').waitFor(slow);
    assert.match(await page.locator('[data-testid="run-gone"]').innerText(), new RegExp(ID.vanish));
    fs.renameSync(savedRun, runDir(ws, ID.vanish));
    await page.locator('[data-testid="run-header"]').waitFor(slow);
    await expectSelected(page, { runId: ID.vanish, iteration: 2, tab: "stdout" });
    await page.locator('section.content [data-testid="text-line"][data-line="0"]').waitFor(slow);

    // the whole workspace moved away and back
    const moved = ws + " (moved)";
    fs.renameSync(ws, moved);
    try {
      await page.locator('[data-testid="run-gone"]').waitFor(slow);
    } finally {
      fs.renameSync(moved, ws);
    }
    await page.locator('[data-testid="run-header"]').waitFor(slow);
    await page.locator('section.content [data-testid="text-line"][data-line="0"]').waitFor(slow);
    await expectSelected(page, { runId: ID.vanish, iteration: 2, tab: "stdout" });

    // quiet while nothing changes: no request storm of 404s
    const before = n404.value;
    await page.waitForTimeout(3000);
    assert.ok(n404.value - before <= 1, `${n404.value - before} more 404s in 3 s of quiet`);
    assert.ok(n404.value < 40, `${n404.value} 404s in all`);
    p.assertClean("vanishing files");
  } finally {
    await p.close();
  }
});

test("a file rewritten longer while open: no window keeps the old lines", async () => {
  const ws = ctx.ws;
  const f = path.join(iterDir(ws, ID.rewrite, 1), "attempt.stdout.txt");
  const p = await openPage(ctx.browser);
  const { page } = p;
  try {
    // Lines 0-499 and 500-999 are fetched (the top, then line 700).
    await page.goto(ctx.server.url + runHash(ws, ID.rewrite, 1, "stdout"));
    const tv = page.locator(`[data-testid="text-viewer"][data-path="${f}"]`);
    const line = (n) => tv.locator(`[data-testid="text-line"][data-line="${n}"]`);
    await line(0).waitFor();
    assert.match(await line(0).innerText(), /old line 0\b/);
    await page.goto(ctx.server.url + runHash(ws, ID.rewrite, 1, "stdout", { line: 700 }));
    await line(700).waitFor();
    assert.match(await line(700).innerText(), /old line 700\b/);

    // A phase re-run: the file is rewritten, longer, while it is on screen.
    fs.writeFileSync(f, numbered("new", 2000));
    await waitFor(async () => (await tv.getAttribute("data-total-lines")) === "2000", { timeout: 20_000, what: "2,000 lines" });
    await waitFor(async () => /new line 700\b/.test(await line(700).innerText()), { what: "line 700 rewritten" });
    // Back at the top: the window fetched before the rewrite is not shown again.
    await page.goto(ctx.server.url + runHash(ws, ID.rewrite, 1, "stdout", { line: 0 }));
    await waitFor(async () => /new line 0\b/.test(await line(0).innerText().catch(() => "")), { what: "line 0 rewritten" });
    p.assertClean("rewritten file");
  } finally {
    await p.close();
  }
});

test("an empty workspace, a run with no iterations, an iteration with no files", async () => {
  const ws = ctx.ws;
  const ws_ = await api(ctx.server.url, "workspaces");
  assert.ok(ws_.some((w) => w.path === ctx.empty && w.exists), JSON.stringify(ws_));
  const p = await openPage(ctx.browser);
  const { page } = p;
  try {
    await page.goto(ctx.server.url);
    await page.locator(`[data-testid="run-row"][data-run-id="${ID.noIter}"]`).click();
    await expectSelected(page, { runId: ID.noIter });
    await page.getByText("This run has no iteration directories.").waitFor();
    assert.equal(await page.locator('[data-testid="iteration-item"]').count(), 0);

    for (const t of TABS) {
      await page.goto(ctx.server.url + runHash(ws, ID.noFiles, 1, t));
      await expectSelected(page, { runId: ID.noFiles, iteration: 1, tab: t });
      const content = page.locator("section.content");
      await waitFor(async () => !/Loading/.test(await content.innerText()), { what: `tab ${t} loaded` });
      assert.equal(await content.locator('[data-testid="error-banner"]').count(), 0, `tab ${t}: ${await content.innerText()}`);
    }
    assert.equal(await page.locator('[data-testid="file-row"]').count(), 0);
    p.assertClean("empty things");
  } finally {
    await p.close();
  }
});

test("a 10,000-character summary, 200 iterations and an oddly named phase", async () => {
  const ws = ctx.ws;
  const p = await openPage(ctx.browser);
  const { page } = p;
  try {
    await page.goto(ctx.server.url + runHash(ws, ID.many, 150, "transcript"));
    await expectSelected(page, { runId: ID.many, iteration: 150, tab: "transcript" });
    assert.equal(await page.locator('[data-testid="iteration-item"]').count(), 200);
    // the selected iteration is scrolled into the list's view
    const sel = page.locator('[data-testid="iteration-item"][data-iteration="150"]');
    await waitFor(
      () =>
        sel.evaluate((el) => {
          const a = el.getBoundingClientRect();
          const b = el.closest("aside").getBoundingClientRect();
          return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
        }),
      { what: "iteration 150 visible in the list" },
    );

    // the long summary: clamped, no horizontal overflow, all of it reachable with "more"
    const summary = page.locator('[data-testid="iteration-summary"]');
    await summary.waitFor();
    const h = await summary.evaluate((el) => el.getBoundingClientRect().height);
    assert.ok(h < 60, `summary clamped (${h}px)`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no horizontal page overflow");
    await page.locator('[data-testid="summary-toggle"]').click();
    // all of it (from result.json: the index keeps a shortened copy), ending where it ends
    const shown = (await summary.innerText()).trim();
    assert.ok(shown.length === LONG_SUMMARY.length && shown.endsWith("THE-END"), `opened summary has ${shown.length} of ${LONG_SUMMARY.length} characters, ends ${JSON.stringify(shown.slice(-20))}`);
    const open = await summary.evaluate((el) => ({ h: el.getBoundingClientRect().height, vh: window.innerHeight }));
    assert.ok(open.h > h && open.h <= open.vh * 0.31, `opened summary is taller but bounded: ${JSON.stringify(open)}`);
    await page.locator('[data-testid="summary-toggle"]').click();

    // the odd phase: in the timeline, selectable, its stdout shown; the link round-trips
    await page.goto(ctx.server.url + runHash(ws, ID.many, 200, "stdout", { phase: ODD_PHASE }));
    await expectSelected(page, { runId: ID.many, iteration: 200, tab: "stdout" });
    const f = path.join(iterDir(ws, ID.many, 200), `${ODD_PHASE}.stdout.txt`);
    await page.locator(`[data-testid="text-viewer"][data-path="${f}"] [data-testid="text-line"][data-line="0"]`).waitFor();
    assert.match(await page.locator(".tabs").innerText(), new RegExp(ODD_PHASE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    // keyboard: ← steps to 199 keeping the phase
    await page.locator("body").press("ArrowLeft");
    await expectSelected(page, { runId: ID.many, iteration: 199, tab: "stdout" });
    await page.locator(`[data-testid="text-viewer"][data-path="${path.join(iterDir(ws, ID.many, 199), `${ODD_PHASE}.stdout.txt`)}"]`).waitFor();
    p.assertClean("long values");
  } finally {
    await p.close();
  }
});

test("a deep link to a file the iteration does not have says so (not a bad-request error)", async () => {
  const ws = ctx.ws;
  const p = await openPage(ctx.browser);
  p.allow(/Failed to load resource.*404/);
  const { page } = p;
  try {
    await page.goto(ctx.server.url + runHash(ws, ID.odd, 1, "files", { file: "no such file #?.txt" }));
    await expectSelected(page, { runId: ID.odd, iteration: 1, tab: "files" });
    const tv = page.locator(`[data-testid="text-viewer"][data-path="${path.join(iterDir(ws, ID.odd, 1), "no such file #?.txt")}"]`);
    await tv.getByText("No such file yet").waitFor();
    assert.equal(await page.locator('[data-testid="error-banner"]').count(), 0, "no error box");
    p.assertClean("missing file link");
  } finally {
    await p.close();
  }
});
