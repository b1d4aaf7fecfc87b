// Accessibility checks for the console test: axe-core's WCAG 2 A/AA rules on
// whatever a page shows, and a keyboard walk that proves every action on it
// can be reached with Tab and shows where the focus is.
//
// axe-core is the rule engine behind the browsers' own accessibility tooling
// (Lighthouse, the axe extensions), so "zero violations" here means what it
// means anywhere else. It reaches the page through the test browser only
// (DevTools evaluation, which a page's CSP does not govern): the station's
// strict CSP stays exactly as it ships, and the test's CSP watch stays armed.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The bar: WCAG 2.0 and 2.1, levels A and AA. */
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe's WCAG violations on the page as it is now: [{id, impact, help, nodes: [{target, summary}]}]. */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: (n.failureSummary || '').replace(/\s+/g, ' ').trim() })),
    }));
  }, WCAG_TAGS);
}

/** One line per offending element, so a failure says what to fix and where. */
export function describeViolations(violations) {
  const lines = [];
  for (const v of violations) {
    lines.push(`${v.id} (${v.impact}): ${v.help} — ${v.nodes.length} element(s)`);
    for (const n of v.nodes) lines.push(`    ${n.target}: ${n.summary}`);
  }
  return lines.join('\n');
}

/** Fails with the readable list unless axe finds nothing on the page as it is now. */
export async function assertAccessible(page, view) {
  const v = await axeViolations(page);
  if (v.length) throw new Error(`axe-core (WCAG 2 A/AA) on ${view}:\n${describeViolations(v)}`);
}

/** Controls the browser makes operable by keyboard, unless the page takes their tab stop away. */
const NATIVE = 'a[href], button, input, select, textarea, summary';
/** Events that make an element an action for the mouse. */
const MOUSE_EVENTS = ['click', 'dblclick', 'mousedown', 'mouseup', 'pointerdown', 'pointerup'];
/** A redraw during a walk (a live event) replaces the nodes being checked: walk again, this many times at most. */
const WALKS = 3;

/**
 * Elements with a mouse handler that the keyboard cannot operate: not a native
 * control, or without a tab stop, or without a key handler. Read through the
 * DevTools protocol, which lists the listeners the page itself cannot see.
 */
async function mouseOnly(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { result } = await cdp.send('Runtime.evaluate', { expression: '[...document.querySelectorAll("body, body *")]' });
    const { result: items } = await cdp.send('Runtime.getProperties', { objectId: result.objectId, ownProperties: true });
    const found = [];
    for (const item of items) {
      if (!/^\d+$/.test(item.name)) continue;
      const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: item.value.objectId });
      const types = listeners.map((l) => l.type);
      if (!types.some((t) => MOUSE_EVENTS.includes(t))) continue;
      const keys = types.some((t) => /^key/.test(t));
      const { result: verdict } = await cdp.send('Runtime.callFunctionOn', {
        objectId: item.value.objectId,
        arguments: [{ value: keys }],
        returnByValue: true,
        functionDeclaration: `function (keys) {
          const native = this.matches(${JSON.stringify(NATIVE)});
          if (native || (this.tabIndex >= 0 && keys)) return null;
          return this.localName + (this.id ? '#' + this.id : '') + (this.className ? '.' + String(this.className).trim().split(/\\s+/).join('.') : '')
            + ' "' + this.textContent.trim().slice(0, 40) + '"';
        }`,
      });
      if (verdict.value) found.push(verdict.value);
    }
    return found;
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/**
 * Presses Tab round the page until every visible, enabled control has had the
 * focus, noting each focus that shows no outline. Returns the controls never
 * reached, the focuses with no visible mark, and whether the page redrew the
 * controls meanwhile (then the walk proves nothing and is repeated).
 */
async function tabWalk(page) {
  const total = await page.evaluate((native) => {
    const what = (e) => !e ? 'nothing' : e.localName + (e.id ? '#' + e.id : '')
      + (e.dataset.action ? '[data-action=' + e.dataset.action + ']' : '')
      + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '')
      + ' "' + (e.textContent || e.value || e.placeholder || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
    // Every visible native control (a tabindex of -1 on one is a gap to report) and every other tab stop.
    const controls = [...document.querySelectorAll(native + ', [tabindex]')]
      .filter((e) => (e.matches(native) || e.tabIndex >= 0) && !e.disabled && !e.closest('[inert]')
        && e.checkVisibility({ visibilityProperty: true }));
    window.__walk = { what, controls, reached: new Set() };
    return controls.length;
  }, NATIVE);
  const unmarked = new Set();
  // Twice round is enough wherever the focus starts, with a few presses for the page's own stops.
  for (let i = 0; i < 2 * total + 4; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => {
      const w = window.__walk;
      const a = document.activeElement;
      const n = w.controls.indexOf(a);
      if (n >= 0) w.reached.add(n);
      const cs = a && a !== document.body ? getComputedStyle(a) : null;
      const marked = !cs || (a.matches(':focus-visible') && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2);
      return { done: w.reached.size === w.controls.length, marked, what: w.what(a) };
    });
    if (!at.marked) unmarked.add(at.what);
    if (at.done) break;
  }
  return page.evaluate((u) => {
    const w = window.__walk;
    const missed = w.controls.filter((_, n) => !w.reached.has(n));
    return { total: w.controls.length, unreached: missed.map(w.what), unmarked: u, redrawn: missed.some((e) => !e.isConnected) };
  }, [...unmarked]);
}

/**
 * Fails unless every action on the page as it is now is a keyboard action: no
 * mouse-only element, every control reached by Tab, every focus visible.
 * Leaves the focus wherever the walk ended.
 */
export async function assertKeyboardOperable(page, view) {
  const problems = [];
  for (const e of await mouseOnly(page)) problems.push(`mouse only (a click handler, no tab stop or key handler): ${e}`);
  let walk;
  for (let n = 1; n <= WALKS; n++) {
    walk = await tabWalk(page);
    if (!walk.redrawn) break;
  }
  if (walk.redrawn) problems.push(`the page redrew its controls during each of ${WALKS} walks`);
  for (const e of walk.unreached) problems.push(`never reached by Tab: ${e}`);
  for (const e of walk.unmarked) problems.push(`focused with no visible outline: ${e}`);
  if (walk.total === 0) problems.push('no control at all');
  if (problems.length) throw new Error(`keyboard on ${view} (${walk.total} controls):\n    ${problems.join('\n    ')}`);
  return walk.total;
}

/** Presses Tab until the focus is on `selector` (wrapping round the page), as a keyboard user would. */
export async function tabTo(page, selector, what, most = 200) {
  for (let i = 0; i <= most; i++) {
    if (await page.evaluate((s) => Boolean(document.activeElement && document.activeElement.matches(s)), selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`${what}: Tab never reached ${selector} in ${most} presses`);
}
