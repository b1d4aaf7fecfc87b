// What every browser test here shares: where the binary, the browser and the
// screenshots are; named steps that print "ok"/"FAIL" and count; waits that
// fail with a sentence; a headless Chromium whose pages report page errors,
// CSP violations and dialogs; and a runner with a watchdog, so that a hang
// becomes a failure, never a stuck CI job. Each test prints
// "N passed, M failed" as its last line and exits 1 on any failure.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.HOTLINE_BIN || join(ROOT, 'target', 'release', 'hotline');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'target', 'screenshots');
/** Generous bound for things that cross the link (delivery, acks) on a loaded machine. */
export const CROSS_MS = 10_000;

/** Steps passed and failed so far in this process. */
export const tally = { passed: 0, failed: 0 };

export function fail(msg) { throw new Error(msg); }
export function check(cond, msg) { if (!cond) fail(msg); }

/** Runs one named step; the first failure ends the run (later steps build on earlier ones). */
export async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    tally.passed += 1;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    tally.failed += 1;
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split('\n').join('\n     ')}`);
    throw e;
  }
}

/** Waits for a selector, failing with a sentence that says what was expected. */
export async function see(page, selector, what, timeout = CROSS_MS, state = 'attached') {
  try {
    return await page.waitForSelector(selector, { timeout, state });
  } catch (_) {
    return fail(`${what}: no ${selector} within ${timeout} ms`);
  }
}

/** Polls `fn` until it returns something truthy, which it returns. */
export async function until(what, fn, timeout = CROSS_MS) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return fail(`${what} (waited ${timeout} ms; last value ${JSON.stringify(last)})`);
}

/** Where the keyboard focus is: `selector` matches it. */
export const focusOn = (page, selector) => page.evaluate((s) => Boolean(document.activeElement && document.activeElement.matches(s)), selector);

/** Marks the page so a reload or navigation (which would clear the mark) is caught. */
export const markPage = (page) => page.evaluate(() => { window.__sameDocument = 'still here'; });
export async function notReloaded(page, label) {
  const v = await page.evaluate(() => window.__sameDocument);
  check(v === 'still here', `${label} console reloaded or navigated; the console must update live`);
}

/**
 * Headless Chromium. `open(label, viewport)` gives a page in a context of its
 * own (its own sessionStorage, so its own sign-in); whatever goes wrong on any
 * page lands in `problems` (page errors, CSP violations) or `dialogs`, and a
 * test ends by checking both are empty.
 */
export async function launchBrowser() {
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const dialogs = [];
  const open = async (label, viewport = { width: 1440, height: 900 }) => {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    page.on('dialog', async (d) => { dialogs.push(`${label}: ${d.type()} ${d.message()}`); await d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
    page.on('console', (m) => {
      // A CSP violation means the console relies on something the station forbids.
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`${label}: ${m.text()}`);
    });
    return page;
  };
  return { browser, open, problems, dialogs, close: () => browser.close().catch(() => {}) };
}

/**
 * Runs a test's body with a watchdog of `overallMs`, then `cleanup` (also on
 * a timeout or a signal), prints the tally and exits with its verdict.
 */
export async function runTest(overallMs, cleanup, body) {
  const started = Date.now();
  const watchdog = setTimeout(async () => {
    console.log(`FAIL the run took longer than ${overallMs} ms`);
    await cleanup();
    console.log(`${tally.passed} passed, ${tally.failed + 1} failed`);
    process.exit(1);
  }, overallMs);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => { await cleanup(); process.exit(1); });
  }
  try {
    try {
      check(existsSync(BIN), `${BIN} is missing: run cargo build --release --bin hotline first`);
      mkdirSync(SHOTS, { recursive: true });
      await body();
    } finally {
      clearTimeout(watchdog);
      await cleanup();
    }
    console.log(`screenshots in ${SHOTS}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${tally.passed} passed, ${tally.failed} failed`);
    process.exit(tally.failed ? 1 : 0);
  } catch (e) {
    if (!tally.failed) {
      tally.failed += 1;
      console.log(`FAIL ${e && e.stack || e}`);
    }
    console.log(`${tally.passed} passed, ${tally.failed} failed`);
    process.exit(1);
  }
}
