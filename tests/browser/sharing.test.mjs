// Partner sharing in the console (SPEC §7), in a real browser against two
// real stations: alpha shares with bravo (releasability code UKR) and has a
// second partner, charlie, with no code. From alpha's sharing view: publish a
// STIX report (released to bravo, withheld from charlie by rel_to), pause
// bravo, publish again (held), resume with backfill (released), and release a
// TLP:RED report to bravo by the explicit action. At bravo, the received
// reports read in the transcript, STIX objects listed by type and name,
// Markdown shown as text. Every view passes axe-core's WCAG 2 A/AA rules and
// the keyboard walk (a11y.mjs); an operator's sharing view is read only and
// follows the station's events live.
//
// Run from the repository root after `cargo build --release --bin hotline`:
//   node tests/browser/sharing.test.mjs
// Needs what console.test.mjs needs. Prints "N passed, M failed" last.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { twoStations } from './stations.mjs';
import { assertAccessible, assertKeyboardOperable, tabTo } from './a11y.mjs';
import {
  BIN, SHOTS, CROSS_MS, check, step, see, until, focusOn, markPage, notReloaded, launchBrowser, runTest,
} from './harness.mjs';

const OVERALL_MS = 150_000;
const evil = '<img src=x onerror=alert(1)>';
/** More objects than the console lists (200), so "and N more" shows. */
const IPS = 200;

/** A STIX 2.1 bundle: a named indicator, malware, a relationship between them, a hostile name, many addresses. */
function bundle() {
  const id = (type) => `${type}--${randomUUID()}`;
  const t = '2024-05-01T10:00:00.000Z';
  const indicator = { type: 'indicator', spec_version: '2.1', id: id('indicator'), created: t, modified: t, name: 'Phishing domain',
    pattern: "[domain-name:value = 'login-border.example']", pattern_type: 'stix', valid_from: t };
  const malware = { type: 'malware', spec_version: '2.1', id: id('malware'), created: t, modified: t, name: 'Emotet', is_family: true };
  const objects = [
    indicator,
    malware,
    { type: 'relationship', spec_version: '2.1', id: id('relationship'), created: t, modified: t, relationship_type: 'indicates',
      source_ref: indicator.id, target_ref: malware.id },
    { type: 'threat-actor', spec_version: '2.1', id: id('threat-actor'), created: t, modified: t, name: evil },
    { type: 'domain-name', spec_version: '2.1', id: id('domain-name'), value: 'login-border.example' },
  ];
  for (let i = 0; i < IPS; i++) objects.push({ type: 'ipv4-addr', spec_version: '2.1', id: id('ipv4-addr'), value: `198.51.100.${i}` });
  return { total: objects.length, text: JSON.stringify({ type: 'bundle', id: id('bundle'), objects }, null, 1) };
}

let stations = null;
let session = null;
const cleanup = async () => {
  if (session) await session.close();
  session = null;
  if (stations) await stations.stop().catch(() => {});
  stations = null;
};

await runTest(OVERALL_MS, cleanup, async () => {
  let opToken = null;
  await step('two stations; alpha gives bravo the releasability code UKR, charlie none', async () => {
    stations = await twoStations(BIN, { unverified: 'charlie' });
    await stations.alpha.cli(['peer', 'set', 'bravo', '--rel', 'UKR']);
    opToken = (await stations.alpha.cli(['user', 'add', 'op1', '--role', 'operator'])).trim().split('\n').pop().trim();
  });
  const { alpha, bravo, channel } = stations;
  session = await launchBrowser();
  const { open, problems, dialogs } = session;
  const pageA = await open('alpha');
  const pageB = await open('bravo');
  const pageO = await open('alpha operator');
  const reportId = async (title) => (await alpha.api('GET', '/v1/reports')).reports.find((r) => r.title === title).id;
  const row = (id) => `#reports tr[data-id="${id}"]`;
  const partner = (peer) => `#partners tr[data-id="${peer}"]`;
  const received = (title) => `#transcript li.entry[data-kind="report"][data-own="false"]:has-text("${title}")`;

  await step('the Sharing view is one Tab stop in the navigation: partners with code, state and held count', async () => {
    for (const [page, st] of [[pageA, alpha], [pageB, bravo]]) {
      await page.goto(`${st.url}/#token=${encodeURIComponent(st.adminToken)}`);
      await see(page, '#app:not([hidden])', `${st.name}: console after sign-in`, 5000);
      await markPage(page);
    }
    await see(pageB, `#channel-view:not([hidden]) #ch-peer:text-is("alpha")`, 'bravo: its one channel open', 5000);
    await tabTo(pageA, '#nav-sharing', 'alpha: the Sharing button');
    await pageA.keyboard.press('Enter');
    await see(pageA, '#sharing-view:not([hidden])', 'alpha: the sharing view', 5000);
    check(!(await pageA.isVisible('#channel-view')), 'the channel view makes way for it');
    check((await pageA.getAttribute('#nav-sharing', 'aria-current')) === 'page', 'the Sharing button is the current one');
    check((await pageA.$$('#channels [aria-current]')).length === 0, 'no channel card claims to be current');
    await see(pageA, `${partner('bravo')}[data-paused="false"][data-held="0"]`, 'alpha: bravo active, nothing held', 5000);
    check((await pageA.textContent(`${partner('bravo')} .rel-code`)) === 'UKR', 'bravo\'s code UKR');
    check(/ACTIVE/.test(await pageA.textContent(partner('bravo'))), 'bravo: ACTIVE');
    check(/none/.test(await pageA.textContent(partner('charlie'))), 'charlie: no code');
    check(/bravo UKR/.test(await pageA.textContent('#pub-rel-hint')), 'the publish form names the partners\' codes');
    check(await pageA.isVisible('#reports tr.empty-row'), 'no reports yet, said so');
    await assertAccessible(pageA, 'alpha: the sharing view, nothing published');
  });

  await step('an operator\'s sharing view is read only: no publish form, no pause, resume or release', async () => {
    await pageO.goto(`${alpha.url}/#token=${encodeURIComponent(opToken)}`);
    await see(pageO, '#app:not([hidden])', 'operator: console after sign-in', 5000);
    await pageO.click('#nav-sharing');
    await see(pageO, `#sharing-view:not([hidden]) ${partner('bravo')}`, 'operator: the sharing view', 5000);
    check(!(await pageO.isVisible('#publish-section')), 'no publish form');
    check((await pageO.$$('#partners button, #partners input')).length === 0, 'no pause or resume controls');
    check(!(await pageO.isVisible('#partners-actions-head')), 'no actions column');
    check(/principal or admin/.test(await pageO.textContent('#sharing-readonly')), 'says why: the principal or admin role');
    await markPage(pageO);
    await assertAccessible(pageO, 'alpha (operator): the sharing view');
  });

  const stix = bundle();
  const stixTitle = 'Phishing wave against border agencies';
  let stixId = null;
  await step('alpha publishes a STIX report from the form: released to bravo, withheld from charlie (rel_to)', async () => {
    await pageA.fill('#pub-title', stixTitle);
    await pageA.selectOption('#pub-tlp', 'amber');
    await pageA.fill('#pub-rel', 'UKR');
    await pageA.selectOption('#pub-type', 'stix');
    await pageA.fill('#pub-content', stix.text);
    await pageA.click('#pub-button');
    const res = await see(pageA, '#pub-result:not(:empty)', 'alpha: what publishing did', CROSS_MS);
    const said = await res.textContent();
    check(/Released to bravo/.test(said) && /Not sent to charlie/.test(said), `the result names bravo and charlie: ${said}`);
    check((await pageA.inputValue('#pub-title')) === '', 'the form is cleared');
    stixId = await reportId(stixTitle);
    await see(pageA, `${row(stixId)} td[data-peer="bravo"][data-disposition="released"]`, 'alpha: released to bravo', 5000);
    check((await pageA.textContent(`${row(stixId)} .tlp`)) === 'TLP:AMBER', 'TLP:AMBER label');
    check((await pageA.getAttribute(`${row(stixId)} td[data-peer="charlie"]`, 'data-disposition')) === 'withheld-rel', 'charlie: withheld-rel');
    check((await pageA.textContent(`${row(stixId)} .rel-code`)) === 'UKR', 'rel_to UKR');
    // The operator's view follows the station's "report" event, with no reload.
    await see(pageO, `${row(stixId)} td[data-peer="bravo"][data-disposition="released"]`, 'operator: the report shows live', CROSS_MS);
    await assertAccessible(pageA, 'alpha: the sharing view with a released report');
  });

  await step('bravo reads it in the transcript: title, TLP, rel_to, the STIX objects by type and name, as text', async () => {
    const e = received(stixTitle);
    await see(pageB, e, 'bravo: the report in the transcript', CROSS_MS);
    check((await pageB.textContent(`${e} .tlp`)) === 'TLP:AMBER', 'TLP:AMBER label');
    check((await pageB.textContent(`${e} .rel-to`)) === 'REL TO UKR', 'REL TO UKR');
    // The station adds the TLP:AMBER marking-definition object to the bundle it publishes.
    const total = stix.total + 1;
    const summary = await pageB.textContent(`${e} .stix-summary`);
    check(new RegExp(`${total} STIX objects: ipv4-addr ${IPS}`).test(summary) && /marking-definition 1/.test(summary), `counted by type: ${summary}`);
    check((await pageB.$$(`${e} li.stix-object`)).length === 200, 'the first 200 objects listed');
    check((await pageB.textContent(`${e} .stix-more`)) === `and ${total - 200} more`, 'the rest counted');
    const named = async (type) => pageB.textContent(`${e} li.stix-object[data-type="${type}"] .stix-name`);
    check((await named('malware')) === 'Emotet', 'malware by name');
    check((await named('indicator')) === 'Phishing domain', 'indicator by name');
    check((await named('relationship')) === 'Phishing domain indicates Emotet', 'a relationship by the names it joins');
    check((await named('domain-name')) === 'login-border.example', 'an observable by its value');
    check((await named('threat-actor')) === evil, 'a hostile name shows as the text it is');
    check((await pageB.$$('img')).length === 0, 'and makes no element');
    await assertAccessible(pageB, 'bravo: a transcript with a received STIX report');
    await pageB.screenshot({ path: join(SHOTS, 'sharing-received.png') });
  });

  await step('keyboard only: alpha pauses sharing with bravo, with a reason', async () => {
    const reason = 'Their mail gateway is compromised';
    await tabTo(pageA, `${partner('bravo')} input[data-action="pause-reason"]`, 'alpha: the reason to pause bravo');
    await pageA.keyboard.type(reason);
    await pageA.keyboard.press('Tab');
    check(await focusOn(pageA, `${partner('bravo')} button[data-action="pause"]`), 'Tab goes on to Pause');
    await pageA.keyboard.press('Enter');
    await see(pageA, `${partner('bravo')}[data-paused="true"]`, 'alpha: bravo paused', CROSS_MS);
    check(/PAUSED.*since.*by admin/.test(await pageA.textContent(partner('bravo'))), 'PAUSED, since when and by whom');
    await until('the focus moves to the same partner\'s next control', () => focusOn(pageA, `${partner('bravo')} input[data-action="backfill"], ${partner('bravo')} button[data-action="resume"]`), 2000);
    await see(pageO, `${partner('bravo')}[data-paused="true"]`, 'operator: the pause shows live (the "sharing" event)', CROSS_MS);
    await see(pageB, `#transcript li.entry[data-kind="sharing_pause"]:has-text("${reason}")`, 'bravo: the pause and its reason in the transcript', CROSS_MS);
    await assertAccessible(pageA, 'alpha: a partner paused');
  });

  const mdTitle = 'Situation note 14:00Z';
  const md = '# Situation\n\n**Three** domains still resolve. <script>alert(3)</script>\n\n- block them\n- report hits';
  let mdId = null;
  await step('publishing while paused holds the report for bravo', async () => {
    await pageA.fill('#pub-title', mdTitle);
    await pageA.selectOption('#pub-tlp', 'green');
    await pageA.fill('#pub-rel', 'UKR, GBR');
    await pageA.selectOption('#pub-type', 'markdown');
    await pageA.fill('#pub-content', md);
    await pageA.click('#pub-button');
    await until('alpha: the result says held for bravo', async () => /Held for bravo/.test(await pageA.textContent('#pub-result')), CROSS_MS);
    mdId = await reportId(mdTitle);
    await see(pageA, `${row(mdId)} td[data-peer="bravo"][data-disposition="held"]`, 'alpha: held for bravo', 5000);
    await see(pageA, `${partner('bravo')}[data-held="1"]`, 'alpha: bravo has one held', 5000);
    check((await pageA.textContent(`${row(mdId)} .tlp`)) === 'TLP:GREEN', 'TLP:GREEN label');
    await assertAccessible(pageA, 'alpha: a report held for a paused partner');
  });

  await step('keyboard only: resume with "release what was held": the held report is released and reads as text at bravo', async () => {
    await tabTo(pageA, `${partner('bravo')} input[data-action="backfill"]`, 'alpha: release what was held');
    await pageA.keyboard.press(' ');
    check(await pageA.isChecked(`${partner('bravo')} input[data-action="backfill"]`), 'Space ticks it');
    await pageA.keyboard.press('Tab');
    check(await focusOn(pageA, `${partner('bravo')} button[data-action="resume"]`), 'Tab goes on to Resume');
    await pageA.keyboard.press('Enter');
    await see(pageA, `${partner('bravo')}[data-paused="false"][data-held="0"]`, 'alpha: bravo active, nothing held', CROSS_MS);
    await see(pageA, `${row(mdId)} td[data-peer="bravo"][data-disposition="released"]`, 'alpha: the held report released', 5000);
    const e = received(mdTitle);
    await see(pageB, e, 'bravo: the Markdown report', CROSS_MS);
    check((await pageB.textContent(`${e} .report-text`)) === md, 'the Markdown shows exactly as written, as text');
    check((await pageB.$$(`${e} .report-text *`)).length === 0, 'no element made from its markup');
    check((await pageB.$$('script')).length === 3, 'no script element but the console\'s own three');
    check((await pageB.textContent(`${e} .tlp`)) === 'TLP:GREEN', 'TLP:GREEN label');
    check((await pageB.textContent(`${e} .rel-to`)) === 'REL TO UKR, GBR', 'REL TO UKR, GBR');
    await see(pageO, `${partner('bravo')}[data-paused="false"]`, 'operator: the resume shows live', CROSS_MS);
    await assertAccessible(pageB, 'bravo: a transcript with a received Markdown report');
  });

  const redTitle = 'Source reporting: named individual';
  let redId = null;
  await step('a TLP:RED report shows withheld-red and is released to bravo only by the explicit action', async () => {
    // Published through the API: alpha's open sharing view follows the station's event.
    redId = (await alpha.api('POST', '/v1/reports', { title: redTitle, content_type: 'markdown', content: 'Only for the duty officer.', tlp: 'red', rel_to: ['UKR'] })).id;
    const cell = `${row(redId)} td[data-peer="bravo"]`;
    await see(pageA, `${cell}[data-disposition="withheld-red"] button[data-action="release"]`, 'alpha: withheld-red with a Release button', CROSS_MS);
    check((await pageA.textContent(`${row(redId)} .tlp`)) === 'TLP:RED', 'TLP:RED label');
    check((await pageA.getAttribute(`${row(redId)} td[data-peer="charlie"]`, 'data-disposition')) === 'withheld-rel', 'charlie: outside rel_to, no release offered');
    check((await pageA.$$(`${row(redId)} td[data-peer="charlie"] button`)).length === 0, 'no button for charlie');
    check((await pageO.$$(`#reports button`)).length === 0, 'operator: no Release button');
    await assertAccessible(pageA, 'alpha: a TLP:RED report withheld');
    await pageA.screenshot({ path: join(SHOTS, 'sharing-alpha.png') });

    await tabTo(pageA, `${cell} button[data-action="release"]`, 'alpha: Release to bravo…');
    await pageA.keyboard.press('Enter');
    await until('the confirmation opens with the focus on its button', () => focusOn(pageA, '#release-form:not([hidden]) #release-confirm'), 2000);
    check(/Source reporting.*TLP:RED.*bravo/.test(await pageA.textContent('#release-prompt')), 'the confirmation names the report, its TLP and the partner');
    await assertAccessible(pageA, 'alpha: the explicit release confirmation');
    await pageA.keyboard.press('Escape');
    check(!(await pageA.isVisible('#release-form')), 'Escape closes it');
    check(await focusOn(pageA, `${cell} button[data-action="release"]`), 'and puts the focus back on the Release button');
    check((await alpha.api('GET', `/v1/reports/${redId}`)).dispositions.bravo === 'withheld-red', 'nothing released by backing out');
    await pageA.keyboard.press('Enter');
    await until('the confirmation again', () => focusOn(pageA, '#release-confirm'), 2000);
    await pageA.keyboard.press('Enter');
    await see(pageA, `${cell}[data-disposition="released"]`, 'alpha: released to bravo', CROSS_MS);
    check(!(await pageA.isVisible('#release-form')), 'the confirmation closes');
    check(await focusOn(pageA, cell), 'the focus is on what changed');
    const e = received(redTitle);
    await see(pageB, e, 'bravo: the TLP:RED report', CROSS_MS);
    check((await pageB.textContent(`${e} .tlp`)) === 'TLP:RED', 'bravo: TLP:RED label');
    await assertAccessible(pageA, 'alpha: a TLP:RED report released by hand');
    await assertAccessible(pageB, 'bravo: a received TLP:RED report');
  });

  await step('every control on the sharing view and the transcript with reports is reached by Tab, focus visible', async () => {
    for (const [page, view] of [[pageA, 'alpha (admin): the sharing view'], [pageO, 'alpha (operator): the sharing view'],
      [pageB, 'bravo (admin): a transcript with received reports']]) {
      const n = await assertKeyboardOperable(page, view);
      console.log(`     ${view}: ${n} controls, each reached by Tab with a visible focus`);
    }
  });

  await step('back from the sharing view to the channel, where alpha\'s own reports read too', async () => {
    await tabTo(pageA, `#channels li[data-id="${channel}"] button`, 'alpha: bravo\'s channel card');
    await pageA.keyboard.press('Enter');
    await see(pageA, '#channel-view:not([hidden]) #ch-peer:text-is("bravo")', 'alpha: bravo\'s channel', 5000);
    check(!(await pageA.isVisible('#sharing-view')), 'the sharing view makes way');
    check((await pageA.getAttribute('#nav-sharing', 'aria-current')) === null, 'Sharing is no longer the current view');
    await see(pageA, `#transcript li.entry[data-kind="report"][data-own="true"]:has-text("${stixTitle}") li.stix-object[data-type="malware"]`, 'alpha: its own STIX report listed', 5000);
    await see(pageA, '#transcript li.entry[data-kind="sharing_resume"]', 'alpha: the resume in the transcript', 5000);
    await assertAccessible(pageA, 'alpha: a transcript with its own reports');
    for (const [page, who] of [[pageA, 'alpha'], [pageB, 'bravo'], [pageO, 'alpha operator']]) await notReloaded(page, who);
  });

  await step('the sharing view in a phone-width window passes axe and the keyboard walk', async () => {
    await pageA.setViewportSize({ width: 390, height: 844 });
    await tabTo(pageA, '#nav-sharing', 'alpha: the Sharing button');
    await pageA.keyboard.press('Enter');
    await see(pageA, `#sharing-view:not([hidden]) ${row(redId)}`, 'alpha: the sharing view again', 5000);
    await assertAccessible(pageA, 'alpha: the sharing view, phone width');
    await assertKeyboardOperable(pageA, 'alpha: the sharing view, phone width');
    await pageA.screenshot({ path: join(SHOTS, 'sharing-phone.png'), fullPage: true });
  });

  await step('no page error, CSP violation or dialog on any console', async () => {
    check(problems.length === 0, problems.join('\n'));
    check(dialogs.length === 0, dialogs.join('\n'));
  });
});
