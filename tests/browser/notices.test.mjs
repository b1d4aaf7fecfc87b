// Structured notices in the console (SPEC §4 v2), in a real browser against
// two real stations whose channel agreed incident-report/1 and
// ceasefire-violation/1 at open. Alpha fills the form the console builds
// from the schema: a notice that breaks it is refused with the station's
// reason and nothing is written; a valid one is written and reads at bravo
// as a card, each field under its title, the position in degrees. A notice
// bravo's API is sent against its schema is refused there too. Both views
// pass axe-core's WCAG 2 A/AA rules; screenshots of the form and the card.
//
// Run from the repository root after `cargo build --release --bin hotline`:
//   node tests/browser/notices.test.mjs
// Needs what console.test.mjs needs. Prints "N passed, M failed" last.

import { join } from 'node:path';
import { twoStations } from './stations.mjs';
import { assertAccessible } from './a11y.mjs';
import { BIN, SHOTS, CROSS_MS, check, step, see, until, markPage, notReloaded, launchBrowser, runTest } from './harness.mjs';

const OVERALL_MS = 120_000;
const evil = '<img src=x onerror=alert(1)>';

let stations = null;
let session = null;
const cleanup = async () => {
  if (session) await session.close();
  session = null;
  if (stations) await stations.stop().catch(() => {});
  stations = null;
};

/** The notices a station holds on the channel. */
async function notices(st, channel) {
  const r = await st.api('GET', `/v1/channels/${channel}/entries`);
  return r.entries.filter((e) => e.kind === 'notice');
}

await runTest(OVERALL_MS, cleanup, async () => {
  await step('two stations; the channel agrees incident-report/1 and ceasefire-violation/1', async () => {
    stations = await twoStations(BIN, { openArgs: ['--notice-types', 'incident-report/1,ceasefire-violation/1'] });
    const c = await stations.bravo.api('GET', `/v1/channels/${stations.channel}`);
    const names = (c.terms.notice_types || []).map((t) => t.name);
    check(names.join(',') === 'incident-report/1,ceasefire-violation/1', `bravo's terms name both types: ${names}`);
  });
  const { alpha, bravo, channel } = stations;
  session = await launchBrowser();
  const { open, problems, dialogs } = session;
  const pageA = await open('alpha');
  const pageB = await open('bravo');

  await step('alpha\'s console offers a notice form built from the incident-report/1 schema', async () => {
    for (const [page, st] of [[pageA, alpha], [pageB, bravo]]) {
      await page.goto(`${st.url}/#token=${encodeURIComponent(st.adminToken)}`);
      await see(page, '#channel-view:not([hidden])', `${st.name}: its one channel open`, 5000);
      await markPage(page);
    }
    await see(pageA, '#notice-box:not([hidden])', 'alpha: the notice box', 5000);
    await pageA.click('#notice-box summary');
    const options = await pageA.$$eval('#notice-type option', (os) => os.map((o) => o.value));
    check(options.join(',') === 'incident-report/1,ceasefire-violation/1', `the agreed types offered: ${options}`);
    await pageA.selectOption('#notice-type', 'incident-report/1');
    for (const id of ['reporter', 'what', 'where-lat', 'where-lon', 'when-from', 'when-to', 'reference']) {
      await see(pageA, `#nf-${id}`, `alpha: a field for ${id}`, 2000);
    }
    check((await pageA.textContent('#notice-fields')).includes('Latitude'), 'fields carry the schema\'s titles');
    check(await pageA.getAttribute('#nf-where-lat', 'max') === '90', 'the latitude input takes the schema\'s bounds');
    await assertAccessible(pageA, 'alpha: the notice form');
  });

  const fill = async (when) => {
    await pageA.fill('#nf-reporter', 'Northern command ' + evil);
    await pageA.fill('#nf-what', 'Shelling of border post 14');
    await pageA.fill('#nf-where-lat', '48.5');
    await pageA.fill('#nf-where-lon', '-37.9');
    await pageA.fill('#nf-when-from', when);
    await pageA.fill('#nf-when-to', '2026-11-28T10:20:00Z');
    await pageA.fill('#nf-reference', 'NC-2026-0412');
  };

  await step('a notice that breaks the schema is refused with the reason; nothing is written', async () => {
    await fill('yesterday morning');
    await pageA.click('#notice-button');
    const err = await see(pageA, '#notice-error:not(:empty)', 'alpha: the refusal', CROSS_MS);
    const text = await err.textContent();
    check(/incident-report\/1/.test(text) && /date-time/.test(text), `the reason names the type and the fault: ${text}`);
    check((await notices(alpha, channel)).length === 0, 'no notice was written');
    await pageA.screenshot({ path: join(SHOTS, 'notice-form-refused.png') });
  });

  await step('a valid notice is written and reads at bravo as a card', async () => {
    await pageA.fill('#nf-when-from', '2026-11-28T10:00:00Z');
    await pageA.click('#notice-button');
    await until('alpha holds the notice', async () => (await notices(alpha, channel)).length === 1);
    check((await pageA.textContent('#notice-error')) === '', 'no error shown');
    check((await pageA.inputValue('#nf-reporter')) === '', 'the form is cleared for the next one');
    const card = '#transcript li.entry[data-kind="notice"][data-own="false"] .notice-card';
    await see(pageB, card, 'bravo: the notice as a card', CROSS_MS);
    const field = async (name) => (await pageB.textContent(`${card} .notice-field[data-field="${name}"] dd`)).trim();
    check((await pageB.textContent(`${card} .notice-head`)).includes('Incident report'), 'the card is titled from the schema');
    check((await field('where')) === '48.5° N, 37.9° W (WGS84)', `the position in degrees: ${await field('where')}`);
    check((await field('when')) === '2026-11-28T10:00:00Z → 2026-11-28T10:20:00Z', 'the time window');
    check((await field('reference')) === 'NC-2026-0412', 'the reference');
    check((await field('reporter')).includes(evil), 'markup from the counterpart shows as text');
    check((await pageB.$$('#transcript img')).length === 0, 'and is never markup');
    const dts = await pageB.$$eval(`${card} dt`, (d) => d.map((x) => x.textContent));
    check(dts.join('|') === 'Reporter|What|Where|When|Reference', `fields in the schema's order under its titles: ${dts}`);
    await assertAccessible(pageB, 'bravo: a notice card');
    await pageB.screenshot({ path: join(SHOTS, 'notice-card.png') });
    await pageA.screenshot({ path: join(SHOTS, 'notice-form.png') });
  });

  await step('another type builds its own form: its enum as a choice, its card at bravo', async () => {
    await pageA.selectOption('#notice-type', 'ceasefire-violation/1');
    await see(pageA, '#nf-severity', 'alpha: the severity field', 2000);
    const opts = await pageA.$$eval('#nf-severity option', (os) => os.map((o) => o.value));
    check(opts.join(',') === ',minor,serious,grave', `severity offers the schema's values: ${opts}`);
    check(!(await pageA.isVisible('#nf-vehicle')), 'no field of another type');
    await pageA.selectOption('#nf-severity', 'grave');
    for (const [id, v] of [['reporter', 'Sector 3'], ['what', 'Small-arms fire'], ['where-lat', '47.1'], ['where-lon', '37.5'],
      ['when-from', '2026-11-28T22:00:00Z'], ['when-to', '2026-11-28T22:30:00Z'], ['reference', 'S3-118']]) {
      await pageA.fill(`#nf-${id}`, v);
    }
    await pageA.click('#notice-button');
    await until('alpha holds the ceasefire violation', async () => (await notices(alpha, channel)).length === 2);
    const card = '#transcript li.entry[data-kind="notice"][data-own="false"]:has-text("Ceasefire violation") .notice-card';
    await see(pageB, card, 'bravo: the second card', CROSS_MS);
    check((await pageB.textContent(`${card} .notice-field[data-field="severity"] dd`)).trim() === 'grave', 'its severity');
  });

  await step('bravo\'s station refuses a notice against its schema or of a type not agreed', async () => {
    const bad = [
      { type: 'incident-report/1', notice: { reporter: 'x', what: 'y', where: { lat: 91, lon: 0 }, when: { from: '2026-11-28T10:00:00Z', to: '2026-11-28T10:20:00Z' }, reference: 'r' } },
      { type: 'launch-notification/1', notice: {} },
    ];
    for (const body of bad) {
      const r = await fetch(`${bravo.url}/v1/channels/${channel}/notices`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bravo.adminToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      check(r.status === 400, `${body.type}: 400, got ${r.status}`);
    }
    check((await notices(bravo, channel)).filter((e) => e.own).length === 0, 'bravo wrote nothing');
  });

  await step('no page errors, CSP violations or dialogs; the consoles never reloaded', async () => {
    await notReloaded(pageA, 'alpha');
    await notReloaded(pageB, 'bravo');
    check(problems.length === 0, `problems: ${problems.join('; ')}`);
    check(dialogs.length === 0, `dialogs: ${dialogs.join('; ')}`);
  });
});
