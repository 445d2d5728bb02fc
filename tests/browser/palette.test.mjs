// The command palette (Ctrl+K): runs, search hits, pasted links and commands.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { DEMO, OWN, openPage, runHash, suite, waitFor } from "./helpers.mjs";

const ctx = suite({ before, after });

const PALETTE = '[data-testid="palette"]';
const INPUT = '[data-testid="palette-input"]';
const ITEM = '[data-testid="palette-item"]';
const SELECTED = `${ITEM}[aria-selected="true"]`;

/** Opens the runs view and waits for its rows (the app is ready for keys). */
async function openRuns(page) {
  await page.goto(ctx.server.url);
  await page.locator('[data-testid="run-row"]').first().waitFor();
}

async function openPalette(page) {
  await page.keyboard.press("Control+k");
  await page.locator(PALETTE).waitFor();
  await waitFor(() => page.evaluate(() => document.activeElement?.getAttribute("data-testid") === "palette-input"), {
    what: "the palette input to have focus",
  });
}

/** kind and text of the selected item. */
async function selected(page) {
  const el = page.locator(SELECTED);
  if ((await el.count()) !== 1) return null;
  return { kind: await el.getAttribute("data-kind"), text: await el.innerText() };
}

/** The index of the selected item among all items. */
async function selectedIndex(page) {
  return page.$$eval(ITEM, (els) => els.findIndex((e) => e.getAttribute("aria-selected") === "true"));
}

async function activeTestId(page) {
  return page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? document.activeElement?.tagName);
}

/** The run view's landed line: highlighted, holding `text`, scrolled into the viewer's viewport. */
async function expectLandedLine(page, { path, line, text }) {
  await page.locator(`[data-testid="text-viewer"][data-path="${path}"]`).waitFor();
  const el = page.locator(`[data-testid="text-line"][data-line="${line}"]`);
  await el.waitFor({ state: "visible" });
  assert.match(await el.innerText(), new RegExp(text));
  assert.match((await el.getAttribute("class")) ?? "", /\bhl\b/, "the line is highlighted");
  const inView = await el.evaluate((e) => {
    const sc = e.closest(".scroll") ?? e.parentElement;
    const a = e.getBoundingClientRect();
    const b = sc.getBoundingClientRect();
    return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  });
  assert.ok(inView, "the line is scrolled into view");
}

test("Ctrl+K opens the palette with commands and recent runs; arrows, Ctrl+N/P move the selection", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await openRuns(page);
    assert.equal(await page.locator(PALETTE).count(), 0, "closed at start");
    await openPalette(page);
    const dialog = page.locator(PALETTE);
    assert.equal(await dialog.getAttribute("role"), "dialog");
    assert.equal(await dialog.getAttribute("aria-modal"), "true");
    assert.equal(await page.locator(`${PALETTE} [role="listbox"] [role="option"]`).count(), await page.locator(ITEM).count());

    // empty input: the commands, then up to 8 runs (fetched once)
    await page.locator(`${ITEM}[data-kind="run"]`).first().waitFor();
    const kinds = await page.$$eval(ITEM, (els) => els.map((e) => e.getAttribute("data-kind")));
    assert.equal(kinds[0], "command", "commands come first");
    assert.ok(kinds.lastIndexOf("command") < kinds.indexOf("run"), `commands before runs: ${kinds}`);
    const runCount = kinds.filter((k) => k === "run").length;
    assert.ok(runCount >= 1 && runCount <= 8, `1…8 runs listed, got ${runCount}`);
    assert.equal(kinds.filter((k) => k === "hit").length, 0, "no search without text");
    const labels = await page.locator(`${ITEM}[data-kind="command"]`).allInnerTexts();
    for (const l of ["Go to runs", "Open workspace", "Copy link to this view", "Keyboard shortcuts"])
      assert.ok(labels.some((t) => t.includes(l)), `command "${l}" listed in ${JSON.stringify(labels)}`);
    assert.ok(!labels.some((t) => t.includes("Search for")), "no search command without text");
    // key hints as <kbd>
    const goRuns = page.locator(`${ITEM}[data-kind="command"]`, { hasText: "Go to runs" });
    assert.deepEqual(await goRuns.locator("kbd").allInnerTexts(), ["g", "r"]);

    // the first item is selected; keys move the selection (wrapping around)
    assert.equal(await selectedIndex(page), 0);
    await page.keyboard.press("ArrowDown");
    assert.equal(await selectedIndex(page), 1);
    await page.keyboard.press("ArrowDown");
    assert.equal(await selectedIndex(page), 2);
    await page.keyboard.press("Control+p");
    assert.equal(await selectedIndex(page), 1);
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("ArrowUp");
    assert.equal(await selectedIndex(page), kinds.length - 1, "ArrowUp on the first item wraps to the last");
    await page.keyboard.press("Control+n");
    assert.equal(await selectedIndex(page), 0, "Ctrl+N on the last item wraps to the first");
    assert.equal(await page.locator(SELECTED).count(), 1, "exactly one item selected");
    assert.equal(await activeTestId(page), "palette-input", "focus stays in the input");

    // Ctrl+K again closes it; the header button opens it
    await page.keyboard.press("Control+k");
    await page.locator(PALETTE).waitFor({ state: "detached" });
    await page.locator('[data-testid="palette-button"]').click();
    await page.locator(INPUT).waitFor();
    await page.keyboard.press("Control+k");
    await page.locator(PALETTE).waitFor({ state: "detached" });
    assertClean("palette open / keys");
  } finally {
    await close();
  }
});

test("typing a run id lists that run first; Enter opens its run view", async () => {
  const id = ctx.fx.demo ? DEMO.codex : OWN.fake3;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await openRuns(page);
    // from the search box: after the jump, focus must not go back there
    await page.locator('[data-testid="search-input"]').click();
    await openPalette(page);
    await page.locator(INPUT).pressSequentially(id, { delay: 10 });
    await waitFor(async () => (await selected(page))?.kind === "run", { what: "a run to be the selected item" });
    const first = await selected(page);
    assert.match(first.text, new RegExp(`^${id}\\b`), `the selected (first) item is run ${id}: ${first.text}`);
    assert.equal(await page.locator(ITEM).first().getAttribute("aria-selected"), "true", "the selected item is the first");
    const runItems = page.locator(`${ITEM}[data-kind="run"]`);
    assert.match(await runItems.first().innerText(), new RegExp(id));
    assert.equal(await runItems.first().locator('[data-testid="status-chip"]').count(), 1, "run items show a status chip");
    await page.keyboard.press("Enter");
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), id);
    assert.equal(new URL(page.url()).hash, runHash(ctx.fx.ws, id));
    assert.equal(await page.locator(PALETTE).count(), 0, "the palette closes on Enter");
    assert.notEqual(await activeTestId(page), "search-input", "focus is not back in the search box");
    assert.equal(await page.locator('[data-testid="search-input"]').inputValue(), "", "nothing was typed into the search box");
    assertClean("palette run");
  } finally {
    await close();
  }
});

test("a search word lists a hit that opens at the exact line", async () => {
  const s = ctx.fx.search;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await openRuns(page);
    await openPalette(page);
    await page.locator(INPUT).pressSequentially(s.word, { delay: 10 });
    const hit = page.locator(`${ITEM}[data-kind="hit"]`);
    await hit.first().waitFor();
    assert.equal(await hit.count(), 1, "one hit for a word that is in one file");
    assert.equal(await hit.locator("mark").first().innerText(), s.word, "the word is marked in the snippet");
    const meta = await hit.innerText();
    assert.match(meta, new RegExp(s.runId), "the hit names its run");
    assert.match(meta, new RegExp(`iteration ${s.iteration}`), "… its iteration");
    assert.match(meta, new RegExp(`line ${s.line + 1}\\b`), "… and its 1-based line");
    const kinds = await page.$$eval(ITEM, (els) => els.map((e) => e.getAttribute("data-kind")));
    assert.equal(kinds.filter((k) => k === "run").length, 0, `no run matches the word: ${kinds}`);
    const searchCmd = page.locator(`${ITEM}[data-kind="command"]`, { hasText: `Search for “${s.word}”` });
    assert.equal(await searchCmd.count(), 1, "a command searches for the text");

    // move down to the hit and open it
    for (let i = 0; i < kinds.length && (await selected(page))?.kind !== "hit"; i++) await page.keyboard.press("ArrowDown");
    assert.equal((await selected(page))?.kind, "hit");
    await page.keyboard.press("Enter");
    const header = page.locator('[data-testid="run-header"]');
    await header.waitFor();
    assert.equal(await header.getAttribute("data-run-id"), s.runId);
    assert.equal(await page.locator('[data-testid="tab-prompt"]').getAttribute("aria-selected"), "true", "prompt tab chosen");
    assert.match(
      (await page.locator(`[data-testid="iteration-item"][data-iteration="${s.iteration}"]`).getAttribute("class")) ?? "",
      /\bsel\b/,
      `iteration ${s.iteration} selected`,
    );
    await expectLandedLine(page, { path: s.path, line: s.line, text: s.word });
    assertClean("palette hit");
  } finally {
    await close();
  }
});

test("the search command opens the search view with the text", async () => {
  const s = ctx.fx.search;
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    await openRuns(page);
    await openPalette(page);
    await page.locator(INPUT).pressSequentially(s.word, { delay: 10 });
    await page.locator(`${ITEM}[data-kind="command"]`, { hasText: "Search for" }).click();
    await page.locator('[data-testid="search-hit"]').first().waitFor();
    assert.equal(new URL(page.url()).hash, `#/search?q=${s.word}`);
    assert.equal(await page.locator('[data-testid="search-input"]').inputValue(), s.word, "the top bar shows the query");
    assertClean("palette search command");
  } finally {
    await close();
  }
});

test("pasting a copied deep link opens it", async () => {
  const s = ctx.fx.search;
  const hash = runHash(ctx.fx.ws, s.runId, s.iteration, "prompt", { phase: "attempt", line: s.line });
  const link = `tauri://localhost/${hash}`;
  const { page, assertClean, close } = await openPage(ctx.browser, { permissions: ["clipboard-read", "clipboard-write"] });
  try {
    await openRuns(page);
    await page.evaluate((t) => navigator.clipboard.writeText(t), link);
    await openPalette(page);
    await page.keyboard.press("Control+v");
    assert.equal(await page.locator(INPUT).inputValue(), link, "the link was pasted");
    const item = page.locator(ITEM);
    await waitFor(async () => (await item.count()) === 1 && (await item.getAttribute("data-kind")) === "link", {
      what: "a single link item",
    });
    const text = await item.innerText();
    assert.match(text, /Open link/);
    assert.match(text, new RegExp(`${s.runId}.*iteration ${s.iteration}.*line ${s.line + 1}`), `describes the target: ${text}`);
    assert.equal(await item.getAttribute("aria-selected"), "true");
    await page.keyboard.press("Enter");
    await page.locator('[data-testid="run-header"]').waitFor();
    assert.equal(new URL(page.url()).hash, hash, "the page is at the pasted route");
    assert.equal(await page.locator('[data-testid="run-header"]').getAttribute("data-run-id"), s.runId);
    await expectLandedLine(page, { path: s.path, line: s.line, text: s.word });

    // junk with a `#/` is no link
    await openPalette(page);
    await page.locator(INPUT).fill("tauri://localhost/#/nowhere");
    await page.waitForTimeout(300);
    assert.equal(await page.locator(`${ITEM}[data-kind="link"]`).count(), 0, "no link item for an unknown route");
    await page.keyboard.press("Escape");
    assertClean("palette link");
  } finally {
    await close();
  }
});

test("Esc, a backdrop click and Ctrl+K close it; focus returns to where it was", async () => {
  const { page, assertClean, close } = await openPage(ctx.browser);
  try {
    // on a run view, where Esc on the page goes back to the runs
    const hash = runHash(ctx.fx.ws, OWN.fake3, 1);
    await page.goto(ctx.server.url + hash);
    await page.locator('[data-testid="run-header"]').waitFor();
    await openPalette(page);
    await page.locator(INPUT).pressSequentially("abc");
    await page.keyboard.press("Escape");
    await page.locator(PALETTE).waitFor({ state: "detached" });
    assert.notEqual(await activeTestId(page), "palette-input");
    await page.waitForTimeout(200);
    assert.equal(new URL(page.url()).hash, hash, "Esc in the palette does not reach the page");
    // the page has the keys again: `?` opens the shortcuts, which list the palette
    await page.keyboard.press("?");
    const keys = page.locator('[data-testid="keys-dialog"]');
    await keys.waitFor();
    assert.match(await keys.innerText(), /Command palette/);
    // Ctrl+K over the shortcuts dialog replaces it
    await openPalette(page);
    assert.equal(await keys.count(), 0, "the shortcuts dialog closed");

    // a click on the backdrop closes it; a click inside does not
    await page.locator(PALETTE).click({ position: { x: 30, y: 20 } });
    assert.equal(await page.locator(PALETTE).count(), 1, "a click inside keeps it open");
    await page.mouse.click(8, 600);
    await page.locator(PALETTE).waitFor({ state: "detached" });

    // opened from the search box (Ctrl+K works while typing), focus goes back there
    const search = page.locator('[data-testid="search-input"]');
    await search.click();
    await openPalette(page);
    await page.keyboard.press("Control+k");
    await page.locator(PALETTE).waitFor({ state: "detached" });
    assert.equal(await activeTestId(page), "search-input", "focus is back in the search box");
    assertClean("palette close");
  } finally {
    await close();
  }
});

test("commands: Go to runs by keyboard, Keyboard shortcuts by click; runs are fetched once", async () => {
  const id = OWN.fake3;
  const { page, assertClean, close } = await openPage(ctx.browser);
  let runsCalls = 0;
  page.on("request", (r) => {
    if (r.url().endsWith("/api") && /"cmd":"runs"/.test(r.postData() ?? "")) runsCalls++;
  });
  try {
    await page.goto(ctx.server.url + runHash(ctx.fx.ws, id, 1));
    await page.locator('[data-testid="run-header"]').waitFor();
    const base = runsCalls;
    await openPalette(page);
    await page.locator(`${ITEM}[data-kind="run"]`).first().waitFor();
    await page.locator(INPUT).pressSequentially("go to runs", { delay: 25 });
    await waitFor(async () => (await selected(page))?.kind === "command", { what: "a command to be selected" });
    const sel = await selected(page);
    assert.match(sel.text, /Go to runs/, `first item: ${sel.text}`);
    assert.equal(runsCalls - base, 1, "one runs request for the whole typing");
    await page.keyboard.press("Enter");
    await page.locator('[data-testid="run-row"]').first().waitFor();
    assert.match(new URL(page.url()).hash, /^#\/runs/);

    await openPalette(page);
    await page.locator(INPUT).pressSequentially("shortcuts");
    await page.locator(`${ITEM}[data-kind="command"]`, { hasText: "Keyboard shortcuts" }).click();
    await page.locator('[data-testid="keys-dialog"]').waitFor();
    assert.equal(await page.locator(PALETTE).count(), 0);
    assertClean("palette commands");
  } finally {
    await close();
  }
});
