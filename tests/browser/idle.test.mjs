// An idle page does not keep re-fetching: with nothing changing on disk, the views must not
// reload their data over and over (with 10,000 runs one `runs` reload is ~5 MB of JSON).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OWN, openPage, runHash, suite } from "./helpers.mjs";

const ctx = suite({ before, after }, { demo: false });

/** Counts POST /api calls by command while `ms` pass. */
async function countCalls(page, ms) {
  const by = {};
  const on = (req) => {
    if (!req.url().endsWith("/api") || req.method() !== "POST") return;
    let cmd = "?";
    try {
      cmd = JSON.parse(req.postData() ?? "null")?.cmd ?? "?";
    } catch {
      /* not JSON */
    }
    by[cmd] = (by[cmd] ?? 0) + 1;
  };
  page.on("request", on);
  await page.waitForTimeout(ms);
  page.off("request", on);
  return by;
}

test("idle runs table: no repeated reloads while nothing changes", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + "#/runs");
    await page.locator('[data-testid="run-row"]').first().waitFor();
    await page.waitForTimeout(1000); // let the start-up settle
    const by = await countCalls(page, 4000);
    assert.ok((by.runs ?? 0) <= 1, `runs reloaded ${by.runs} times in 4 s of idle: ${JSON.stringify(by)}`);
    assertClean("idle runs");
  } finally {
    await close();
  }
});

test("idle run view: no repeated reloads of the iteration while nothing changes", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ctx.fx.ws, OWN.fake3, 2, "stdout"));
    await page.locator('[data-testid="text-line"]').first().waitFor();
    await page.waitForTimeout(1000);
    const by = await countCalls(page, 4000);
    assert.ok((by.iteration ?? 0) <= 1, `iteration reloaded ${by.iteration} times in 4 s of idle: ${JSON.stringify(by)}`);
    assert.ok((by.run ?? 0) <= 1, `run reloaded ${by.run} times in 4 s of idle: ${JSON.stringify(by)}`);
    assertClean("idle run view");
  } finally {
    await close();
  }
});
