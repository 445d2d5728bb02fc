// A run that is still going: it shows as running and finishes in front of the user, no reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { BIN, openPage, suite } from "./helpers.mjs";

const ctx = suite({ before, after });

test("a running run is shown running, gains its iterations and finishes without reload", async () => {
  const ws = ctx.fx.ws;
  const id = `running-${Date.now()}`;
  const script = path.join(ws, `.harnessgym-${id}.json`);
  // Each attempt takes 2.5 s, so the page sees the run in the middle of it.
  fs.writeFileSync(script, JSON.stringify({ iterations: { default: { attempt: { delay_ms: 2500 } } } }));
  const { page, assertClean, close } = await openPage(ctx.browser);
  const child = spawn(
    BIN,
    ["run", "--runner", "fake", "--workspace", ws, "--task", "task.md", "--iterations", "2", "--run-id", id, "--fake-script", script],
    { cwd: ws, stdio: "ignore" },
  );
  const exited = new Promise((ok) => child.on("exit", (code) => ok(code)));
  try {
    await page.goto(ctx.server.url + "#/runs");
    await page.evaluate(() => (window.__noReload = true));
    const chip = page.locator(`[data-testid="run-row"][data-run-id="${id}"] [data-testid="status-chip"]`);
    await chip.waitFor({ timeout: 10_000 });
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="run-row"][data-run-id="${id}"] [data-testid="status-chip"]`)?.getAttribute("data-status") === "running",
      id,
      { timeout: 5000 },
    );
    await page.locator(`[data-testid="run-row"][data-run-id="${id}"]`).click();
    await page.locator('[data-testid="run-header"]').waitFor();
    // While it runs: fewer iterations than planned; when it ends, both, and a final status.
    const code = await exited;
    assert.ok(code === 0 || code === 3, `harnessgym run exited ${code}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="iteration-item"]').length === 2, null, { timeout: 10_000 });
    await page.waitForFunction(
      () => {
        const s = document.querySelector('[data-testid="run-header"] [data-testid="status-chip"]')?.getAttribute("data-status");
        return s && s !== "running";
      },
      null,
      { timeout: 10_000 },
    );
    assert.equal(await page.evaluate(() => window.__noReload), true, "no reload happened");
    assertClean("running run");
  } finally {
    child.kill();
    await close();
    fs.rmSync(script, { force: true });
  }
});
