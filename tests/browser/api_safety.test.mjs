// The HTTP API's guards, through the real `harnessgym view` server (no browser needed, but run
// with the browser suite because it shares the server setup).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { api, rawRequest, suite, iterDir, OWN } from "./helpers.mjs";

const ctx = suite({ before, after }, { demo: false, browser: false });

function post(body, headers = { "content-type": "application/json" }) {
  return rawRequest(new URL("api", ctx.server.url).href, { method: "POST", headers, body });
}

test("read_text of a file inside the workspace works (the control case)", async () => {
  const p = path.join(iterDir(ctx.fx.ws, OWN.fake3, 1), "attempt.prompt.txt");
  const w = await api(ctx.server.url, "read_text", { path: p, start_line: 0, max_lines: 5 });
  assert.equal(w.path, p);
  assert.equal(w.lines[0], fs.readFileSync(p, "utf8").split("\n")[0]);
});

test("read_text of /etc/passwd is 403 forbidden", async () => {
  const r = await post(JSON.stringify({ cmd: "read_text", args: { path: "/etc/passwd", start_line: 0 } }));
  assert.equal(r.status, 403, r.body);
  assert.equal(r.json?.kind, "forbidden", r.body);
  assert.doesNotMatch(r.body, /root:x:0:0/);
});

test("read_text of WS/../outside.txt (an existing file) is 403 forbidden", async () => {
  const p = path.join(ctx.fx.ws, "..", "outside.txt");
  assert.ok(fs.existsSync(p), "the fixture made outside.txt");
  const r = await post(JSON.stringify({ cmd: "read_text", args: { path: p, start_line: 0 } }));
  assert.equal(r.status, 403, r.body);
  assert.equal(r.json?.kind, "forbidden", r.body);
  assert.doesNotMatch(r.body, /outside the workspace\\n|"lines"/);
});

test("a symlink inside the workspace pointing outside is 403 forbidden", async () => {
  const link = path.join(ctx.fx.ws, "escape-link.txt");
  fs.symlinkSync(path.join(ctx.fx.ws, "..", "outside.txt"), link);
  try {
    const r = await post(JSON.stringify({ cmd: "read_text", args: { path: link, start_line: 0 } }));
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json?.kind, "forbidden", r.body);
  } finally {
    fs.unlinkSync(link);
  }
});

test("malformed JSON is 400 bad_request", async () => {
  const r = await post('{"cmd": "runs", "args": {');
  assert.equal(r.status, 400, r.body);
  assert.equal(r.json?.kind, "bad_request", r.body);
});

test("an unknown command is 400", async () => {
  const r = await post(JSON.stringify({ cmd: "rm_rf", args: {} }));
  assert.equal(r.status, 400, r.body);
  assert.equal(r.json?.kind, "bad_request", r.body);
});

test("a non-JSON content type is 415", async () => {
  const r = await post(JSON.stringify({ cmd: "info" }), { "content-type": "text/plain" });
  assert.equal(r.status, 415, r.body);
  // a form post (what a cross-site <form> can send without a preflight) too
  const f = await post("cmd=info", { "content-type": "application/x-www-form-urlencoded" });
  assert.equal(f.status, 415, f.body);
});

test("a wrong Host header is 403 (DNS rebinding)", async () => {
  const r = await post(JSON.stringify({ cmd: "info" }), {
    "content-type": "application/json",
    host: "evil.example:80",
  });
  assert.equal(r.status, 403, r.body);
  assert.equal(r.json?.kind, "forbidden", r.body);
  // the same request with the right Host succeeds
  const ok = await post(JSON.stringify({ cmd: "info" }));
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.json?.shell, "browser");
});

test("a wrong Host header on the UI and the event stream is 403 too", async () => {
  for (const p of ["", "api/events"]) {
    const r = await rawRequest(new URL(p, ctx.server.url).href, { headers: { host: "evil.example" } });
    assert.equal(r.status, 403, `GET /${p}: ${r.body.slice(0, 200)}`);
  }
});
