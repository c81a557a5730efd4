// Drives headless Chromium (Debian's /usr/bin/chromium) with playwright-core
// for the console's browser specs: one JSON command a line on standard
// input, one JSON answer a line on standard output ({ok, value} or {ok:
// false, error}). Commands: open, click, fill, press (a key), hover, wait (a
// selector's state), until (a page expression becomes true), eval, text,
// shot (a PNG), errors (the page's script errors, failed requests and 5xx
// answers so far), quit.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const TIMEOUT = Number(process.env.CONSOLE_SPEC_TIMEOUT_MS || 10000);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'stepflow-chromium-'));
const errors = [];
let context;
let page;

async function start() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: Number(process.env.CONSOLE_WIDTH || 1280), height: Number(process.env.CONSOLE_HEIGHT || 900) },
    timeout: 30000,
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // an API error the page shows (4xx) is no script error; 5xx is a failure
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
      errors.push(`console: ${m.text()}`);
    }
  });
  page.on('response', (r) => { if (r.status() >= 500) errors.push(`answer ${r.status()}: ${r.url()}`); });
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
}

// An expression with its argument, evaluated in the page (Chromium's
// DevTools protocol runs it, so the page's CSP does not apply to it).
const call = (fn, arg) => `(${fn})(${JSON.stringify(arg === undefined ? null : arg)})`;

const COMMANDS = {
  async open({ url }) { await page.goto(url); return page.url(); },
  async click({ sel }) { await page.locator(sel).first().click(); return true; },
  async fill({ sel, value }) { await page.locator(sel).first().fill(value); return true; },
  async press({ sel, key }) { await page.locator(sel).first().press(key); return true; },
  async hover({ sel }) { await page.locator(sel).first().hover(); return true; },
  async wait({ sel, state, timeout }) {
    await page.locator(sel).first().waitFor({ state: state || 'visible', timeout: timeout || TIMEOUT });
    return true;
  },
  // Polled from here with page.evaluate: page.waitForFunction evaluates a
  // string predicate with the page's own eval once it has to poll, which
  // the console's CSP (rightly) refuses.
  async until({ fn, arg, timeout }) {
    const expr = call(fn, arg);
    const deadline = Date.now() + (timeout || TIMEOUT);
    let last;
    for (;;) {
      try {
        const value = await page.evaluate(expr);
        if (value) return value;
        last = value;
      } catch (e) {
        // a navigation replaced the page's context: ask the new one
        if (!/context was destroyed|navigat/i.test(e.message)) throw e;
      }
      if (Date.now() > deadline) {
        throw new Error(`until ${fn}: still ${JSON.stringify(last)} after ${timeout || TIMEOUT} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  async eval({ fn, arg }) { return page.evaluate(call(fn, arg)); },
  async text({ sel }) { return page.locator(sel).first().textContent(); },
  async shot({ file, sel, width, height }) {
    if (width && height) await page.setViewportSize({ width, height });
    if (sel) await page.locator(sel).first().screenshot({ path: file });
    else await page.screenshot({ path: file });
    return file;
  },
  async errors() { return errors.splice(0); },
};

async function main() {
  const out = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
  try {
    await start();
  } catch (e) {
    out({ ok: false, error: `chromium did not start: ${e.message}` });
    return;
  }
  out({ ok: true, value: 'ready' });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = JSON.parse(line);
    if (cmd.op === 'quit') break;
    try {
      const fn = COMMANDS[cmd.op];
      if (!fn) throw new Error(`unknown command ${cmd.op}`);
      out({ ok: true, value: await fn(cmd) });
    } catch (e) {
      out({ ok: false, error: e.message.split('\n').slice(0, 6).join('\n') });
    }
  }
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e.stack}\n`);
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
});
