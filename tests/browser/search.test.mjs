// Full-text search in the top bar, and jumping from a hit to the line in the run view.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api, openPage, suite } from "./helpers.mjs";

const ctx = suite({ before, after });

test("search → hit → run view at the right iteration, tab and highlighted line", async () => {
  const s = ctx.fx.search;
  // the backend agrees: exactly one hit, in that prompt file, at that line (1-based)
  const res = await api(ctx.server.url, "search", { query: s.word, limit: 20 });
  assert.equal(res.hits.length, 1, JSON.stringify(res.hits));
  assert.equal(res.hits[0].file, s.path);
  assert.equal(res.hits[0].line, s.line + 1);

  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url);
    await page.locator('[data-testid="run-row"]').first().waitFor();
    const input = page.locator('[data-testid="search-input"]');
    await input.click();
    await input.pressSequentially(s.word, { delay: 15 });
    const hit = page.locator('[data-testid="search-hit"]');
    await hit.first().waitFor();
    assert.equal(await hit.count(), 1, "one hit for a word that is in one file");
    assert.equal(await hit.getAttribute("data-file"), s.path);
    assert.match(await hit.innerText(), new RegExp(s.word));
    assert.equal(await hit.locator("mark").first().innerText(), s.word, "the word is marked in the snippet");

    await hit.click();
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), s.runId);
    assert.equal(await page.locator('[data-testid="tab-prompt"]').getAttribute("aria-selected"), "true", "prompt tab chosen");
    assert.match(
      (await page.locator(`[data-testid="iteration-item"][data-iteration="${s.iteration}"]`).getAttribute("class")) ?? "",
      /\bsel\b/,
      `iteration ${s.iteration} selected`,
    );
    await page.locator(`[data-testid="text-viewer"][data-path="${s.path}"]`).waitFor();
    const line = page.locator(`[data-testid="text-line"][data-line="${s.line}"]`);
    await line.waitFor({ state: "visible" });
    assert.ok(await line.isVisible());
    assert.match(await line.innerText(), new RegExp(s.word));
    assert.match((await line.getAttribute("class")) ?? "", /\bhl\b/, "the hit's line is highlighted");
    // the line is inside the viewport of the viewer, not just in the DOM
    const inView = await line.evaluate((el) => {
      const sc = el.closest(".scroll") ?? el.parentElement;
      const a = el.getBoundingClientRect();
      const b = sc.getBoundingClientRect();
      return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
    });
    assert.ok(inView, "highlighted line is scrolled into view");
    assertClean("search");
  } finally {
    await close();
  }
});

test("a word in no file shows no hits and no error", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + "#/search?q=nosuchwordanywhere");
    await page.locator('[data-testid="search-input"]').waitFor();
    await page.waitForTimeout(800);
    assert.equal(await page.locator('[data-testid="search-hit"]').count(), 0);
    assert.equal(await page.locator('[data-testid="error-banner"]').count(), 0);
    assertClean("empty search");
  } finally {
    await close();
  }
});
