'use strict';
// hotline console: partner sharing (SPEC §7). The sharing view (per partner,
// paused or active and how many reports are held for it; per report, what
// became of it for each partner, with the explicit release a TLP:RED report
// needs; a small publishing form) and a received report in a transcript.
//
// The page loads this file before console.js, and it only defines functions:
// console.js owns the state (S), the API calls, the event stream and the
// wiring, and calls wireSharing() once. The safety rule is console.js's:
// whatever a partner wrote (a title, a STIX object's name, Markdown) reaches
// the page through textContent or an attribute value only. Markdown is shown
// as the text it is; nothing renders it.

/** A received bundle lists this many objects; the rest are counted. */
const STIX_SHOWN = 200;
/** Up to this many objects are listed inline; a longer list scrolls in a box. */
const STIX_INLINE = 12;
/** A STIX object's name is cut here: in the list it is a line, not a document. */
const STIX_NAME_MAX = 300;
/** TLP 2.0 labels the console knows the colours of. */
const TLP_WORDS = ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'];

/** What each disposition word means, for the tooltip beside it (core::machine::Disposition). */
const DISPOSITION_HELP = {
  released: 'written to the channel with this partner',
  held: 'held while sharing with this partner is paused',
  dropped: 'held while sharing was paused, then dropped when it resumed without releasing what was held',
  'withheld-rel': 'not sent: the partner\'s releasability code is not in the report\'s rel_to',
  'withheld-red': 'not sent: TLP:RED goes only by an explicit release to this partner',
};

/** The sharing view's data, and what the user typed in it (kept across redraws). */
const SH = {
  partners: [],
  reports: [],
  /** Peer → {reason, backfill}: a redraw on a live event must not wipe a half-typed reason. */
  drafts: new Map(),
  /** {id, peer} of the explicit release awaiting confirmation. */
  release: null,
  /** What the tables show now; an event that changes nothing redraws nothing. */
  sig: '',
};

function resetSharing() {
  SH.partners = [];
  SH.reports = [];
  SH.drafts.clear();
  SH.release = null;
  SH.sig = '';
  $('sharing-view').hidden = true;
  $('release-form').hidden = true;
  $('nav-sharing').removeAttribute('aria-current');
  for (const id of ['sharing-error', 'release-error', 'pub-error', 'pub-result']) $(id).textContent = '';
}

// ---------------------------------------------------------------------------
// Labels

/**
 * A TLP label in the TLP 2.0 colours: the colour on black, as the standard
 * draws it (each pair passes 4.5:1), and always the words, never colour alone.
 */
function tlpLabel(marking) {
  const word = String(marking || '').toUpperCase().replace(/^TLP:/, '');
  const known = TLP_WORDS.includes(word);
  const e = el('span', 'tlp tlp-' + (known ? word.toLowerCase().replace('+', '-') : 'unknown'), known ? 'TLP:' + word : String(marking || 'TLP?'));
  e.dataset.tlp = known ? word : 'unknown';
  return e;
}

function dispositionLabel(word) {
  if (!word) {
    const e = el('span', 'disp disp-none', '—');
    e.title = 'not offered: no channel with this partner carries reports, or the partner is not verified';
    return e;
  }
  const e = el('span', 'disp disp-' + word, word);
  e.title = DISPOSITION_HELP[word] || '';
  return e;
}

// ---------------------------------------------------------------------------
// A report in a transcript

/** The kind-specific part of a report entry: title, TLP, rel_to, then its content, read safely. */
function renderReport(b, out) {
  if (b.title) out.append(el('div', 'subject', b.title));
  const meta = el('div', 'report-meta');
  meta.append(tlpLabel(b.marking));
  const rel = Array.isArray(b.rel_to) ? b.rel_to.map(String) : [];
  if (rel.length) meta.append(el('span', 'rel-to', 'REL TO ' + rel.join(', ')));
  const bytes = decodeBase64(b.content_base64);
  meta.append(el('span', 'muted small', [b.content_type, bytes ? bytes.length + ' bytes' : ''].filter(Boolean).join(' · ')));
  out.append(meta);
  if (!bytes) {
    out.append(el('div', 'sys small', 'The content could not be decoded.'));
    return;
  }
  // Invalid UTF-8 becomes U+FFFD: shown, never executed.
  const text = new TextDecoder('utf-8').decode(bytes);
  if (/^application\/stix\+json/i.test(String(b.content_type || ''))) renderStix(text, out);
  else out.append(el('div', 'text report-text', text));
}

function decodeBase64(s) {
  if (typeof s !== 'string') return null;
  try {
    const bin = atob(s);
    const u = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    return u;
  } catch (_) {
    return null;
  }
}

/**
 * A STIX bundle as a list of its objects by type and name, the first
 * STIX_SHOWN of them, after a count by type. JSON.parse only: the bundle is
 * data, and every string from it goes in as text.
 */
function renderStix(text, out) {
  let bundle = null;
  try { bundle = JSON.parse(text); } catch (_) { bundle = null; }
  const objects = bundle && typeof bundle === 'object' && bundle.type === 'bundle' && Array.isArray(bundle.objects) ? bundle.objects : null;
  if (!objects) {
    out.append(el('div', 'sys small', 'Not a STIX bundle the console can read; its text follows.'), el('div', 'text report-text', text));
    return;
  }
  const isObj = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);
  const typeOf = (o) => (isObj(o) && typeof o.type === 'string' ? o.type : '?');
  // Names by id, so that a relationship reads "Phishing domain indicates Emotet".
  const names = new Map();
  const counts = new Map();
  for (const o of objects) {
    counts.set(typeOf(o), (counts.get(typeOf(o)) || 0) + 1);
    const n = isObj(o) ? ownName(o) : '';
    if (n && typeof o.id === 'string') names.set(o.id, n);
  }
  const byType = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([t, n]) => t + ' ' + n);
  out.append(el('div', 'sys small stix-summary', objects.length + ' STIX object' + (objects.length === 1 ? '' : 's') + (byType.length ? ': ' + byType.join(', ') : '')));
  if (!objects.length) return;
  const ul = el('ul', 'stix-list');
  ul.setAttribute('aria-label', 'STIX objects');
  if (objects.length > STIX_INLINE) {
    // A long list scrolls in a box of its own, so the transcript around it stays readable;
    // tabindex: the keyboard must be able to scroll it too.
    ul.classList.add('stix-scroll');
    ul.tabIndex = 0;
  }
  for (const o of objects.slice(0, STIX_SHOWN)) {
    const li = el('li', 'stix-object');
    li.dataset.type = typeOf(o);
    li.append(el('span', 'stix-type', typeOf(o)), el('span', 'stix-name', isObj(o) ? displayName(o, names) : '(not an object)'));
    ul.append(li);
  }
  if (objects.length > STIX_SHOWN) ul.append(el('li', 'stix-more', 'and ' + (objects.length - STIX_SHOWN) + ' more'));
  out.append(ul);
}

function clip(s) {
  const t = String(s).replace(/\s+/g, ' ').trim();
  return t.length > STIX_NAME_MAX ? t.slice(0, STIX_NAME_MAX - 1) + '…' : t;
}

/** What an object calls itself: a name (SDOs, files), a value (addresses, domains), else its note or pattern. */
function ownName(o) {
  for (const k of ['name', 'value', 'abstract', 'pattern']) {
    if (Object.hasOwn(o, k) && typeof o[k] === 'string' && o[k].trim()) return clip(o[k]);
  }
  return '';
}

function displayName(o, names) {
  const own = ownName(o);
  if (own) return own;
  const ref = (id) => (typeof id === 'string' ? names.get(id) || id : '?');
  if (o.type === 'relationship') {
    return clip(ref(o.source_ref) + ' ' + (typeof o.relationship_type === 'string' ? o.relationship_type : 'related-to') + ' ' + ref(o.target_ref));
  }
  if (o.type === 'sighting') return clip('sighting of ' + ref(o.sighting_of_ref));
  return typeof o.id === 'string' ? clip(o.id) : '(unnamed)';
}

// ---------------------------------------------------------------------------
// The sharing view

function openSharing() {
  S.view = 'sharing';
  sessionStorage.setItem('hotline-view', 'sharing');
  $('empty-view').hidden = true;
  $('channel-view').hidden = true;
  $('sharing-view').hidden = false;
  $('nav-sharing').setAttribute('aria-current', 'page');
  renderChannelList(); // no channel card is the current one now
  renderSharingForms();
  return loadSharing().catch((e) => showError('sharing-error', e));
}

/** Leaves the sharing view (a channel was opened); what was typed stays for next time. */
function closeSharing() {
  S.view = 'channel';
  sessionStorage.removeItem('hotline-view');
  $('sharing-view').hidden = true;
  $('nav-sharing').removeAttribute('aria-current');
  SH.release = null;
  $('release-form').hidden = true;
}

/** Loads run one after another (a click can land during an event-driven refresh). */
let sharingChain = Promise.resolve();
function loadSharing() {
  const run = sharingChain.then(loadSharingNow);
  sharingChain = run.catch(() => {});
  return run;
}

async function loadSharingNow() {
  const [s, r] = await Promise.all([api('GET', '/v1/sharing'), api('GET', '/v1/reports')]);
  SH.partners = s.partners || [];
  SH.reports = r.reports || [];
  $('sharing-error').textContent = '';
  renderSharing();
}

function renderSharing() {
  const sig = JSON.stringify([SH.partners, SH.reports, S.user && S.user.role]);
  if (sig === SH.sig) return;
  SH.sig = sig;
  renderSharingForms();
  renderPartners();
  renderReports();
  $('pub-rel-hint').textContent = SH.partners.length
    ? 'Partners\' codes: ' + SH.partners.map((p) => p.peer + ' ' + (p.rel || '(none)')).join(' · ')
    : 'No partners pinned yet.';
}

/** Only the controls the role may use (api::allowed: sharing is Act::Channel). */
function renderSharingForms() {
  const may = can('channel');
  $('publish-section').hidden = !may;
  $('sharing-readonly').hidden = may;
  if (!may) $('sharing-readonly').textContent = 'Read only: publishing, releasing, pausing and resuming sharing need the principal or admin role.';
  $('partners-actions-head').hidden = !may;
}

/** A table row of one cell saying there is nothing to show. */
function emptyRow(span, text) {
  const tr = el('tr', 'empty-row');
  const td = el('td', 'muted', text);
  td.colSpan = span;
  tr.append(td);
  return tr;
}

function renderPartners() {
  const body = $('partners');
  const may = can('channel');
  const rows = SH.partners.map((p) => partnerRow(p, may));
  if (!rows.length) rows.push(emptyRow(may ? 5 : 4, 'No partners pinned. An admin adds one with hotline peer add.'));
  keepFocus(body, () => body.replaceChildren(...rows));
}

function draft(peer) {
  if (!SH.drafts.has(peer)) SH.drafts.set(peer, { reason: '', backfill: false });
  return SH.drafts.get(peer);
}

function partnerRow(p, may) {
  const tr = el('tr', 'partner' + (p.paused ? ' paused' : ''));
  // data-id: keepFocus finds the same row after a redraw.
  tr.dataset.id = p.peer;
  tr.dataset.paused = String(p.paused);
  tr.dataset.held = String(p.held);
  const name = el('th', 'partner-name', p.peer);
  name.scope = 'row';
  const rel = el('td', p.rel ? 'rel-code' : 'muted', p.rel || 'none');
  if (!p.rel) rel.title = 'no releasability code: no report goes to this partner until an admin sets one (hotline peer set --rel)';
  const st = el('td', 'share-state');
  st.append(el('span', 'share-badge ' + (p.paused ? 'is-paused' : 'is-active'), p.paused ? 'PAUSED' : 'ACTIVE'));
  if (p.since) {
    st.append(el('span', 'muted small', ' since '), timeEl(p.since));
    if (p.by) st.append(el('span', 'muted small', ' by ' + p.by));
  }
  const held = el('td', 'num' + (p.held ? ' held-some' : ''), String(p.held));
  tr.append(name, rel, st, held);
  if (may) {
    const td = el('td', 'share-actions');
    td.append(p.paused ? resumeForm(p) : pauseForm(p));
    tr.append(td);
  }
  return tr;
}

function pauseForm(p) {
  const d = draft(p.peer);
  const f = el('form', 'share-ctl');
  const reason = el('input', 'pause-reason');
  reason.type = 'text';
  reason.maxLength = 2000;
  reason.placeholder = 'reason (recorded in the transcript)';
  reason.dataset.action = 'pause-reason';
  reason.setAttribute('aria-label', 'Reason for pausing sharing with ' + p.peer);
  reason.value = d.reason;
  reason.addEventListener('input', () => { d.reason = reason.value; });
  const b = el('button', 'warn-btn', 'Pause');
  b.type = 'submit';
  b.dataset.action = 'pause';
  b.setAttribute('aria-label', 'Pause sharing with ' + p.peer);
  f.append(reason, b);
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sharingAct(b, '/v1/sharing/' + encodeURIComponent(p.peer) + '/pause', { reason: reason.value.trim() }, () => { d.reason = ''; });
  });
  return f;
}

function resumeForm(p) {
  const d = draft(p.peer);
  const f = el('form', 'share-ctl');
  const label = el('label', 'backfill');
  const cb = el('input');
  cb.type = 'checkbox';
  cb.dataset.action = 'backfill';
  cb.checked = d.backfill;
  cb.addEventListener('change', () => { d.backfill = cb.checked; });
  label.append(cb, el('span', null, ' release what was held' + (p.held ? ' (' + p.held + ')' : '')), el('span', 'sr-only', ' for ' + p.peer));
  label.title = 'Unticked, the reports held meanwhile are dropped for this partner.';
  const b = el('button', 'primary', 'Resume');
  b.type = 'submit';
  b.dataset.action = 'resume';
  b.setAttribute('aria-label', 'Resume sharing with ' + p.peer);
  f.append(label, b);
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sharingAct(b, '/v1/sharing/' + encodeURIComponent(p.peer) + '/resume', { backfill: cb.checked }, () => { d.backfill = false; });
  });
  return f;
}

/** A pause or resume: the API's sentence if refused; the view redrawn either way. */
async function sharingAct(button, path, body, done) {
  const release = hold(button);
  if (!release) return;
  $('sharing-error').textContent = '';
  try {
    await api('POST', path, body);
    done();
    // Pausing and resuming write entries on the partner's channels too.
    mark('channels', 'entries');
    await loadSharing();
  } catch (e) {
    showError('sharing-error', e);
  } finally {
    release();
  }
}

function renderReports() {
  const may = can('channel');
  // A column per partner: those pinned now, and any a report went to before it was removed.
  const peers = new Set(SH.partners.map((p) => p.peer));
  for (const r of SH.reports) for (const k of Object.keys(r.dispositions || {})) peers.add(k);
  const cols = [...peers].sort((a, b) => a.localeCompare(b));
  const codes = new Map(SH.partners.map((p) => [p.peer, p.rel]));

  const head = el('tr');
  for (const t of ['Title', 'TLP', 'Releasable to', 'Published']) {
    const th = el('th', null, t);
    th.scope = 'col';
    head.append(th);
  }
  for (const peer of cols) {
    const th = el('th', 'peer-col');
    th.scope = 'col';
    th.dataset.peer = peer;
    th.append(el('span', null, peer));
    if (codes.get(peer)) th.append(el('span', 'muted small', ' ' + codes.get(peer)));
    head.append(th);
  }
  $('reports-head').replaceChildren(head);

  const body = $('reports');
  // Newest first: what was just published is at the top.
  const rows = SH.reports.slice().reverse().map((r) => reportRow(r, cols, may));
  if (!rows.length) rows.push(emptyRow(4 + cols.length, 'No reports published here yet.'));
  keepFocus(body, () => body.replaceChildren(...rows));
}

function reportRow(r, cols, may) {
  const tr = el('tr', 'report-row');
  tr.dataset.id = r.id;
  tr.dataset.tlp = r.tlp;
  const title = el('th', 'report-title');
  title.scope = 'row';
  title.append(el('span', 'report-name', r.title));
  const id = el('code', 'hash', short(r.id));
  id.title = r.id;
  title.append(el('span', 'muted small report-type', ' ' + (/stix/i.test(r.content_type) ? 'STIX' : 'Markdown') + ' · '), id);
  const tlp = el('td');
  tlp.append(tlpLabel(r.tlp));
  const rel = el('td', 'rel-code', (r.rel_to || []).join(', '));
  const pub = el('td', 'published');
  pub.append(timeEl(r.published_at), el('span', 'muted small', ' by ' + r.by));
  tr.append(title, tlp, rel, pub);
  for (const peer of cols) {
    const word = (r.dispositions || {})[peer] || '';
    const td = el('td', 'disp-cell');
    td.dataset.peer = peer;
    td.dataset.disposition = word || 'none';
    td.append(dispositionLabel(word));
    // The guard writes withheld-red only for a partner inside rel_to: the one case an explicit release may change.
    if (may && word === 'withheld-red') {
      const b = el('button', 'warn-btn small-btn release-btn', 'Release to ' + peer + '…');
      b.type = 'button';
      b.dataset.action = 'release';
      b.addEventListener('click', () => openRelease(r, peer));
      td.append(b);
    }
    tr.append(td);
  }
  return tr;
}

// ---------------------------------------------------------------------------
// Explicit release (the only way TLP:RED leaves the station)

function openRelease(r, peer) {
  SH.release = { id: r.id, peer };
  $('release-error').textContent = '';
  $('release-prompt').textContent = 'Release “' + r.title + '” (' + r.tlp + ') to ' + peer
    + ' only? This explicit release is recorded in the audit log under your name.';
  $('release-confirm').textContent = 'Release to ' + peer;
  $('release-form').hidden = false;
  $('release-confirm').focus();
}

/** The Release button a confirmation came from, if it is still there. */
function releaseButton(s) {
  return s && $('reports').querySelector('tr[data-id="' + CSS.escape(s.id) + '"] td[data-peer="' + CSS.escape(s.peer) + '"] button[data-action="release"]');
}

/** Hides the confirmation; a keyboard user is put back on the button that opened it. */
function closeRelease() {
  const s = SH.release;
  const form = $('release-form');
  const had = form.contains(document.activeElement);
  SH.release = null;
  form.hidden = true;
  const back = had ? releaseButton(s) : null;
  if (back) back.focus();
}

async function submitRelease(ev) {
  ev.preventDefault();
  const s = SH.release;
  if (!s) return;
  const release = hold($('release-confirm'));
  if (!release) return;
  $('release-error').textContent = '';
  try {
    await api('POST', '/v1/reports/' + encodeURIComponent(s.id) + '/release', { to: s.peer });
    SH.release = null;
    mark('channels', 'entries');
    await loadSharing();
    // The button is gone with the confirmation: the focus goes to what changed.
    const cell = $('reports').querySelector('tr[data-id="' + CSS.escape(s.id) + '"] td[data-peer="' + CSS.escape(s.peer) + '"]');
    $('release-form').hidden = true;
    if (cell) { cell.tabIndex = -1; cell.focus(); }
  } catch (e) {
    showError('release-error', e);
  } finally {
    release();
  }
}

// ---------------------------------------------------------------------------
// Publishing

const PUB_PLACEHOLDER = {
  stix: '{"type": "bundle", "id": "bundle--…", "objects": [ … ]}',
  markdown: 'Markdown text; partners see it as text.',
};

function paintPublishType() {
  $('pub-content').placeholder = PUB_PLACEHOLDER[$('pub-type').value] || '';
}

/** "released to bravo; held for …; not sent to charlie: why" — what publishing did, in words. */
function publishedSentence(p) {
  const parts = ['Published as ' + short(p.id) + '.'];
  if (p.released_to.length) parts.push('Released to ' + p.released_to.join(', ') + '.');
  if (p.held_for.length) parts.push('Held for ' + p.held_for.join(', ') + ' (sharing paused).');
  for (const w of p.withheld) parts.push('Not sent to ' + w.peer + ': ' + w.why + '.');
  if (!p.released_to.length && !p.held_for.length && !p.withheld.length) parts.push('No partner is offered it.');
  return parts.join(' ');
}

async function publishReport(ev) {
  ev.preventDefault();
  const title = $('pub-title').value.trim();
  const relTo = $('pub-rel').value.split(',').map((s) => s.trim()).filter(Boolean);
  const content = $('pub-content').value;
  $('pub-error').textContent = '';
  $('pub-result').textContent = '';
  if (!title) { $('pub-error').textContent = 'Give the report a title.'; $('pub-title').focus(); return; }
  if (!relTo.length) { $('pub-error').textContent = 'Give one or more releasability codes, such as UKR.'; $('pub-rel').focus(); return; }
  if (!content.trim()) { $('pub-error').textContent = 'Write or paste the report\'s content.'; $('pub-content').focus(); return; }
  const release = hold($('pub-button'));
  if (!release) return;
  try {
    const p = await api('POST', '/v1/reports', { title, content_type: $('pub-type').value, content, tlp: $('pub-tlp').value, rel_to: relTo });
    $('pub-result').textContent = publishedSentence(p);
    $('pub-title').value = '';
    $('pub-content').value = '';
    // A RED report is deliberate each time: do not leave the form primed for another.
    $('pub-tlp').value = 'amber';
    mark('channels', 'entries');
    await loadSharing();
  } catch (e) {
    showError('pub-error', e);
  } finally {
    release();
  }
}

// ---------------------------------------------------------------------------
// Wiring (console.js calls this once, after its own)

function wireSharing() {
  $('nav-sharing').addEventListener('click', () => { openSharing(); });
  $('publish-form').addEventListener('submit', publishReport);
  $('pub-type').addEventListener('change', paintPublishType);
  paintPublishType();
  $('release-form').addEventListener('submit', submitRelease);
  $('release-cancel').addEventListener('click', closeRelease);
  $('release-form').addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); closeRelease(); } });
}
