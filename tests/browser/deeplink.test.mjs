// Deep links: a pasted URL opens the right run, iteration and tab; copy-link round-trips.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { DEMO, OWN, TABS, fileLines, iterDir, openPage, runHash, suite } from "./helpers.mjs";

const ctx = suite({ before, after });

async function expectRunView(page, { runId, iteration, tab, filePath }) {
  const header = page.locator('[data-testid="run-header"]');
  await header.waitFor();
  assert.equal(await header.getAttribute("data-run-id"), runId);
  const item = page.locator(`[data-testid="iteration-item"][data-iteration="${iteration}"]`);
  await item.waitFor();
  assert.match((await item.getAttribute("class")) ?? "", /\bsel\b/, `iteration ${iteration} selected`);
  assert.equal(await page.locator(".it.sel").count(), 1, "exactly one iteration selected");
  assert.equal(await page.locator(`[data-testid="tab-${tab}"]`).getAttribute("aria-selected"), "true", `tab ${tab} selected`);
  assert.equal(await page.locator(TABS.map((t) => `[data-testid="tab-${t}"][aria-selected="true"]`).join(",")).count(), 1, "exactly one tab selected");
  if (filePath) await page.locator(`[data-testid="text-viewer"][data-path="${filePath}"]`).waitFor();
}

test("#/run/<ws>/<run>/<iter>/<tab> opens that run, iteration and tab", async () => {
  const ws = ctx.fx.ws;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    const id = OWN.fake3;
    const f = path.join(iterDir(ws, id, 2), "attempt.prompt.txt");
    await page.goto(ctx.server.url + runHash(ws, id, 2, "prompt"));
    await expectRunView(page, { runId: id, iteration: 2, tab: "prompt", filePath: f });
    assert.ok((await page.locator('[data-testid="text-line"][data-line="0"]').innerText()).includes(fileLines(f)[0].slice(0, 40)));

    // with ?line=N: that line is visible and highlighted
    const n = Math.min(70, fileLines(f).length - 1);
    await page.goto(ctx.server.url + runHash(ws, id, 1, "prompt", { line: n }));
    const f1 = path.join(iterDir(ws, id, 1), "attempt.prompt.txt");
    await expectRunView(page, { runId: id, iteration: 1, tab: "prompt", filePath: f1 });
    const l = page.locator(`[data-testid="text-line"][data-line="${n}"]`);
    await l.waitFor({ state: "visible" });
    assert.match((await l.getAttribute("class")) ?? "", /\bhl\b/);
    assert.ok((await l.innerText()).includes(fileLines(f1)[n].trim().slice(0, 30)));

    if (ctx.fx.demo) {
      // a run id and workspace that need encoding are not involved, but a different tab / run is
      await page.goto(ctx.server.url + runHash(ws, DEMO.codex, 1, "stderr"));
      await expectRunView(page, { runId: DEMO.codex, iteration: 1, tab: "stderr", filePath: path.join(iterDir(ws, DEMO.codex, 1), "attempt.stderr.txt") });
    }
    assertClean("deep link");
  } finally {
    await close();
  }
});

test("copy-link copies a URL that opens the same view in a new page", async () => {
  const ws = ctx.fx.ws;
  const id = OWN.fake3;
  const { context, page, assertClean, close } = await openPage(ctx.browser, {
    permissions: ["clipboard-read", "clipboard-write"],
  });
  try {
    // get there by clicking, not by URL
    await page.goto(ctx.server.url);
    await page.locator(`[data-testid="run-row"][data-run-id="${id}"]`).click();
    await page.locator('[data-testid="iteration-item"][data-iteration="2"]').click();
    await page.locator('[data-testid="tab-stdout"]').click();
    const f = path.join(iterDir(ws, id, 2), "attempt.stdout.txt");
    await expectRunView(page, { runId: id, iteration: 2, tab: "stdout", filePath: f });

    await page.locator('[data-testid="copy-link"]').click();
    const copied = await page.waitForFunction(async () => {
      try {
        const t = await navigator.clipboard.readText();
        return t.startsWith("http") ? t : null;
      } catch {
        return null;
      }
    }).then((h) => h.jsonValue());
    assert.equal(copied, page.url(), "copy-link copies the current URL");
    assert.ok(new URL(copied).hash.startsWith(runHash(ws, id, 2, "stdout")), `link ${copied} names run, iteration and tab`);

    const page2 = await context.newPage();
    const errs = [];
    page2.on("pageerror", (e) => errs.push(String(e)));
    page2.on("console", (m) => m.type() === "error" && errs.push(m.text()));
    await page2.goto(copied);
    await expectRunView(page2, { runId: id, iteration: 2, tab: "stdout", filePath: f });
    assert.deepEqual(errs, []);
    await page2.close();
    assertClean("copy link");
  } finally {
    await close();
  }
});
