// The MCP calls tab of the run view: the tools/calls the telemetry proxy logged for the selected
// iteration, checked against the API (`calls`, `call_stats`) and `harnessgym query calls`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { BIN, DEMO, OWN, api, openPage, runHash, suite, waitFor } from "./helpers.mjs";

const ctx = suite({ before, after });

const rowSel = '[data-testid="call-row"]';

/** The calls of one iteration by the API. */
function apiCalls(runId, iteration) {
  return api(ctx.server.url, "calls", { workspace: ctx.fx.ws, run_id: runId, iteration });
}

/** `harnessgym query calls --json` on the server's index. */
function queryCalls(runId, iteration) {
  const r = spawnSync(
    BIN,
    ["query", "calls", "--db", ctx.server.db, "--workspace", ctx.fx.ws, "--run", runId, "--iteration", String(iteration), "--json"],
    { encoding: "utf8", timeout: 30_000 },
  );
  assert.equal(r.status, 0, `harnessgym query calls failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function tabCount(page) {
  const c = page.locator('[data-testid="tab-calls"] [data-testid="calls-count"]');
  await c.waitFor();
  return Number((await c.innerText()).trim());
}

async function rowAttrs(page, attr) {
  return page.$$eval(rowSel, (els, a) => els.map((e) => e.getAttribute(a)), attr);
}

const sorted = (a) => [...a].sort();

test("MCP calls tab: count, rows, per-tool summary, error filter and sorting match the API", async () => {
  if (!ctx.fx.demo) return;
  const ws = ctx.fx.ws;
  const id = DEMO.never;
  // the iteration with the most calls, among those with a failed one
  const all = await api(ctx.server.url, "calls", { workspace: ws, run_id: id });
  const byIt = new Map();
  for (const c of all) byIt.set(c.iteration, [...(byIt.get(c.iteration) ?? []), c]);
  const [it, calls] = [...byIt].filter(([, cs]) => cs.some((c) => !c.ok)).sort((a, b) => b[1].length - a[1].length)[0];
  assert.ok(calls.length >= 3, `the fixture has calls for ${id} iteration ${it}`);
  assert.deepEqual(await apiCalls(id, it), calls, "scoped API calls = the run's calls of that iteration");
  const cli = queryCalls(id, it);
  assert.equal(cli.length, calls.length, "harnessgym query calls agrees with the API");
  const failed = calls.filter((c) => !c.ok);
  assert.ok(failed.length > 0 && failed.length < calls.length);

  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ws, id, it, "transcript"));
    const tab = page.locator('[data-testid="tab-calls"]');
    await tab.waitFor();
    assert.equal((await tab.innerText()).replace(/\s*\d+\s*$/, "").trim(), "MCP calls");
    assert.equal(await tabCount(page), calls.length, "tab count = calls of the iteration");

    await tab.click();
    await page.waitForFunction(() => location.hash.endsWith("/calls"));
    assert.equal(await tab.getAttribute("aria-selected"), "true");
    await page.locator(rowSel).first().waitFor();
    assert.equal(await page.locator(rowSel).count(), calls.length, "one row per call");
    assert.deepEqual(sorted(await rowAttrs(page, "data-status")), sorted(cli.map((c) => c.status)), "statuses as logged");
    // newest first by default
    const times = calls.map((c) => Date.parse(c.created_at));
    const shownDur = (await rowAttrs(page, "data-duration")).map(Number);
    const byTime = [...calls].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.line - a.line);
    assert.deepEqual(shownDur, byTime.map((c) => c.duration_ms), "rows are newest first");
    assert.ok(times.every((t) => Number.isFinite(t)));

    // per-tool summary = call_stats
    const stats = await api(ctx.server.url, "call_stats", { group_by: "tool", scope: { workspace: ws, run_id: id, iteration: it } });
    assert.equal(stats.total.count, calls.length);
    const summary = page.locator('[data-testid="calls-summary"]');
    await summary.waitFor();
    const got = await summary.locator('[data-testid="calls-summary-row"]').evaluateAll((els) =>
      els.map((e) => ({ tool: e.getAttribute("data-tool"), count: Number(e.getAttribute("data-count")), errors: Number(e.getAttribute("data-errors")), text: e.innerText })),
    );
    assert.deepEqual(
      sorted(got.map((g) => `${g.tool}:${g.count}:${g.errors}`)),
      sorted(stats.groups.map((g) => `${g.key}:${g.count}:${g.errors}`)),
      "summary per tool = call_stats",
    );
    for (const g of got) {
      const servers = [...new Set(calls.filter((c) => c.tool === g.tool).map((c) => c.server))];
      for (const s of servers) assert.ok(g.text.includes(s), `summary row ${g.tool} names server ${s}`);
    }

    // errors only: exactly the calls that did not succeed
    const filter = page.locator('[data-testid="calls-filter"]');
    await filter.locator('[data-filter="errors"]').click();
    await waitFor(async () => (await page.locator(rowSel).count()) === failed.length, { what: "the error filter" });
    assert.deepEqual(sorted(await rowAttrs(page, "data-status")), sorted(failed.map((c) => c.status)));
    assert.ok((await rowAttrs(page, "data-ok")).every((v) => v === "false"), "only failed calls");
    // the error message opens under the row
    const withMsg = failed.find((c) => c.error_message);
    if (withMsg) {
      const row = page.locator(`${rowSel}[data-duration="${withMsg.duration_ms}"][data-tool="${withMsg.tool}"]`).first();
      assert.equal(await row.getAttribute("title"), withMsg.error_message, "message on hover");
      await row.locator('[data-testid="call-error-toggle"]').click();
      assert.equal((await row.locator('[data-testid="call-error"]').innerText()).trim(), withMsg.error_message);
    }
    await filter.locator('[data-filter="all"]').click();
    await waitFor(async () => (await page.locator(rowSel).count()) === calls.length, { what: "all calls again" });

    // sort by duration: descending, then ascending
    await page.locator('[data-sort="duration"]').click();
    const durs = calls.map((c) => c.duration_ms);
    await waitFor(async () => JSON.stringify((await rowAttrs(page, "data-duration")).map(Number)) === JSON.stringify([...durs].sort((a, b) => b - a)), { what: "duration ↓" });
    await page.locator('[data-sort="duration"]').click();
    await waitFor(async () => JSON.stringify((await rowAttrs(page, "data-duration")).map(Number)) === JSON.stringify([...durs].sort((a, b) => a - b)), { what: "duration ↑" });
    await page.locator('[data-sort="time"]').click();

    // ←/→ keep the tab and show the other iteration's calls
    const other = [...byIt.keys()].find((k) => k !== it && k !== null);
    await page.locator(`[data-testid="iteration-item"][data-iteration="${other}"]`).click();
    await page.waitForFunction((n) => location.hash.endsWith(`/${n}/calls`), other);
    await waitFor(async () => (await page.locator(rowSel).count()) === byIt.get(other).length, { what: `iteration ${other} rows` });
    assert.equal(await tabCount(page), byIt.get(other).length);
    assertClean("calls tab");
  } finally {
    await close();
  }
});

test("a deep link to /calls opens the tab; an iteration without calls says how calls get there", async () => {
  if (!ctx.fx.demo) return;
  const ws = ctx.fx.ws;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    const calls = await apiCalls(DEMO.claude, 1);
    assert.ok(calls.length > 0);
    await page.goto(ctx.server.url + runHash(ws, DEMO.claude, 1, "calls"));
    await page.locator('[data-testid="run-header"]').waitFor();
    assert.equal(await page.locator('[data-testid="tab-calls"]').getAttribute("aria-selected"), "true");
    assert.equal(await page.locator('a[role="tab"][data-testid^="tab-"][aria-selected="true"]').count(), 1, "one run-view tab selected");
    await page.locator(rowSel).first().waitFor();
    assert.equal(await page.locator(rowSel).count(), calls.length);
    assert.equal(await tabCount(page), calls.length);
    assert.deepEqual(sorted(await rowAttrs(page, "data-status")), sorted(calls.map((c) => c.status)));
    assert.match(await page.title(), /MCP calls/);

    // the codex run logged calls in iteration 2 only
    assert.equal((await apiCalls(DEMO.codex, 1)).length, 0);
    await page.goto(ctx.server.url + runHash(ws, DEMO.codex, 1, "calls"));
    const empty = page.locator('[data-testid="calls-empty"]');
    await empty.waitFor();
    assert.match(await empty.innerText(), /telemetry proxy/);
    assert.equal(await tabCount(page), 0);
    assert.equal(await page.locator(rowSel).count(), 0);

    // number keys: the calls tab is the 8th
    await page.goto(ctx.server.url + runHash(ws, DEMO.codex, 2, "transcript"));
    await page.locator('[data-testid="tab-calls"] [data-testid="calls-count"]').waitFor();
    await page.locator("body").click({ position: { x: 5, y: 5 } }).catch(() => {});
    await page.keyboard.press("8");
    await page.waitForFunction(() => location.hash.endsWith("/2/calls"));
    await page.locator(rowSel).first().waitFor();
    assert.equal(await page.locator(rowSel).count(), (await apiCalls(DEMO.codex, 2)).length);
    assertClean("calls deep link");
  } finally {
    await close();
  }
});

test("an idle calls tab does not keep re-fetching", async () => {
  if (!ctx.fx.demo) return;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await page.goto(ctx.server.url + runHash(ctx.fx.ws, DEMO.never, 2, "calls"));
    await page.locator(rowSel).first().waitFor();
    await page.waitForTimeout(1000);
    const by = {};
    const on = (req) => {
      if (!req.url().endsWith("/api") || req.method() !== "POST") return;
      const cmd = JSON.parse(req.postData() ?? "{}").cmd ?? "?";
      by[cmd] = (by[cmd] ?? 0) + 1;
    };
    page.on("request", on);
    await page.waitForTimeout(3000);
    page.off("request", on);
    for (const cmd of ["calls", "call_stats", "iteration", "run"])
      assert.ok((by[cmd] ?? 0) <= 1, `${cmd} requested ${by[cmd]} times in 3 s of idle: ${JSON.stringify(by)}`);
    assertClean("idle calls tab");
  } finally {
    await close();
  }
});

test("new lines in mcp_calls.jsonl show up live; many calls are virtualized", async () => {
  const ws = ctx.fx.ws;
  const id = OWN.fake3;
  const it = 1;
  const log = path.join(ws, ".harnessgym", "mcp_calls.jsonl");
  const before = (await apiCalls(id, it)).length;
  const { page, assertClean, close } = await openPage(ctx.browser);
  const line = (i, status) =>
    JSON.stringify({
      created_at: new Date(Date.UTC(2026, 0, 1, 12, 0, i % 60, i % 1000)).toISOString(),
      method: "tools/call", run_id: id, iteration: it, phase: "attempt", server: "live-srv", tool_name: `tool_${i % 3}`,
      status, duration_ms: 10 + i, request_bytes: 100, response_bytes: 200, request_id: 9000 + i,
      error_message: status === "ok" ? "" : `failure ${i}`,
    }) + "\n";
  try {
    await page.goto(ctx.server.url + runHash(ws, id, it, "calls"));
    if (before === 0) await page.locator('[data-testid="calls-empty"]').waitFor();
    else await page.locator(rowSel).first().waitFor();
    assert.equal(await tabCount(page), before);

    fs.appendFileSync(log, line(0, "ok") + line(1, "tool_error"));
    await waitFor(async () => (await page.locator(rowSel).count()) === before + 2, { timeout: 15_000, what: "2 new call rows" });
    await waitFor(async () => (await tabCount(page)) === before + 2, { what: "the tab count to follow" });
    assert.equal((await apiCalls(id, it)).length, before + 2);
    assert.equal(await page.locator(`${rowSel}[data-status="tool_error"]`).count(), 1);

    // 400 more: the table renders only what is in view
    fs.appendFileSync(log, Array.from({ length: 400 }, (_, i) => line(i + 2, i % 10 === 0 ? "timeout" : "ok")).join(""));
    const want = before + 402;
    await waitFor(async () => (await tabCount(page)) === want, { timeout: 15_000, what: `tab count ${want}` });
    assert.equal((await apiCalls(id, it)).length, want);
    await waitFor(async () => (await page.locator('[data-testid="calls-tab"]').getAttribute("data-total")) === String(want), { what: "the tab to reload" });
    const rendered = await page.locator(rowSel).count();
    assert.ok(rendered > 5 && rendered < want, `virtualized: ${rendered} of ${want} rows in the DOM`);
    const errs = (await apiCalls(id, it)).filter((c) => !c.ok).length;
    await page.locator('[data-testid="calls-filter"] [data-filter="errors"]').click();
    await page.getByText(`${errs} calls shown`).waitFor();
    assertClean("live calls");
  } finally {
    await close();
  }
});
