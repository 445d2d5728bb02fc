// Live updates without reload: a growing stdout file and a new run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { OWN, fakeRun, fileLines, iterDir, openPage, runHash, suite } from "./helpers.mjs";

const ctx = suite({ before, after });

test("a line appended to the shown stdout file appears without reload", async () => {
  const ws = ctx.fx.ws;
  const f = path.join(iterDir(ws, OWN.fake3, 1), "attempt.stdout.txt");
  const before = fileLines(f).length;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ws, OWN.fake3, 1, "stdout"));
    const viewer = page.locator(`[data-testid="text-viewer"][data-path="${f}"]`);
    await viewer.waitFor();
    await page.waitForFunction((n) => document.querySelector('[data-testid="text-viewer"]')?.getAttribute("data-total-lines") === String(n), before);
    // mark the document: a reload would lose it
    await page.evaluate(() => (window.__noReload = true));
    const token = `live-line-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const text = fs.readFileSync(f, "utf8");
    fs.appendFileSync(f, (text.endsWith("\n") || text === "" ? "" : "\n") + token + "\n");
    const t0 = Date.now();
    await page
      .locator('[data-testid="text-line"]', { hasText: token })
      .waitFor({ timeout: 8000 })
      .catch((e) => {
        throw new Error(`appended line did not appear within 8 s: ${e.message}`);
      });
    const secs = (Date.now() - t0) / 1000;
    assert.equal(await page.evaluate(() => window.__noReload), true, "no reload happened");
    assert.ok(secs < 5, `appeared after ${secs}s (want < 5 s)`);
    assert.equal(await viewer.getAttribute("data-total-lines"), String(fileLines(f).length));
    assertClean("live stdout");
  } finally {
    await close();
  }
});

test("a new run appears in the open runs table without reload", async () => {
  const ws = ctx.fx.ws;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + "#/runs");
    await page.locator('[data-testid="run-row"]').first().waitFor();
    await page.evaluate(() => (window.__noReload = true));
    const id = `live-new-${Date.now()}`;
    assert.equal(await page.locator(`[data-testid="run-row"][data-run-id="${id}"]`).count(), 0);
    fakeRun(ws, id, 1);
    const row = page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__noReload), true, "no reload happened");
    assert.equal(await row.locator('[data-testid="status-chip"]').count(), 1);
    assertClean("live runs");
  } finally {
    await close();
  }
});
