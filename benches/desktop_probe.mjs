// Time to first run rows in the real desktop window (WebKitGTK through Tauri IPC), for comparison
// with the browser benchmark. Needs Xvfb, tauri-driver, target/debug/harnessgym-desktop.
//   node benches/desktop_probe.mjs WS DB [rounds]
import { spawn } from "node:child_process";
import { resolve } from "node:path";

const [ws, db, rounds = "3"] = process.argv.slice(2);
const app = resolve(import.meta.dirname, "../target/debug/harnessgym-desktop");
const display = ":97";
const xvfb = spawn("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], { stdio: "ignore" });
await new Promise((r) => setTimeout(r, 500));
const driver = spawn("tauri-driver", ["--port", "4461", "--native-port", "4462"], { env: { ...process.env, DISPLAY: display }, stdio: "ignore" });
const base = "http://127.0.0.1:4461";
for (let i = 0; i < 100; i++) {
  try { if ((await fetch(`${base}/status`)).ok) break; } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
async function wd(method, path, body) {
  const res = await fetch(base + path, { method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
  const j = await res.json();
  if (!res.ok) throw new Error(JSON.stringify(j));
  return j.value;
}
try {
  for (let r = 0; r < Number(rounds); r++) {
    const t0 = Date.now();
    const { sessionId: s } = await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app, args: ["--db", db, ws] } } } });
    const tSession = Date.now() - t0;
    let found = null;
    while (!found) {
      found = await wd("POST", `/session/${s}/execute/sync`, {
        script: "const r = document.querySelector('[data-testid=\"run-row\"]'); return r ? {now: performance.now(), rows: document.querySelector('[data-testid=\"runs-table\"]')?.getAttribute('aria-rowcount')} : null;",
        args: [],
      });
      if (!found) await new Promise((res) => setTimeout(res, 20));
    }
    console.log(`round ${r + 1}: session (app start) ${tSession} ms; first run row ${Math.round(found.now)} ms after navigation start; rows ${found.rows}`);
    await wd("DELETE", `/session/${s}`);
  }
} finally {
  driver.kill();
  xvfb.kill();
}
