// Damaged files: a run with invalid result.json / summary.json shows what is wrong, names the
// file, and the rest of the UI keeps working.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api, DEMO, OWN, listRunDirs, openPage, runHash, suite } from "./helpers.mjs";

const ctx = suite({ before, after });

test("invalid summary.json → run-errors naming the file; page does not break", async () => {
  const ws = ctx.fx.ws;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ws, OWN.damaged));
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), OWN.damaged);
    const errs = page.locator('[data-testid="run-errors"]');
    await errs.waitFor();
    assert.match(await errs.innerText(), /summary\.json/);
    assert.match(await errs.innerText(), /invalid_json|not valid JSON|JSON/i);
    // the iterations still render
    await page.locator('[data-testid="iteration-item"][data-iteration="1"]').waitFor();
    assertClean("damaged summary");
  } finally {
    await close();
  }
});

test("truncated result.json → the iteration names result.json and the error; tabs still work", async () => {
  const ws = ctx.fx.ws;
  const detail = await api(ctx.server.url, "iteration", { workspace: ws, run_id: OWN.damaged, iteration: 1 });
  assert.equal(detail.result, null, "the API reports no result for a damaged result.json");
  assert.ok(detail.errors.some((e) => e.path.endsWith("result.json")), JSON.stringify(detail.errors));
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ws, OWN.damaged, 1, "result"));
    await page.locator('[data-testid="run-header"]').waitFor();
    // the error text names result.json and what is wrong with it (not only the tab label)
    const err = page.locator("main").getByText(/truncated_json|invalid_json/).first();
    await err.waitFor();
    const box = await err.locator("xpath=..").innerText();
    assert.match(box, /result\.json/, `error box names result.json: ${box}`);
    // the other tabs keep working for that iteration
    await page.locator('[data-testid="tab-prompt"]').click();
    await page.locator('[data-testid="text-line"][data-line="0"]').waitFor();
    await page.locator('[data-testid="tab-files"]').click();
    await page.locator('[data-testid="file-row"][data-file="result.json"]').waitFor();
    assertClean("damaged result");
  } finally {
    await close();
  }
});

test("the demo's truncated summary.json shows run-errors too", async (t) => {
  if (!ctx.fx.demo) return t.skip("no demo workspace");
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ctx.fx.ws, DEMO.damagedSummary));
    const errs = page.locator('[data-testid="run-errors"]');
    await errs.waitFor();
    assert.match(await errs.innerText(), /summary\.json/);
    assert.match(await errs.innerText(), /truncated_json|ends early/);
    assertClean("demo damaged summary");
  } finally {
    await close();
  }
});

test("damaged runs do not break the runs table: every run still renders", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + "#/runs");
    await page.locator('[data-testid="run-row"]').first().waitFor();
    const ids = (await page.$$eval('[data-testid="run-row"]', (els) => els.map((e) => e.getAttribute("data-run-id")))).sort();
    assert.deepEqual(ids, listRunDirs(ctx.fx.ws));
    const dmg = page.locator(`[data-testid="run-row"][data-run-id="${OWN.damaged}"]`);
    assert.equal(await dmg.locator('[data-testid="status-chip"]').count(), 1);
    // the error count column shows the damage
    assert.notEqual((await dmg.locator('[data-testid="run-errors-count"]').innerText()).trim(), "0");
    // and a healthy run next to it opens fine
    await page.locator(`[data-testid="run-row"][data-run-id="${OWN.fake3}"]`).click();
    await page.locator(`[data-testid="run-header"][data-run-id="${OWN.fake3}"]`).waitFor();
    assert.equal(await page.locator('[data-testid="run-errors"]').count(), 0, "no run-errors on a healthy run");
    assertClean("runs table with damage");
  } finally {
    await close();
  }
});
