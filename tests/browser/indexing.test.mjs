// The first index pass of a big workspace runs behind the page: a progress bar, and the runs
// listed while their text is still being read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { api, checkPrereqs, launchBrowser, openPage, startServer, waitFor } from "./helpers.mjs";

const RUNS = 80;
const LAST_WORD = "zyxwordend"; // once, at the end of each run's output
let tmp, ws, server, browser;

before(async () => {
  checkPrereqs();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hg-indexing-"));
  ws = path.join(tmp, "big");
  // About 1 MB of output per run, of many distinct words (what makes full-text indexing
  // slow): the text takes the index seconds, the JSON milliseconds.
  const output = (r) => {
    const lines = [];
    let n = 0;
    for (let i = r * 100_003; n < 1 << 20; i++) {
      const words = [];
      for (let k = 0; k < 10; k++) words.push("w" + ((i * 2654435761 + k * 40503) % 1000003).toString(16));
      const l = words.join(" ") + (i % 50 === 0 ? " the verifier checked kernel.py\n" : "\n");
      lines.push(l);
      n += l.length;
    }
    return lines.join("") + `the end of the output ${LAST_WORD}\n`;
  };
  for (let r = 0; r < RUNS; r++) {
    const id = `big-${String(r).padStart(3, "0")}`;
    const run = path.join(ws, ".harnessgym", "runs", id);
    const it = path.join(run, "iterations", "1");
    fs.mkdirSync(it, { recursive: true });
    fs.writeFileSync(path.join(run, "run_config.json"), JSON.stringify({ run_id: id, runner: "fake", iterations: 1 }));
    fs.writeFileSync(path.join(it, "result.json"), JSON.stringify({ iteration: 1, status: "failed", solved: false }));
    fs.writeFileSync(path.join(it, "attempt.stdout.txt"), output(r));
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("a long first index shows its progress, lists runs before it ends, and says a search is partial", async () => {
  server = await startServer(ws, { waitRuns: false });
  const { page, assertClean, close } = await openPage(browser);
  try {
    await page.goto(server.url);
    const bar = page.locator('[data-testid="indexing"]');
    await bar.waitFor({ timeout: 15_000 });
    assert.match(await bar.innerText(), /Indexing.*[\d,]+ files · .*\d+%/s);
    // Rows on screen while the bar is still up: the runs were committed before their text.
    await page.waitForFunction(
      () => document.querySelector('[data-testid="indexing"]') && document.querySelectorAll('[data-testid="run-row"]').length > 0,
      null,
      { timeout: 15_000 },
    );
    // A search made now says its result is partial, and runs again when the index is done.
    await page.goto(server.url + `#/search?q=${LAST_WORD}`);
    await page.locator('[data-testid="search-partial"]').waitFor({ timeout: 10_000 });
    const fractions = [];
    while (await bar.isVisible()) {
      const f = await bar.getAttribute("data-fraction").catch(() => null);
      if (f !== null) fractions.push(Number(f));
      await page.waitForTimeout(100);
    }
    assert.ok(fractions.length > 0, "the bar showed a fraction");
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b), "the bar never went back");
    await bar.waitFor({ state: "detached", timeout: 120_000 });
    assert.equal((await api(server.url, "info")).indexing, null);
    await page.locator('[data-testid="search-partial"]').waitFor({ state: "detached" });
    await waitFor(async () => (await page.locator(".sv .head").innerText()).startsWith(`${RUNS} matching lines`), {
      what: `the search to list the ${RUNS} lines once the index is done`,
    });
    await page.goto(server.url + "#/runs");
    await waitFor(async () => (await page.locator('[data-testid="runs-count"]').innerText()).includes(`${RUNS} runs`), {
      what: `${RUNS} runs counted on the page`,
    });
    const hits = await api(server.url, "search", { query: "verifier kernel" });
    assert.ok(hits.matching_chunks >= RUNS, `search finds the text once the pass is over (${hits.matching_chunks})`);
    assertClean("indexing");
  } finally {
    await close();
  }
});
