// Runs → run → iteration → every tab, keyboard navigation, and the Codex / Claude transcripts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  api,
  DEMO,
  OWN,
  expectedStatus,
  fileLines,
  iterDir,
  listIterDirs,
  listRunDirs,
  openPage,
  runHash,
  suite,
  TABS,
} from "./helpers.mjs";

const ctx = suite({ before, after });

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

async function rowIds(page) {
  return page.$$eval('[data-testid="run-row"]', (els) => els.map((e) => e.getAttribute("data-run-id")));
}

/** A text-line with this 0-based number, in the (only) text viewer. */
function line(page, n) {
  return page.locator(`[data-testid="text-viewer"] [data-testid="text-line"][data-line="${n}"]`);
}

test("the runs table lists every run with the right status chip", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url);
    await page.locator('[data-testid="run-row"]').first().waitFor();
    const apiRows = (await api(ctx.server.url, "runs", {})).filter((r) => r.workspace === ctx.fx.ws);
    const dirs = listRunDirs(ctx.fx.ws);
    const apiIds = apiRows.map((r) => r.run_id).sort();
    assert.deepEqual(apiIds, dirs, "the API lists every directory of .harnessgym/runs");
    const shown = (await rowIds(page)).sort();
    assert.deepEqual(shown, dirs, "the runs table lists every run directory");
    assert.ok(dirs.includes(OWN.fake3) && dirs.includes(OWN.damaged));
    if (ctx.fx.demo) for (const id of Object.values(DEMO)) assert.ok(shown.includes(id), `run ${id} shown`);

    for (const r of apiRows) {
      const chip = page.locator(`[data-testid="run-row"][data-run-id="${r.run_id}"] [data-testid="status-chip"]`);
      assert.equal(await chip.count(), 1, `one status chip in the row of ${r.run_id}`);
      assert.equal(await chip.getAttribute("data-status"), expectedStatus(r), `status chip of ${r.run_id} (state ${r.state}, final ${r.final_status})`);
    }
    // a few fixed expectations, independent of the status mapping above
    const st = async (id) =>
      page.locator(`[data-testid="run-row"][data-run-id="${id}"] [data-testid="status-chip"]`).getAttribute("data-status");
    if (ctx.fx.demo) {
      assert.equal(await st(DEMO.solved), "solved");
      assert.equal(await st(DEMO.codex), "solved");
      assert.equal(await st(DEMO.never), "not_solved");
      assert.equal(await st(DEMO.interrupted), "interrupted");
      // visible label text, not only the attribute
      assert.match(await page.locator(`[data-testid="run-row"][data-run-id="${DEMO.never}"] [data-testid="status-chip"]`).innerText(), /not solved/i);
    }
    assertClean("runs table");
  } finally {
    await close();
  }
});

test("click a run → header, iterations, and every tab shows the files' content", async () => {
  if (!ctx.fx.demo) return; // needs the Codex run of the demo workspace
  const ws = ctx.fx.ws;
  const id = DEMO.codex;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url);
    await page.locator(`[data-testid="run-row"][data-run-id="${id}"]`).click();
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), id);
    assert.match(await header.innerText(), new RegExp(id));
    assert.ok(new URL(page.url()).hash.startsWith(runHash(ws, id)), `URL ${page.url()} is the run's route`);
    // The MCP calls the telemetry log names this run with, as the index counts them.
    const [row] = (await api(ctx.server.url, "runs", {})).filter((r) => r.run_id === id);
    assert.ok(row.mcp_call_count > 0, "the demo logs calls for the Codex run");
    assert.match(await header.innerText(), new RegExp(`MCP calls\\s+${row.mcp_call_count}\\b`, "i"));

    const iters = listIterDirs(ws, id);
    assert.ok(iters.length >= 2);
    await page.locator('[data-testid="iteration-item"]').first().waitFor();
    const shownIters = await page.$$eval('[data-testid="iteration-item"]', (els) => els.map((e) => Number(e.getAttribute("data-iteration"))));
    assert.deepEqual(shownIters, iters, "one iteration item per iteration directory, in order");

    await page.locator('[data-testid="iteration-item"][data-iteration="1"]').click();
    await page.waitForFunction(() => /\/1(\/|$|\?)/.test(location.hash));
    const d1 = iterDir(ws, id, 1);

    // transcript (Codex JSON events → items)
    await page.locator('[data-testid="tab-transcript"]').click();
    await page.locator('[data-testid="transcript-item"]').first().waitFor();
    assert.ok((await page.locator('[data-testid="transcript-item"][data-kind="tool"]').count()) > 0, "codex tool items");
    assert.ok((await page.locator('[data-testid="transcript-item"][data-kind="message"]').count()) > 0, "codex message items");

    // prompt / stdout / stderr: the text viewer shows the file's lines
    for (const [tab, file] of [
      ["prompt", "attempt.prompt.txt"],
      ["stdout", "attempt.stdout.txt"],
      ["stderr", "attempt.stderr.txt"],
    ]) {
      await page.locator(`[data-testid="tab-${tab}"]`).click();
      const p = path.join(d1, file);
      const lines = fileLines(p);
      assert.ok(lines.length > 0, `${file} is not empty in the fixture`);
      const viewer = page.locator(`[data-testid="text-viewer"][data-path="${p}"]`);
      await viewer.waitFor();
      await page.waitForFunction(
        ([p, n]) => document.querySelector(`[data-testid="text-viewer"][data-path="${CSS.escape(p)}"]`)?.getAttribute("data-total-lines") === String(n),
        [p, lines.length],
      );
      const n = lines.findIndex((l) => l.trim().length > 10);
      const want = lines[Math.max(0, n)].trim().slice(0, 60);
      await line(page, Math.max(0, n)).waitFor();
      const got = await line(page, Math.max(0, n)).innerText();
      assert.ok(got.includes(want), `${tab}: line ${n} shows ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      assert.equal(await page.locator(`[data-testid="tab-${tab}"]`).getAttribute("aria-selected"), "true");
    }

    // result.json → json tree with its keys and a value
    await page.locator('[data-testid="tab-result"]').click();
    const result = JSON.parse(fs.readFileSync(path.join(d1, "result.json"), "utf8"));
    const tree = page.locator('[data-testid="json-tree"]').first();
    await tree.waitFor();
    const treeText = await tree.innerText();
    for (const k of ["status", "summary", "missing_tooling"]) {
      assert.ok(k in result, `fixture result.json has ${k}`);
      assert.ok(treeText.includes(k), `json tree shows key ${k}`);
    }
    assert.ok(treeText.includes(String(result.status)), `json tree shows status value ${result.status}`);

    // activation.json → json tree
    await page.locator('[data-testid="tab-activation"]').click();
    const act = JSON.parse(fs.readFileSync(path.join(d1, "activation.json"), "utf8"));
    await page.locator('[data-testid="json-tree"]').first().waitFor();
    const actText = await page.locator('[data-testid="json-tree"]').first().innerText();
    for (const k of Object.keys(act).slice(0, 4)) assert.ok(actText.includes(k), `activation tree shows key ${k}`);

    // artifacts → the registry's artifacts
    await page.locator('[data-testid="tab-artifacts"]').click();
    const reg = JSON.parse(fs.readFileSync(path.join(ws, ".harnessgym", "registry.json"), "utf8"));
    const artPaths = (reg.artifacts ?? []).map((a) => a.path).filter(Boolean);
    assert.ok(artPaths.length > 0, "the fixture registry has artifacts");
    await page.getByText(artPaths[0], { exact: true }).first().waitFor();
    for (const p of artPaths) assert.ok((await page.getByText(p, { exact: true }).count()) > 0, `artifact ${p} listed`);

    // files → one row per file of the iteration directory (recursively)
    await page.locator('[data-testid="tab-files"]').click();
    await page.locator('[data-testid="file-row"]').first().waitFor();
    const rows = (await page.$$eval('[data-testid="file-row"]', (els) => els.map((e) => e.getAttribute("data-file")))).sort();
    const apiFiles = (await api(ctx.server.url, "iteration", { workspace: ws, run_id: id, iteration: 1 })).files.map((f) => f.name).sort();
    assert.deepEqual(rows, apiFiles, "files tab lists every file the API reports for the iteration");
    // …and the API's list is the directory's: every regular file up to 3 levels deep (the
    // backend stops descending somewhere below that and does not follow symlinks)
    const onDisk = walk(d1)
      .filter((p) => fs.lstatSync(p).isFile())
      .map((p) => path.relative(d1, p).split(path.sep).join("/"))
      .filter((r) => r.split("/").length <= 3);
    for (const f of onDisk) assert.ok(rows.includes(f), `files tab lists ${f}`);
    assert.ok(rows.includes("result.json") && rows.includes("attempt.prompt.txt"));

    // every tab was reachable and marked selected in turn
    for (const t of TABS) assert.equal(await page.locator(`[data-testid="tab-${t}"]`).count(), 1, `tab-${t} exists`);
    assertClean("run view tabs");
  } finally {
    await close();
  }
});

test("←/→ change the iteration and keep the tab", async () => {
  if (!ctx.fx.demo) return;
  const ws = ctx.fx.ws;
  const id = DEMO.codex;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ws, id, 1, "stdout"));
    const p1 = path.join(iterDir(ws, id, 1), "attempt.stdout.txt");
    const p2 = path.join(iterDir(ws, id, 2), "attempt.stdout.txt");
    await page.locator(`[data-testid="text-viewer"][data-path="${p1}"]`).waitFor();
    await page.locator("body").click({ position: { x: 5, y: 5 } }).catch(() => {});
    await page.keyboard.press("ArrowRight");
    await page.locator(`[data-testid="text-viewer"][data-path="${p2}"]`).waitFor();
    assert.match(page.url(), /\/2\/stdout/);
    assert.equal(await page.locator('[data-testid="tab-stdout"]').getAttribute("aria-selected"), "true");
    assert.match((await page.locator('[data-testid="iteration-item"][data-iteration="2"]').getAttribute("class")) ?? "", /\bsel\b/);
    assert.equal(await line(page, 0).innerText().then((t) => t.includes(fileLines(p2)[0].slice(0, 40))), true);
    await page.keyboard.press("ArrowLeft");
    await page.locator(`[data-testid="text-viewer"][data-path="${p1}"]`).waitFor();
    assert.match(page.url(), /\/1\/stdout/);
    // at the first iteration, ← stays there
    await page.keyboard.press("ArrowLeft");
    await page.waitForTimeout(200);
    assert.match(page.url(), /\/1\/stdout/);
    assertClean("iteration keys");
  } finally {
    await close();
  }
});

test("a Claude stream-json stdout renders as transcript items", async () => {
  if (!ctx.fx.demo) return;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ctx.fx.ws, DEMO.claude, 1, "transcript"));
    await page.locator('[data-testid="transcript-item"]').first().waitFor();
    const kinds = await page.$$eval('[data-testid="transcript-item"]', (els) => els.map((e) => e.getAttribute("data-kind")));
    assert.ok(kinds.includes("tool"), `tool items in ${kinds}`);
    assert.ok(kinds.includes("message"), `message items in ${kinds}`);
    // content from the file: the Bash command and the assistant's text
    const text = await page.locator('[data-testid="transcript-item"]').allInnerTexts();
    assert.ok(text.some((t) => t.includes("python3 verifier.py")), "the Bash tool call's command is shown");
    assert.ok(text.some((t) => t.includes("Let me run the verifier first.")), "the first assistant message is shown");
    assertClean("claude transcript");
  } finally {
    await close();
  }
});

test("j/k move the selection in the runs table and Enter opens the run", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + "#/runs");
    await page.locator('[data-testid="run-row"]').first().waitFor();
    const order = await rowIds(page);
    assert.ok(order.length >= 2);
    const selected = () =>
      page.$$eval('[data-testid="run-row"][aria-selected="true"]', (els) => els.map((e) => e.getAttribute("data-run-id")));
    await page.keyboard.press("j");
    assert.deepEqual(await selected(), [order[0]], "j selects the first row");
    await page.keyboard.press("j");
    assert.deepEqual(await selected(), [order[1]], "j again selects the second row");
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    assert.deepEqual(await selected(), [order[1]], "k goes back up");
    await page.keyboard.press("Enter");
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), order[1]);
    assertClean("keyboard");
  } finally {
    await close();
  }
});
