'use strict';
// hotline operator console (SPEC §8): channels and their health, the merged
// transcript with delivery states, acknowledgement clocks, decisions and
// deadlines, alerts — live over server-sent events. Partner sharing (the
// sharing view, received reports) is in sharing.js, loaded first.
//
// Safety rule: anything that comes from the API, above all counterpart text,
// reaches the page only through textContent or an attribute value. There is no
// innerHTML in this file, and the station's CSP allows no inline script or
// style, so a hostile message can at worst look odd; it cannot run.
//
// The console is a convenience over the API, not a gate: the station enforces
// every role rule itself. The console only hides what the role cannot use, so
// that the people on duty are not offered buttons that would be refused.

// ---------------------------------------------------------------------------
// Constants

/** Highest first, as the ACP precedence table orders them. */
const PRECEDENCES = ['flash', 'immediate', 'priority', 'routine'];
/** Delivery states in the order they advance; a state never goes backwards. */
const OWN_STATES = ['queued', 'sent', 'delivered', 'acknowledged'];
const THEIR_STATES = ['received', 'acknowledged'];
/** Entries per page, the API's maximum. */
const PAGE = 1000;
/** Coalesces bursts of events into one refresh (SPEC: a new entry shows within 1 s). */
const DEBOUNCE_MS = 100;
/** Clock skew below this is not worth correcting (the Date header has 1 s resolution). */
const SKEW_IGNORE_MS = 2000;

/** Human wording of an on-miss action, from the asker's point of view. */
const ON_MISS = { alert: 'raise an alert', suspend: 'suspend the channel', terminate: 'terminate the channel' };

// ---------------------------------------------------------------------------
// State

const S = {
  token: sessionStorage.getItem('hotline-token') || '',
  /** {name, role}; role is null when the station cannot say (older station): offer everything. */
  user: null,
  /** {name, fingerprint, token} of this station. */
  station: null,
  /** Channel summaries by id, as GET /v1/channels returns them. */
  channels: new Map(),
  /** Open alerts, as GET /v1/alerts?open=true returns them. */
  alerts: [],
  /** What the main pane shows: 'channel' (or the empty view) or 'sharing' (sharing.js). */
  view: 'channel',
  /** The channel on screen, its detail (GET /v1/channels/{id}) and its entries. */
  current: null,
  detail: null,
  entries: new Map(),
  cursor: 0,
  /** Derived from the entries: ack entries by what they acknowledge, etc. */
  ackOf: new Map(),
  decisionOf: new Map(),
  translationsOf: new Map(),
  /** Transcript nodes by entry hash, reused while the entry's rendering is unchanged. */
  nodes: new Map(),
  es: null,
  /** Server clock minus browser clock, so clocks count against the station's time. */
  skew: 0,
};

const $ = (id) => document.getElementById(id);

/** Creates an element; `text` is set with textContent, so it is never markup. */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function now() { return Date.now() + S.skew; }

// ---------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

/** Calls the API with the signed-in token; a 4xx/5xx becomes an ApiError carrying the API's sentence. */
async function api(method, path, body) {
  let r;
  try {
    r = await fetch(path, {
      method,
      headers: Object.assign({ Authorization: 'Bearer ' + S.token }, body ? { 'Content-Type': 'application/json' } : {}),
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
  } catch (_) {
    throw new ApiError('The station is not reachable. Check that it is running.', 0);
  }
  noteServerTime(r.headers.get('date'));
  const t = await r.text();
  let j = null;
  try { j = JSON.parse(t); } catch (_) { j = null; }
  if (!r.ok) {
    const msg = (j && typeof j.error === 'string') ? j.error
      : r.status === 401 ? 'The token was not accepted. Check it, or ask the admin for a new one.'
        : 'The station answered HTTP ' + r.status + '.';
    if (r.status === 401 && S.user) signOut(msg);
    throw new ApiError(msg, r.status);
  }
  return j;
}

/** Keeps the countdowns honest when this browser's clock is off from the station's. */
function noteServerTime(date) {
  const t = Date.parse(date || '');
  if (Number.isNaN(t)) return;
  const d = t + 500 - Date.now(); // the header truncates to the second: assume mid-second
  S.skew = Math.abs(d) < SKEW_IGNORE_MS ? 0 : d;
}

// ---------------------------------------------------------------------------
// Roles (mirrors api::allowed; the station enforces it, this only hides buttons)

function can(act, precedence) {
  const role = S.user && S.user.role;
  if (!role) return true;
  if (role === 'admin') return true;
  switch (act) {
    case 'send': return role === 'principal' || (role === 'operator' && precedence !== 'flash');
    case 'ack': return role === 'principal' || role === 'operator';
    case 'channel': return role === 'principal';
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Formatting

const pad = (n) => String(n).padStart(2, '0');

/** UTC clock time, with the date when it is not today: both stations read the same words. */
function fmtTime(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  const hms = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + 'Z';
  const today = new Date(now()).toISOString().slice(0, 10);
  const day = d.toISOString().slice(0, 10);
  return day === today ? hms : day + ' ' + hms;
}

/** A span of time as h:mm:ss or m:ss (days spelled out), for clocks. */
function fmtSpan(ms) {
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const core = h || d ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
  return d ? d + 'd ' + core : core;
}

/** A window length such as 10m or 6h, for the terms. */
function fmtWindow(ms) {
  if (ms % 86400000 === 0) return ms / 86400000 + 'd';
  if (ms % 3600000 === 0) return ms / 3600000 + 'h';
  if (ms % 60000 === 0) return ms / 60000 + 'm';
  if (ms % 1000 === 0) return ms / 1000 + 's';
  return ms + 'ms';
}

function fmtAgo(ms) {
  if (!ms) return 'never';
  const s = Math.round((now() - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  if (s < 172800) return Math.round(s / 3600) + ' h ago';
  return fmtTime(ms);
}

/** A span that keeps saying "12 s ago" as time passes (ticked by tick()). */
function agoEl(ms, cls) {
  const e = el('time', 'ago' + (cls ? ' ' + cls : ''), fmtAgo(ms));
  if (ms) {
    e.dataset.since = String(ms);
    e.dateTime = new Date(ms).toISOString();
    e.title = new Date(ms).toString();
  }
  return e;
}

function timeEl(ms) {
  const e = el('time', 'at', fmtTime(ms));
  if (ms) { e.dateTime = new Date(ms).toISOString(); e.title = 'local: ' + new Date(ms).toString(); }
  return e;
}

function precLabel(p) { return el('span', 'prec p-' + p, p.toUpperCase()); }

const short = (hash) => String(hash || '').slice(0, 12);

/** The first line of a message, for lists. */
function gist(e) {
  const b = e.body || {};
  const s = (b.subject || '').trim() || (b.text || b.question || b.type || '').trim().split('\n')[0];
  return s.length > 120 ? s.slice(0, 117) + '…' : (s || '(no text)');
}

// ---------------------------------------------------------------------------
// Clocks: rendering only; nothing here asks the station anything.

/**
 * A countdown to `due`. `start` lets it turn amber at half the window (when the
 * station raises its first ack-overdue alert) and red when overdue.
 * mode: "ours-ack" (we must acknowledge), "their-ack" (they must), "deadline".
 */
function clockEl(cls, due, start, mode) {
  const e = el('span', 'clock ' + cls);
  e.dataset.due = String(due);
  if (start) e.dataset.start = String(start);
  e.dataset.mode = mode;
  e.append(el('span', 'clock-label'), document.createTextNode(' '), el('span', 'clock-time'));
  paintClock(e, now());
  return e;
}

const CLOCK_WORDS = {
  'ours-ack': ['ack due in', 'ACK OVERDUE'],
  'their-ack': ['their ack due in', 'their ack overdue'],
  'deadline': ['deadline in', 'deadline passed'],
  'their-deadline': ['answer within', 'DEADLINE PASSED'],
};

function paintClock(e, t) {
  const due = Number(e.dataset.due);
  const start = Number(e.dataset.start || 0);
  const left = due - t;
  const words = CLOCK_WORDS[e.dataset.mode] || CLOCK_WORDS.deadline;
  const over = left <= 0;
  const warn = !over && start && t >= start + (due - start) / 2;
  e.classList.toggle('overdue', over);
  e.classList.toggle('warn', Boolean(warn));
  e.dataset.overdue = over ? 'true' : 'false';
  e.querySelector('.clock-label').textContent = over ? words[1] : words[0];
  e.querySelector('.clock-time').textContent = (over ? '+' : '') + fmtSpan(left);
}

function tick() {
  const t = now();
  for (const e of document.querySelectorAll('.clock[data-due]')) paintClock(e, t);
  for (const e of document.querySelectorAll('[data-since]')) e.textContent = fmtAgo(Number(e.dataset.since));
  const d = new Date(t);
  $('utc-clock').textContent = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
}

// ---------------------------------------------------------------------------
// Sign in / out

async function signIn(token) {
  S.token = token;
  const [id, who] = await Promise.all([
    api('GET', '/v1/identity'),
    api('GET', '/v1/whoami').catch((e) => {
      // A station without /v1/whoami: sign in anyway; the API still enforces the role.
      if (e.status === 404) return null;
      throw e;
    }),
  ]);
  S.station = id;
  S.user = who ? { name: who.name, role: who.role } : { name: null, role: null };
  sessionStorage.setItem('hotline-token', token);
  $('station-name').textContent = id.name;
  $('station-fp').textContent = id.fingerprint;
  $('station').hidden = false;
  $('whoami-name').textContent = S.user.name || 'signed in';
  $('whoami-role').textContent = S.user.role || 'role unknown';
  $('whoami-role').dataset.role = S.user.role || 'unknown';
  $('whoami').hidden = false;
  document.body.dataset.role = S.user.role || 'unknown';
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signin-error').textContent = '';
  $('token').value = '';
  await Promise.all([refreshChannels(), refreshAlerts()]);
  // Reopen what this tab showed last; otherwise the first channel in the list (live ones first).
  const remembered = sessionStorage.getItem('hotline-channel');
  const first = $('channels').firstElementChild;
  const pick = S.channels.has(remembered) ? remembered : (first ? first.dataset.id : null);
  if (sessionStorage.getItem('hotline-view') === 'sharing') await openSharing();
  else if (pick) await openChannel(pick);
  listen();
}

function signOut(message) {
  if (S.es) { S.es.close(); S.es = null; }
  sessionStorage.removeItem('hotline-token');
  Object.assign(S, { token: '', user: null, station: null, current: null, detail: null, view: 'channel' });
  S.channels.clear();
  resetTranscript();
  resetSharing();
  $('channel-view').hidden = true;
  $('empty-view').hidden = false;
  $('conn-error').hidden = true;
  $('app').hidden = true;
  $('alerts').hidden = true;
  $('station').hidden = true;
  $('whoami').hidden = true;
  $('live').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  delete document.body.dataset.role;
  document.title = 'hotline console';
  $('token').focus();
}

/** Shows the station's name on the sign-in card (the health endpoint needs no token). */
async function greet() {
  try {
    const r = await fetch('/v1/health', { cache: 'no-store' });
    const j = await r.json();
    if (j && j.name) $('signin-station').textContent = 'Station ' + j.name;
  } catch (_) { /* the form still works */ }
}

// ---------------------------------------------------------------------------
// Live updates

const dirty = { channels: false, alerts: false, entries: false, sharing: false, reload: false };
let flushTimer = null;
let flushing = false;

function mark(...what) {
  for (const w of what) dirty[w] = true;
  if (!flushTimer && !flushing) flushTimer = setTimeout(flush, DEBOUNCE_MS);
}

/** One refresh for a burst of events; never two at once, and nothing marked is dropped. */
async function flush() {
  flushTimer = null;
  if (!S.user) return;
  flushing = true;
  const d = Object.assign({}, dirty);
  for (const k of Object.keys(dirty)) dirty[k] = false;
  try {
    const jobs = [];
    if (d.channels || d.entries || d.reload) jobs.push(refreshChannels());
    if (d.alerts || d.reload) jobs.push(refreshAlerts());
    if (S.view === 'sharing' && (d.sharing || d.reload)) jobs.push(loadSharing());
    await Promise.all(jobs);
    if (S.current && (d.entries || d.reload)) await loadChannel(S.current, d.reload);
    $('conn-error').hidden = true;
  } catch (e) {
    // Shown apart from action errors, and cleared by the next refresh that works.
    $('conn-error').textContent = 'Could not refresh from the station: ' + e.message + ' The view may be out of date; it catches up when the station answers again.';
    $('conn-error').hidden = !S.user;
  } finally {
    flushing = false;
    if (Object.values(dirty).some(Boolean)) flushTimer = setTimeout(flush, DEBOUNCE_MS);
  }
}

function setLive(state, text) {
  const l = $('live');
  l.hidden = false;
  l.dataset.state = state;
  $('live-text').textContent = text;
}

// EventSource cannot send the token in a header, and a token in a URL ends up
// in logs and histories: the stream takes a single-use ticket instead.
async function listen() {
  let ticket;
  try {
    ticket = (await api('POST', '/v1/events/ticket')).ticket;
  } catch (_) {
    if (S.user) setTimeout(() => { if (S.user && !S.es) listen(); }, 3000);
    return;
  }
  if (!S.user) return;
  if (S.es) S.es.close();
  const es = new EventSource('/v1/events?ticket=' + encodeURIComponent(ticket));
  S.es = es;
  let wasDown = false;
  setLive('connecting', 'connecting');
  es.onopen = () => {
    setLive('live', 'live');
    // Events sent before the stream opened, or while it was down, are lost:
    // catch up once (cursor-based, so this costs only what changed).
    if (wasDown) mark('reload'); else mark('channels', 'alerts', 'entries', 'sharing');
    wasDown = false;
  };
  es.onerror = () => {
    wasDown = true;
    if (es.readyState !== EventSource.CLOSED) { setLive('connecting', 'reconnecting'); return; }
    // The browser gives up on an HTTP error (a revoked token, a station restarting):
    // find out which, then sign out or subscribe again.
    setLive('down', 'disconnected');
    setTimeout(async () => {
      if (S.es !== es || !S.user) return;
      try {
        await api('GET', '/v1/whoami'); // a 401 here signs out with the reason
        listen();
        mark('reload');
      } catch (_) {
        if (S.user) { S.es = null; setTimeout(() => { if (S.user && !S.es) listen(); }, 3000); }
      }
    }, 2000);
  };
  const data = (ev) => { try { return JSON.parse(ev.data); } catch (_) { return {}; } };
  es.addEventListener('entry', (ev) => {
    const d = data(ev);
    mark('channels');
    if (d.channel === S.current) mark('entries');
  });
  for (const t of ['state', 'delivery', 'channel']) {
    es.addEventListener(t, (ev) => {
      const d = data(ev);
      mark('channels');
      if (!d.channel || d.channel === S.current) mark('entries');
    });
  }
  for (const t of ['link', 'peer']) es.addEventListener(t, () => mark('channels', 'entries'));
  // A report published or released, sharing paused or resumed, a partner's code set (engine::share).
  for (const t of ['report', 'sharing', 'peer']) es.addEventListener(t, () => mark('sharing'));
  es.addEventListener('alert', () => mark('alerts', 'channels'));
  // The station dropped events for this slow client: reload everything shown.
  es.addEventListener('lagged', () => mark('reload'));
}

// ---------------------------------------------------------------------------
// Alerts banner

async function refreshAlerts() {
  const j = await api('GET', '/v1/alerts?open=true');
  S.alerts = j.alerts || [];
  renderAlerts();
}

/** Open alerts worth a line: the station keeps the 50 % ack-overdue alert open beside the 100 % one. */
function visibleAlerts() {
  const keys = new Set(S.alerts.map((a) => a.key));
  return S.alerts.filter((a) => !(/:50$/.test(a.key || '') && keys.has(a.key.replace(/:50$/, ':100'))));
}

function renderAlerts() {
  const box = $('alerts');
  const list = $('alert-list');
  const alerts = visibleAlerts().sort((a, b) => b.raised_at - a.raised_at);
  keepFocus(list, () => list.replaceChildren(...alerts.map(alertItem)));
  $('alerts-count').textContent = String(alerts.length);
  box.hidden = alerts.length === 0;
}

/** One open alert; its channel's name opens the channel at the entry the alert is about. */
function alertItem(a) {
  const li = el('li', 'alert');
  li.dataset.kind = a.kind;
  li.dataset.id = String(a.id);
  li.append(el('span', 'alert-kind', String(a.kind || 'alert').toUpperCase()));
  const peer = a.channel && S.channels.get(a.channel);
  if (peer) {
    const b = el('button', 'alert-channel link', peer.peer);
    b.type = 'button';
    b.title = 'open this channel';
    // Alert keys such as ack-overdue:HASH:50 name the entry: show it too.
    const m = /[0-9a-f]{64}/.exec(a.key || '');
    b.addEventListener('click', async () => { await openChannel(a.channel); if (m) reveal(m[0]); });
    li.append(b);
  }
  li.append(el('span', 'alert-cause', a.cause), agoEl(a.raised_at, 'alert-when'));
  return li;
}

// ---------------------------------------------------------------------------
// Channel list

async function refreshChannels() {
  const j = await api('GET', '/v1/channels');
  S.channels = new Map((j.channels || []).map((c) => [c.id, c]));
  renderChannelList();
  renderAlerts(); // peer names in the banner
  // A station's first channel (say, a proposal just arrived) opens by itself, unless the sharing view is open.
  if (!S.current && S.view === 'channel' && S.channels.size === 1 && S.es) openChannel([...S.channels.keys()][0]);
}

const STATE_ORDER = { active: 0, suspended: 1, proposed: 2, terminated: 3 };

function renderChannelList() {
  const ul = $('channels');
  const list = [...S.channels.values()].sort((a, b) =>
    (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || a.peer.localeCompare(b.peer) || a.id.localeCompare(b.id));
  keepFocus(ul, () => ul.replaceChildren(...list.map(channelCard)));
  $('no-channels').hidden = list.length > 0;
  updateTitle();
}

/**
 * Redraws a box (a list, the action buttons) without losing the keyboard focus
 * inside it: the redraw replaces the nodes, and a focus that fell to the page
 * would send a keyboard user back to the top. The focus goes to the same
 * control of the same item (li data-id or data-of), else to the box's first
 * button, say the next message to acknowledge once one is done.
 */
function keepFocus(box, redraw) {
  const f = document.activeElement;
  if (!f || f === box || !box.contains(f)) { redraw(); return; }
  const item = f.closest('li[data-id], li[data-of], tr[data-id]');
  const where = !item ? ''
    : item.localName + (item.dataset.id ? '[data-id="' + CSS.escape(item.dataset.id) + '"] '
      : '[data-of="' + CSS.escape(item.dataset.of) + '"] ');
  const what = f.dataset.action ? '[data-action="' + CSS.escape(f.dataset.action) + '"]'
    : f.classList.length ? '.' + CSS.escape(f.classList[0]) : f.localName;
  redraw();
  // Else the same item's first button (a paused partner's Resume once Pause is done), else the box's.
  const again = box.querySelector(where + what) || (where && box.querySelector(where + 'button')) || box.querySelector('button');
  if (again) again.focus({ preventScroll: true });
}

/**
 * A list item holding one button: the list stays a list of items for assistive
 * technology, and the button brings Tab, Enter and Space with it. Everything
 * inside is phrasing content (spans shown as blocks), as a button requires.
 */
function channelCard(c) {
  const li = el('li', 'channel-item');
  li.dataset.id = c.id;
  li.dataset.state = c.state;
  const shown = c.id === S.current && S.view === 'channel';
  const card = el('button', 'channel-card state-' + c.state + (shown ? ' selected' : ''));
  card.type = 'button';
  if (shown) card.setAttribute('aria-current', 'true');

  const top = el('span', 'card-top');
  top.append(linkDot(c.health), el('span', 'card-peer', c.peer), el('span', 'state-badge s-' + c.state, c.state.toUpperCase()));
  card.append(top);

  if (!c.peer_verified) card.append(el('span', 'unverified-note', '⚠ UNVERIFIED — ROUTINE only'));

  const h = c.health || {};
  const idLine = el('span', 'card-id', 'channel ' + short(c.id));
  idLine.title = c.id;
  card.append(idLine);
  const link = el('span', 'card-line');
  link.append(el('span', 'k', 'link '), el('strong', 'link-' + h.link, h.link || '?'));
  if (h.since) link.append(el('span', null, ' since '), timeEl(h.since));
  card.append(link);

  const contact = el('span', 'card-line');
  contact.append(el('span', 'k', 'from peer '), agoEl(h.last_from_peer), el('span', 'k', ' · to peer '), agoEl(h.last_delivered_to_peer));
  card.append(contact);

  const dl = c.delivery || {};
  const counts = el('span', 'card-counts');
  if (dl.unacknowledged_theirs) counts.append(el('span', 'pill pill-hot', dl.unacknowledged_theirs + ' to acknowledge'));
  if (dl.unacknowledged_ours) counts.append(el('span', 'pill', dl.unacknowledged_ours + ' awaiting their ack'));
  if (dl.queued) counts.append(el('span', 'pill pill-warn', dl.queued + ' queued'));
  const alerts = visibleAlerts().filter((a) => a.channel === c.id).length;
  if (alerts) counts.append(el('span', 'pill pill-alert', alerts + ' alert' + (alerts > 1 ? 's' : '')));
  if (counts.childElementCount) card.append(counts);

  card.addEventListener('click', () => openChannel(c.id));
  li.append(card);
  return li;
}

function linkDot(h) {
  const up = h && h.link === 'up';
  const d = el('span', 'link-dot ' + (up ? 'up' : 'down'));
  d.title = up ? 'link up' : 'link down';
  return d;
}

/** Larger type for a wall display; remembered by this browser, not per user. */
function setWall(on) {
  document.documentElement.classList.toggle('wall', on);
  $('wall-toggle').setAttribute('aria-pressed', String(on));
  localStorage.setItem('hotline-wall', on ? '1' : '0');
}

function updateTitle() {
  let due = 0;
  for (const c of S.channels.values()) due += (c.delivery && c.delivery.unacknowledged_theirs) || 0;
  const name = S.station ? S.station.name : '';
  document.title = (due ? '(' + due + ') ' : '') + 'hotline ' + name;
}

// ---------------------------------------------------------------------------
// Channel view

function resetTranscript() {
  pinned = true;
  S.entries = new Map();
  S.cursor = 0;
  S.nodes = new Map();
  S.ackOf = new Map();
  S.decisionOf = new Map();
  S.translationsOf = new Map();
  $('transcript').replaceChildren();
}

async function openChannel(id) {
  const fromSharing = S.view === 'sharing';
  if (fromSharing) closeSharing();
  if (S.current !== id) {
    S.current = id;
    S.detail = null;
    resetTranscript();
    closeLifecycle();
    for (const f of ['ch-error', 'send-error', 'request-error']) $(f).textContent = '';
    sessionStorage.setItem('hotline-channel', id);
    renderChannelList();
  } else if (fromSharing) {
    renderChannelList();
  }
  $('empty-view').hidden = true;
  $('channel-view').hidden = false;
  try {
    await loadChannel(id, false);
  } catch (e) {
    showError('ch-error', e);
  }
}

/**
 * Fetches the channel's detail and any entries past our cursor, then redraws.
 * Loads run one after another (a click can land during an event-driven
 * refresh), so the cursor and the indexes are never updated twice at once.
 */
let loadChain = Promise.resolve();
function loadChannel(id, full) {
  const run = loadChain.then(() => loadChannelNow(id, full));
  loadChain = run.catch(() => {});
  return run;
}

async function loadChannelNow(id, full) {
  if (full) resetTranscript();
  // Detail first, entries second: every request or unacked message the detail
  // names is then among the entries we hold.
  const detail = await api('GET', '/v1/channels/' + id);
  const fresh = [];
  for (;;) {
    const j = await api('GET', '/v1/channels/' + id + '/entries?after=' + S.cursor + '&limit=' + PAGE);
    if (S.current !== id) return; // the user moved on meanwhile
    for (const e of j.entries) {
      if (!S.entries.has(e.hash)) fresh.push(e);
      S.entries.set(e.hash, e);
      S.cursor = Math.max(S.cursor, e.cursor);
    }
    if (j.entries.length < PAGE) break;
  }
  if (S.current !== id) return;
  S.detail = detail;
  for (const e of fresh) index(e);
  renderChannel();
}

/** Records what an entry refers to, so the entry it refers to can show it. */
function index(e) {
  const b = e.body || {};
  if (e.kind === 'ack' && b.of && !S.ackOf.has(b.of)) S.ackOf.set(b.of, e);
  if (e.kind === 'decision' && b.request) S.decisionOf.set(b.request, e);
  if (e.kind === 'translation' && b.of) {
    if (!S.translationsOf.has(b.of)) S.translationsOf.set(b.of, []);
    S.translationsOf.get(b.of).push(e);
  }
}

/** Terms in force: the detail has them; the open entry is the fallback. */
function terms() {
  if (S.detail && S.detail.terms) return S.detail.terms;
  for (const e of S.entries.values()) if (e.kind === 'open') return e.body.terms;
  return null;
}

function ackWindow(precedence) {
  const t = terms();
  return (t && t.ack_windows_ms && t.ack_windows_ms[precedence]) || 0;
}

/**
 * The delivery state of an entry now. The API's `delivery` is right when the
 * page was fetched; later checkpoints and acks move it on, and rather than
 * re-reading the whole transcript the console applies the station's own rule
 * (engine::entries_json) to the channel summary, never going backwards.
 */
function delivery(e) {
  const states = e.own ? OWN_STATES : THEIR_STATES;
  const dl = (S.detail && S.detail.delivery) || {};
  const deliveredUpto = dl.delivered || 0;
  const sentUpto = deliveredUpto + (dl.sent || 0);
  const acked = e.kind === 'message' && S.ackOf.has(e.hash);
  let derived;
  if (e.own) {
    derived = acked && e.seq <= deliveredUpto ? 'acknowledged'
      : e.seq <= deliveredUpto ? 'delivered'
        : e.seq <= sentUpto ? 'sent' : 'queued';
  } else {
    derived = acked ? 'acknowledged' : 'received';
  }
  return states.indexOf(e.delivery) > states.indexOf(derived) ? e.delivery : derived;
}

function renderChannel() {
  const c = S.detail;
  if (!c) return;
  renderHead(c);
  renderTranscript(c);
  renderAttention(c);
  renderForms(c);
  followTranscript();
}

/**
 * The transcript follows new entries while the reader is at its end, and never
 * yanks them away from an older entry they scrolled back to read.
 */
let pinned = true;
function followTranscript() {
  const ol = $('transcript');
  if (pinned) ol.scrollTop = ol.scrollHeight;
}

function renderHead(c) {
  $('ch-peer').textContent = c.peer;
  const st = $('ch-state');
  st.className = 'state-badge s-' + c.state;
  st.textContent = c.state.toUpperCase();
  st.dataset.state = c.state;

  const v = $('ch-verified');
  v.className = 'verify-badge ' + (c.peer_verified ? 'verified' : 'unverified');
  v.textContent = c.peer_verified ? '✓ peer verified' : '⚠ UNVERIFIED — ROUTINE only';
  v.dataset.verified = String(c.peer_verified);
  $('ch-unverified').hidden = c.peer_verified;

  const h = c.health || {};
  const l = $('ch-link');
  l.replaceChildren(linkDot(h), el('span', null, 'link ' + (h.link || '?')));
  if (h.since) l.append(el('span', 'muted', ' since '), timeEl(h.since));
  l.dataset.link = h.link || '';

  const f = $('ch-facts');
  f.replaceChildren();
  const fact = (k, ...v) => { const s = el('span', 'fact'); s.append(el('span', 'k', k + ' '), ...v); f.append(s); };
  fact('last from peer', agoEl(h.last_from_peer));
  fact('last delivered to peer', agoEl(h.last_delivered_to_peer));
  const dl = c.delivery || {};
  fact('ours', el('strong', null, String(c.entries.ours)), el('span', 'muted', ' (' + dl.queued + ' queued · ' + dl.sent + ' on the wire)'));
  fact('theirs', el('strong', null, String(c.entries.theirs)));
  const t = terms();
  if (t && t.ack_windows_ms) {
    const w = el('span', 'windows');
    for (const p of PRECEDENCES) w.append(el('span', 'win p-' + p, p.slice(0, 1).toUpperCase() + ' ' + fmtWindow(t.ack_windows_ms[p])));
    w.title = 'acknowledgement windows: ' + PRECEDENCES.map((p) => p.toUpperCase() + ' ' + fmtWindow(t.ack_windows_ms[p])).join(', ');
    fact('ack windows', w);
  }
  if (t && t.contact_every_ms) fact('contact every', el('span', null, fmtWindow(t.contact_every_ms)));
  if (t && t.contact_at_utc && t.contact_at_utc.length) fact('contact at', el('span', null, t.contact_at_utc.join(', ') + ' UTC'));
  const idEl = el('code', 'chan-id', short(c.id));
  idEl.title = c.id;
  fact('channel', idEl);

  // Who did what to the channel's state, in words.
  const p = $('ch-proposal');
  p.hidden = true;
  if (c.state === 'proposed') {
    p.hidden = false;
    p.textContent = c.me === 1
      ? c.peer + ' proposes this channel. Review the terms above, then accept it or decline (terminate).'
      : 'Proposed to ' + c.peer + '; waiting for them to accept.';
  } else if (c.state === 'suspended') {
    p.hidden = false;
    const by = (c.suspended_by || []).map((w) => (w === 'us' ? 'this station' : c.peer)).join(' and ');
    p.textContent = 'Suspended by ' + by + '. Only acknowledgements, contact checks and decisions pass until ' + (c.suspended_by.length > 1 ? 'both resume.' : 'it resumes.');
  } else if (c.state === 'terminated') {
    p.hidden = false;
    p.textContent = 'Terminated by ' + (c.terminated_by === 'us' ? 'this station' : c.peer) + '. The transcript stays for the record; nothing more can be written.';
  }
  p.dataset.state = c.state;

  renderActions(c);
}

/** Lifecycle buttons, only those the role and the channel state allow (core::state::check). */
function renderActions(c) {
  const box = $('ch-actions');
  const buttons = [];
  const add = (action, label, cls, run) => {
    const b = el('button', cls, label);
    b.type = 'button';
    b.dataset.action = action;
    b.addEventListener('click', run);
    buttons.push(b);
  };
  if (can('channel')) {
    if (c.state === 'proposed' && c.me === 1) add('accept', 'Accept channel', 'primary', () => act('accept', 'POST', '/accept'));
    if (c.state === 'active') add('suspend', 'Suspend', 'warn-btn', () => openLifecycle('suspend'));
    if (c.state === 'suspended' && (c.suspended_by || []).includes('us')) add('resume', 'Resume', 'primary', () => act('resume', 'POST', '/resume', {}));
    if (c.state !== 'terminated') add('terminate', c.state === 'proposed' ? 'Decline (terminate)' : 'Terminate', 'danger', () => openLifecycle('terminate'));
  }
  keepFocus(box, () => box.replaceChildren(...buttons));
}

let lifecycleAction = null;

function openLifecycle(action) {
  lifecycleAction = action;
  $('lifecycle-prompt').textContent = action === 'terminate'
    ? 'Terminate this channel for good? This cannot be undone.'
    : 'Suspend substantive traffic until this station resumes?';
  const b = $('lifecycle-confirm');
  b.textContent = action === 'terminate' ? 'Terminate channel' : 'Suspend channel';
  b.dataset.action = 'confirm-' + action;
  b.className = action === 'terminate' ? 'danger' : 'warn-btn';
  $('lifecycle-form').hidden = false;
  $('lifecycle-form').dataset.action = action;
  $('lifecycle-reason').value = '';
  $('lifecycle-reason').focus();
}

/** Hides the confirmation; a keyboard user is put back on the button that opened it. */
function closeLifecycle() {
  const form = $('lifecycle-form');
  const back = lifecycleAction && form.contains(document.activeElement)
    ? $('ch-actions').querySelector('[data-action="' + lifecycleAction + '"]') : null;
  lifecycleAction = null;
  form.hidden = true;
  if (back) back.focus();
}

/**
 * Marks a button busy while its request runs; returns the function that frees
 * it, or null when it is busy already (then the press is ignored).
 * aria-disabled rather than disabled: a disabled control drops the keyboard
 * focus to the page, and whoever is at the keyboard would start again from the top.
 */
function hold(button) {
  if (!button) return () => {};
  if (button.getAttribute('aria-disabled') === 'true') return null;
  button.setAttribute('aria-disabled', 'true');
  return () => button.removeAttribute('aria-disabled');
}

/** Performs a channel action, showing the API's sentence if it is refused. */
async function act(name, method, suffix, body, errorId = 'ch-error', button) {
  const id = S.current;
  const release = hold(button);
  if (!release) return false;
  $(errorId).textContent = '';
  try {
    await api(method, '/v1/channels/' + id + suffix, body);
    mark('channels', 'entries');
    return true;
  } catch (e) {
    showError(errorId, e);
    return false;
  } finally {
    release();
  }
}

function showError(id, e) {
  const p = $(id);
  if (p) p.textContent = e && e.message ? e.message : String(e);
}

// ---------------------------------------------------------------------------
// Transcript

/** Merged order (SPEC §4): by lamport, ties by author. */
function ordered() {
  return [...S.entries.values()].sort((a, b) => a.lamport - b.lamport || a.author - b.author);
}

function renderTranscript(c) {
  const ol = $('transcript');
  let prev = null;
  const list = ordered();
  for (const e of list) {
    const sig = signature(e, c);
    let node = S.nodes.get(e.hash);
    if (!node || node.dataset.sig !== sig) {
      const fresh = renderEntry(e, c);
      fresh.dataset.sig = sig;
      // Acknowledging redraws the entry without its button: the focus stays on the entry.
      const focused = node && node.contains(document.activeElement);
      if (node) node.replaceWith(fresh);
      if (focused) { fresh.tabIndex = -1; fresh.focus({ preventScroll: true }); }
      node = fresh;
      S.nodes.set(e.hash, node);
    }
    // Keep DOM order equal to the merged order, moving only what is out of place.
    const want = prev ? prev.nextElementSibling : ol.firstElementChild;
    if (want !== node) {
      if (prev) prev.after(node); else ol.prepend(node);
    }
    prev = node;
  }
  const checks = list.filter((e) => e.kind === 'contact_check').length;
  $('transcript-count').textContent = list.length + ' entries' + (checks ? ' · ' + checks + ' contact checks' : '');
}

/** Everything that changes an entry's rendering after it was first drawn. */
function signature(e, c) {
  const ack = S.ackOf.get(e.hash);
  const dec = S.decisionOf.get(e.hash);
  const open = (c.open_requests || []).some((r) => r.hash === e.hash);
  return [delivery(e), ack ? ack.hash : '', dec ? dec.hash : '', (S.translationsOf.get(e.hash) || []).length,
    c.state, open, S.user && S.user.role, ackWindow((e.body || {}).precedence)].join('|');
}

const KIND_LABEL = {
  open: 'OPEN', accept: 'ACCEPT', ack: 'ACK', translation: 'TRANSLATION', contact_check: 'CONTACT CHECK',
  request: 'REQUEST', decision: 'DECISION', suspend: 'SUSPEND', resume: 'RESUME', terminate: 'TERMINATE',
  report: 'REPORT', sharing_pause: 'SHARING PAUSED', sharing_resume: 'SHARING RESUMED',
  key_rotation: 'KEYS CHANGED', notice: 'NOTICE',
};

function renderEntry(e, c) {
  const b = e.body || {};
  const p = e.kind === 'message' ? (PRECEDENCES.includes(b.precedence) ? b.precedence : 'routine') : null;
  const dstate = delivery(e);
  const li = el('li', 'entry k-' + e.kind + (e.own ? ' own' : ' theirs') + (p ? ' p-' + p : ''));
  li.dataset.hash = e.hash;
  li.dataset.kind = e.kind;
  li.dataset.delivery = dstate;
  li.dataset.own = String(e.own);
  li.dataset.courier = String(Boolean(e.courier));
  if (p) li.dataset.precedence = p;

  const head = el('div', 'entry-head');
  head.append(p ? precLabel(p) : el('span', 'kind-label', KIND_LABEL[e.kind] || String(e.kind).toUpperCase()));
  const who = el('span', 'who');
  who.append(el('strong', 'station-label', e.own ? (S.station ? S.station.name : 'us') : c.peer));
  if (e.own) who.append(el('span', 'us-tag', 'us'));
  if (e.by) who.append(el('span', 'by', ' · ' + e.by));
  head.append(who, timeEl(e.time), el('span', 'grow'));
  if (e.courier) {
    const cb = el('span', 'courier-tag', 'by courier');
    cb.title = 'Came in a courier bundle (hotline bundle import), not over the link';
    head.append(cb);
  }
  const h = el('code', 'hash', short(e.hash));
  h.title = e.hash;
  head.append(h);
  // A counterpart's non-message entry is simply held here; its badge would only be noise.
  if (e.own || e.kind === 'message') {
    const ds = el('span', 'delivery d-' + dstate, dstate);
    ds.title = DELIVERY_HELP[dstate] || '';
    head.append(ds);
  }
  li.append(head);

  const bodyEl = el('div', 'entry-body');
  renderBody(e, b, bodyEl);
  if (bodyEl.childNodes.length) li.append(bodyEl);

  // Translations recorded for this entry, under it.
  for (const t of S.translationsOf.get(e.hash) || []) {
    const tr = el('div', 'translation');
    tr.append(el('span', 'lang', (t.body.lang || '?').toUpperCase()), el('span', 'text', t.body.text));
    li.append(tr);
  }

  if (e.kind === 'message') {
    const foot = el('div', 'entry-foot');
    messageFoot(e, c, p, dstate, foot);
    if (foot.childNodes.length) li.append(foot);
  }
  return li;
}

const DELIVERY_HELP = {
  queued: 'written here, not yet sent to the counterpart',
  sent: 'on the wire: sent, not yet covered by the counterpart\'s checkpoint',
  delivered: 'the counterpart\'s station holds it (covered by its checkpoint)',
  acknowledged: 'a person has acknowledged it',
  received: 'held here; no one here has acknowledged it yet',
};

function messageFoot(e, c, p, dstate, foot) {
  const ack = S.ackOf.get(e.hash);
  const window = ackWindow(p);
  if (ack) {
    const s = el('span', 'acked-by');
    s.append(el('span', null, '✓ acknowledged by ' + (ack.own ? (S.station ? S.station.name : 'us') : c.peer) + (ack.by ? ' / ' + ack.by : '') + ' at '), timeEl(ack.time));
    foot.append(s);
  } else if (window) {
    // The clock starts when the message was stored here (core::book::Unacked).
    const due = e.stored_at + window;
    foot.append(clockEl('ack-clock', due, e.stored_at, e.own ? 'their-ack' : 'ours-ack'));
  }
  if (!e.own && !ack && can('ack') && c.state !== 'terminated' && c.state !== 'proposed') {
    foot.append(ackButton(e));
  }
  if (e.body.reply_to) {
    const r = S.entries.get(e.body.reply_to);
    const s = el('span', 'reply-to', '↳ reply to ' + (r ? gist(r) : short(e.body.reply_to)));
    foot.prepend(s);
  }
}

function ackButton(e, cls) {
  const b = el('button', 'ack-btn primary' + (cls ? ' ' + cls : ''), 'Acknowledge');
  b.type = 'button';
  b.dataset.action = 'ack';
  b.dataset.of = e.hash;
  b.addEventListener('click', (ev) => { ev.stopPropagation(); act('ack', 'POST', '/acks', { of: e.hash }, 'ch-error', b); });
  return b;
}

/** The kind-specific part of an entry. Every string goes in as text. */
function renderBody(e, b, out) {
  const line = (cls, text) => { if (text !== undefined && text !== null && String(text) !== '') out.append(el('div', cls, text)); };
  const ref = (hash) => { const r = S.entries.get(hash); return r ? '“' + gist(r) + '”' : short(hash); };
  switch (e.kind) {
    case 'message':
      line('subject', b.subject);
      line('text', b.text);
      if (b.labels && b.labels.length) {
        const l = el('div', 'labels');
        for (const x of b.labels) l.append(el('span', 'chip', x));
        out.append(l);
      }
      break;
    case 'open': {
      const t = b.terms || {};
      line('sys', 'Channel proposed' + (b.reopens ? ', continuing ' + short(b.reopens) : '') + '.');
      if (t.ack_windows_ms) line('sys small', 'Ack windows: ' + PRECEDENCES.map((p) => p.toUpperCase() + ' ' + fmtWindow(t.ack_windows_ms[p])).join(' · ')
        + (t.contact_every_ms ? ' — contact every ' + fmtWindow(t.contact_every_ms) : '')
        + (t.languages && t.languages.length ? ' — languages ' + t.languages.join(', ') : '')
        + (Array.isArray(t.notice_types) && t.notice_types.length ? ' — notices ' + t.notice_types.map((n) => n.name).join(', ') : ''));
      break;
    }
    case 'accept': line('sys', 'Channel accepted; the line is active.'); break;
    case 'ack': line('sys', 'Acknowledged ' + ref(b.of)); break;
    case 'translation': line('sys', 'Translation (' + (b.lang || '?') + ') of ' + ref(b.of)); line('text', b.text); break;
    case 'contact_check': line('sys', 'Contact check.'); break;
    case 'request': {
      line('subject', b.question);
      if (b.options && b.options.length) {
        const l = el('div', 'labels');
        l.append(el('span', 'k', 'options: '));
        for (const x of b.options) l.append(el('span', 'chip', x));
        out.append(l);
      }
      const d = el('div', 'sys small');
      d.append(el('span', null, 'Deadline '), timeEl(b.deadline), el('span', null, ' — if unanswered the asker will ' + (ON_MISS[b.on_miss] || b.on_miss) + '.'));
      out.append(d);
      const dec = S.decisionOf.get(e.hash);
      if (dec) line('decided', 'Decided: ' + dec.body.choice);
      else if (S.detail && (S.detail.open_requests || []).some((r) => r.hash === e.hash)) {
        out.append(clockEl('deadline-clock', b.deadline, e.stored_at, e.own ? 'deadline' : 'their-deadline'));
      } else line('sys small', 'No longer open.');
      break;
    }
    case 'decision': line('sys', 'Decision on ' + ref(b.request) + ':'); line('subject', b.choice); line('text', b.text); break;
    case 'suspend': line('sys', 'Channel suspended.'); line('text', b.reason); break;
    case 'resume': line('sys', 'Suspension lifted.'); break;
    case 'terminate': line('sys', 'Channel terminated.'); line('text', b.reason); break;
    case 'report': renderReport(b, out); break; // sharing.js
    case 'notice': renderNotice(b, out); break; // notices.js
    case 'sharing_pause': line('sys', 'Sharing paused.'); line('text', b.reason); break;
    case 'sharing_resume': line('sys', 'Sharing resumed' + (b.backfill ? ', with backfill.' : '.')); break;
    case 'key_rotation':
      line('sys', (e.own ? 'This station' : c.peer) + ' changed its keys at ' + new Date(e.time).toISOString()
        + ', signed by the old key and the new one. From here on only the new key signs'
        + (e.own ? '.' : '; its pin here moved with this entry.'));
      line('text', 'New fingerprint: ' + (b.new_fingerprint || b.new_token));
      break;
    default: line('sys', 'Entry of kind ' + e.kind + '.');
  }
}

// ---------------------------------------------------------------------------
// Needs-attention pane

function renderAttention(c) {
  const all = ordered();
  const unackedTheirs = all.filter((e) => e.kind === 'message' && !e.own && !S.ackOf.has(e.hash));
  const unackedOurs = all.filter((e) => e.kind === 'message' && e.own && !S.ackOf.has(e.hash));
  // Most urgent first: the one whose clock runs out soonest, FLASH before ROUTINE on ties.
  const due = (e) => e.stored_at + ackWindow(e.body.precedence);
  const urgent = (a, b) => due(a) - due(b) || PRECEDENCES.indexOf(a.body.precedence) - PRECEDENCES.indexOf(b.body.precedence);
  unackedTheirs.sort(urgent);
  unackedOurs.sort(urgent);

  const fill = (listId, countId, items, render, empty, sig = (x) => x.hash) => {
    const ul = $(listId);
    const key = [c.state, S.user && S.user.role, ...items.map(sig)].join('|');
    if (ul.dataset.sig === key) return;
    ul.dataset.sig = key;
    keepFocus(ul, () => ul.replaceChildren(...(items.length ? items.map(render) : [el('li', 'empty', empty)])));
    $(countId).textContent = items.length ? String(items.length) : '';
  };

  const canAck = can('ack') && c.state !== 'terminated' && c.state !== 'proposed';
  fill('awaiting-us', 'awaiting-us-count', unackedTheirs, (e) => {
    const li = attnItem(e);
    const row = el('div', 'attn-row');
    row.append(clockEl('ack-clock', due(e), e.stored_at, 'ours-ack'));
    if (canAck) row.append(ackButton(e, 'small-btn'));
    li.append(row);
    return li;
  }, 'Nothing waiting for us.');

  const reqs = (c.open_requests || []).slice().sort((a, b) => a.deadline - b.deadline);
  const canDecide = can('channel') && (c.state === 'active' || c.state === 'suspended');
  fill('decide-list', 'decide-count', reqs.filter((r) => !r.ours), (r) => decideItem(r, canDecide), 'No open requests from ' + c.peer + '.');
  fill('asked-list', 'asked-count', reqs.filter((r) => r.ours), (r) => {
    const e = S.entries.get(r.hash);
    const li = el('li', 'attn-item');
    li.dataset.of = r.hash;
    li.append(showButton(r.hash, e ? e.body.question : short(r.hash)));
    const row = el('div', 'attn-row');
    row.append(clockEl('deadline-clock', r.deadline, e && e.stored_at, 'deadline'), el('span', 'muted small', 'then ' + (ON_MISS[r.on_miss] || r.on_miss)));
    li.append(row);
    return li;
  }, 'None.');

  fill('awaiting-them', 'awaiting-them-count', unackedOurs, (e) => {
    const li = attnItem(e);
    const row = el('div', 'attn-row');
    row.append(clockEl('ack-clock', due(e), e.stored_at, 'their-ack'));
    const d = delivery(e);
    row.append(el('span', 'delivery d-' + d, d));
    li.append(row);
    return li;
  }, 'Nothing outstanding.', (e) => e.hash + delivery(e));
}

function attnItem(e) {
  const li = el('li', 'attn-item p-' + e.body.precedence);
  li.dataset.of = e.hash;
  li.append(showButton(e.hash, precLabel(e.body.precedence), el('span', null, gist(e))));
  return li;
}

/** An attention item's title: a button (so Tab and Enter reach it too) that shows its entry. */
function showButton(hash, ...content) {
  const b = el('button', 'attn-title attn-show');
  b.type = 'button';
  b.dataset.action = 'show';
  b.title = 'show in the transcript';
  b.append(...content);
  b.addEventListener('click', () => reveal(hash));
  return b;
}

/**
 * Scrolls the transcript to an entry, briefly highlights it and moves the
 * focus there, so that Tab goes on from the entry (to its Acknowledge button).
 */
function reveal(hash) {
  const n = S.nodes.get(hash);
  if (!n) return;
  n.scrollIntoView({ block: 'center', behavior: 'smooth' });
  n.classList.remove('highlight');
  void n.offsetWidth; // restart the highlight animation
  n.classList.add('highlight');
  n.tabIndex = -1;
  n.focus({ preventScroll: true });
}

/** A counterpart request: its question, its deadline, and (if the role may) the answer form. */
function decideItem(r, canDecide) {
  const e = S.entries.get(r.hash);
  const b = (e && e.body) || {};
  const li = el('li', 'attn-item decide-item');
  li.dataset.of = r.hash;
  li.append(showButton(r.hash, b.question || short(r.hash)));
  const row = el('div', 'attn-row');
  row.append(clockEl('deadline-clock', r.deadline, e && e.stored_at, 'their-deadline'),
    el('span', 'muted small', 'if missed they will ' + (ON_MISS[r.on_miss] || r.on_miss)));
  li.append(row);
  if (!canDecide) return li;

  const f = el('form', 'decide-form');
  f.dataset.request = r.hash;
  const note = el('input', 'decide-note');
  note.type = 'text';
  note.placeholder = 'note (optional)';
  note.maxLength = 4000;
  const err = el('p', 'form-error');
  err.id = 'decide-error-' + short(r.hash);
  const send = async (choice, button) => {
    err.textContent = '';
    if (!choice.trim()) { err.textContent = 'Give an answer.'; return; }
    const release = hold(button);
    if (!release) return;
    try {
      await api('POST', '/v1/channels/' + S.current + '/decisions', { request: r.hash, choice, text: note.value });
      mark('channels', 'entries');
    } catch (x) {
      err.textContent = x.message;
    } finally {
      release();
    }
  };
  const opts = el('div', 'decide-options');
  if (b.options && b.options.length) {
    for (const o of b.options) {
      const btn = el('button', 'choice', o);
      btn.type = 'button';
      btn.dataset.action = 'decide';
      btn.dataset.choice = o;
      btn.addEventListener('click', () => send(o, btn));
      opts.append(btn);
    }
    f.append(opts, note);
    f.addEventListener('submit', (ev) => ev.preventDefault());
  } else {
    const answer = el('input', 'decide-answer');
    answer.type = 'text';
    answer.placeholder = 'answer';
    answer.required = true;
    const btn = el('button', 'primary', 'Decide');
    btn.type = 'submit';
    btn.dataset.action = 'decide';
    opts.append(answer, btn);
    f.append(opts, note);
    f.addEventListener('submit', (ev) => { ev.preventDefault(); send(answer.value, btn); });
  }
  f.append(err);
  li.append(f);
  return li;
}

// ---------------------------------------------------------------------------
// Forms

/** Shows only the forms and choices the role and the channel state allow. */
function renderForms(c) {
  const canSendAny = can('send', 'routine');
  const open = c.state === 'active';
  const form = $('send-form');
  form.hidden = !(canSendAny && open);
  const why = $('send-disabled');
  why.hidden = !form.hidden;
  if (!canSendAny) why.textContent = 'Read only: the ' + (S.user.role || '') + ' role cannot send.';
  else if (c.state === 'suspended') why.textContent = 'Channel suspended: messages cannot be sent until it is resumed.';
  else if (c.state === 'proposed') why.textContent = 'Messages can be sent once the channel is accepted.';
  else if (c.state === 'terminated') why.textContent = 'Channel terminated: nothing more can be sent.';

  // Precedence choices: the role's (no FLASH for operators) and, on an unverified line, ROUTINE only.
  const sel = $('send-precedence');
  const allowed = PRECEDENCES.slice().reverse()
    .filter((p) => can('send', p))
    .filter((p) => c.peer_verified || p === 'routine');
  const have = [...sel.options].map((o) => o.value).join(',');
  if (have !== allowed.join(',')) {
    const keep = sel.value;
    sel.replaceChildren();
    for (const p of allowed) {
      const o = el('option', null, p.toUpperCase());
      o.value = p;
      sel.append(o);
    }
    sel.value = allowed.includes(keep) ? keep : 'routine';
  }
  paintPrecedence();
  const note = $('send-note');
  note.hidden = c.peer_verified && can('send', 'flash');
  note.textContent = !c.peer_verified ? 'Peer not verified: ROUTINE only.'
    : !can('send', 'flash') ? 'FLASH needs the principal or admin role.' : '';

  $('request-box').hidden = !(can('channel') && open);
  renderNoticeBox(c); // notices.js
}

function paintPrecedence() {
  const f = $('send-form');
  for (const p of PRECEDENCES) f.classList.toggle('p-' + p, $('send-precedence').value === p);
}

async function sendMessage(ev) {
  ev.preventDefault();
  const button = $('send-button');
  const text = $('send-text');
  const subject = $('send-subject');
  const precedence = $('send-precedence').value || 'routine';
  $('send-error').textContent = '';
  if (!text.value.trim()) { $('send-error').textContent = 'Write the message text first.'; text.focus(); return; }
  const release = hold(button);
  if (!release) return;
  try {
    await api('POST', '/v1/channels/' + S.current + '/messages', { precedence, subject: subject.value, text: text.value });
    text.value = '';
    subject.value = '';
    // A FLASH is deliberate each time: do not leave the form primed for another.
    $('send-precedence').value = 'routine';
    paintPrecedence();
    mark('channels', 'entries');
  } catch (e) {
    showError('send-error', e);
  } finally {
    release();
    text.focus();
  }
}

async function sendRequest(ev) {
  ev.preventDefault();
  const question = $('request-question').value.trim();
  const options = $('request-options').value.split(',').map((s) => s.trim()).filter(Boolean);
  const deadline = $('request-deadline').value.trim();
  const onMiss = $('request-onmiss').value;
  $('request-error').textContent = '';
  const ok = await act('request', 'POST', '/requests', { question, options, deadline, on_miss: onMiss }, 'request-error', $('request-button'));
  if (ok) {
    $('request-question').value = '';
    $('request-options').value = '';
  }
}

async function submitLifecycle(ev) {
  ev.preventDefault();
  const action = lifecycleAction;
  if (!action) return;
  const ok = await act(action, 'POST', '/' + action, { reason: $('lifecycle-reason').value.trim() }, 'ch-error', $('lifecycle-confirm'));
  if (ok) closeLifecycle();
}

// ---------------------------------------------------------------------------
// Wiring

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const release = hold($('signin-button'));
  if (!release) return;
  try {
    await signIn($('token').value.trim());
  } catch (err) {
    S.token = '';
    S.user = null;
    $('signin-error').textContent = err.message;
  } finally {
    release();
  }
});
$('signout').addEventListener('click', () => signOut(''));
$('wall-toggle').addEventListener('click', () => setWall(!document.documentElement.classList.contains('wall')));
setWall(localStorage.getItem('hotline-wall') === '1');
$('send-form').addEventListener('submit', sendMessage);
$('send-precedence').addEventListener('change', paintPrecedence);
$('send-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $('send-form').requestSubmit(); }
});
$('request-form').addEventListener('submit', sendRequest);
$('lifecycle-form').addEventListener('submit', submitLifecycle);
$('lifecycle-cancel').addEventListener('click', closeLifecycle);
$('lifecycle-form').addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); closeLifecycle(); } });
$('transcript').addEventListener('scroll', () => {
  const ol = $('transcript');
  pinned = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
});
// The pane changes size when the header wraps, alerts come and go, or the type grows.
new ResizeObserver(followTranscript).observe($('transcript'));
$('show-checks').addEventListener('change', (e) => $('transcript').classList.toggle('hide-checks', !e.target.checked));
wireSharing();
wireNotices();

tick();
setInterval(tick, 1000);

// A link such as http://127.0.0.1:7811/#token=… (hotline demo prints one) signs in
// directly; the token is taken out of the address bar at once.
if (location.hash.startsWith('#token=')) {
  S.token = decodeURIComponent(location.hash.slice(7));
  history.replaceState(null, '', location.pathname);
}
if (S.token) {
  signIn(S.token).catch((err) => {
    S.token = '';
    S.user = null;
    sessionStorage.removeItem('hotline-token');
    $('signin-error').textContent = err.message;
    greet();
  });
} else {
  greet();
}
