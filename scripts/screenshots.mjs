// Takes the README's screenshots: `harnessgym view` on a fresh demo workspace, headless Chromium.
//   node scripts/screenshots.mjs [OUT_DIR]     (default docs/screenshots; needs target/debug/harnessgym and ui/dist)
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const root = resolve(import.meta.dirname, "..");
const out = resolve(process.argv[2] ?? join(root, "docs/screenshots"));
mkdirSync(out, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), "hg-shots-"));
const ws = join(tmp, "demo");
const bin = join(root, "target/debug/harnessgym");
execFileSync("python3", [join(root, "scripts/demo_workspace.py"), "--bin", bin, ws], { stdio: "ignore" });

const server = spawn(bin, ["view", "--port", "0", "--db", join(tmp, "index.sqlite3"), "--ui-dir", join(root, "ui/dist"), ws], {
  stdio: ["ignore", "pipe", "ignore"],
});
const url = await new Promise((ok) => createInterface({ input: server.stdout }).once("line", ok));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const enc = encodeURIComponent;
const run = (id, it, tab, q = "") => `${url}#/run/${enc(ws)}/${enc(id)}/${it}/${tab}${q}`;
const shots = [
  ["runs.png", `${url}#/runs`, "light"],
  ["run-transcript.png", run("codex-transcript", 1, "transcript"), "light"],
  ["run-claude.png", run("claude-transcript", 1, "transcript"), "light"],
  ["run-stdout.png", run("ansi-long-output", 1, "stderr"), "light"],
  ["run-failures.png", run("phase-failures", 1, "result"), "light"],
  ["run-calls.png", run("never-solved", 3, "calls"), "light"],
  ["search.png", `${url}#/search?q=${enc("verifier")}`, "light"],
  ["run-dark.png", run("solved-in-2", 2, "activation"), "dark"],
  ["runs-dark.png", `${url}#/runs`, "dark"],
];
for (const [name, link, colorScheme] of shots) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme });
  await page.goto(link);
  // Not "networkidle": the event stream stays open.
  await page.waitForSelector('[data-testid="run-row"], [data-testid="run-header"], [data-testid="search-hit"]');
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(out, name) });
  await page.close();
  console.log(join(out, name));
}
// The Ctrl+K palette over the runs, a few letters typed.
{
  const page = await browser.newPage({ viewport: { width: 1300, height: 700 } });
  await page.goto(`${url}#/runs`);
  await page.waitForSelector('[data-testid="run-row"]');
  await page.keyboard.press("Control+k");
  await page.locator('[data-testid="palette-input"]').pressSequentially("codex", { delay: 20 });
  await page.waitForSelector('[data-testid="palette-item"][data-kind="hit"]');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, "palette.png") });
  await page.close();
  console.log(join(out, "palette.png"));
}
// (indexing.png shows the first index of the index benchmark's scale-0.1 corpus; see benches/.)
await browser.close();
server.kill();
