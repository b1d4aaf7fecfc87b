'use strict';
// hotline console. Every piece of counterpart text goes through textContent, never innerHTML.
const S = { token: sessionStorage.getItem('hotline-token') || '', me: null, channel: null, channels: [], entries: [], es: null };
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; }
async function api(method, path, body) {
  const r = await fetch(path, { method, headers: Object.assign({ 'Authorization': 'Bearer ' + S.token }, body ? { 'Content-Type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined });
  const t = await r.text(); let j = null; try { j = JSON.parse(t); } catch (_) { j = t; }
  if (!r.ok) throw new Error((j && j.error) || ('HTTP ' + r.status));
  return j;
}
async function signIn(token) {
  S.token = token;
  const id = await api('GET', '/v1/identity');
  sessionStorage.setItem('hotline-token', token);
  $('station').textContent = id.name + ' — ' + id.fingerprint;
  $('signin').hidden = true; $('app').hidden = false;
  await refreshChannels(); await refreshAlerts(); listen();
}
async function refreshChannels() {
  const j = await api('GET', '/v1/channels'); S.channels = j.channels;
  const ul = $('channels'); ul.replaceChildren();
  for (const c of S.channels) {
    const li = el('li', c.state); li.dataset.id = c.id;
    li.append(el('strong', null, c.peer), el('span', 'meta', ' ' + c.state + ' · link ' + c.health.link));
    if (!c.peer_verified) li.append(el('div', 'warn', 'peer not verified — ROUTINE only'));
    li.onclick = () => openChannel(c.id); ul.append(li);
  }
  if (S.channel) await openChannel(S.channel);
}
async function refreshAlerts() {
  const j = await api('GET', '/v1/alerts?open=true'); const box = $('alerts'); box.replaceChildren();
  for (const a of j.alerts) box.append(el('div', null, a.kind + ': ' + a.cause));
  box.hidden = j.alerts.length === 0;
}
async function openChannel(id) {
  S.channel = id;
  const c = await api('GET', '/v1/channels/' + id);
  let all = [], after = 0;
  for (;;) { const j = await api('GET', '/v1/channels/' + id + '/entries?limit=1000&after=' + after); if (!j.entries.length) break; all = all.concat(j.entries); after = j.entries[j.entries.length - 1].cursor; }
  all.sort((a, b) => a.lamport - b.lamport || a.author - b.author);
  const v = $('channel-view'); v.replaceChildren();
  v.append(el('h2', null, c.peer + ' — ' + c.state));
  v.append(el('div', 'meta', 'link ' + c.health.link + ' · ours ' + c.entries.ours + ' · theirs ' + c.entries.theirs + ' · queued ' + c.delivery.queued + ' · delivered ' + c.delivery.delivered));
  const f = el('form', 'inline'); const prec = el('select'); for (const p of ['routine', 'priority', 'immediate', 'flash']) { const o = el('option', null, p); o.value = p; prec.append(o); }
  const subj = el('input'); subj.placeholder = 'subject'; const text = el('input'); text.placeholder = 'message'; text.required = true; text.id = 'send-text';
  const b = el('button', null, 'Send'); b.type = 'submit'; f.append(prec, subj, text, b);
  f.onsubmit = async (e) => { e.preventDefault(); try { await api('POST', '/v1/channels/' + id + '/messages', { precedence: prec.value, subject: subj.value, text: text.value }); text.value = ''; } catch (err) { alert(err.message); } };
  v.append(f);
  const list = el('div'); v.append(list);
  for (const e of all) list.append(renderEntry(e));
}
function renderEntry(e) {
  const b = e.body || {}; const p = b.precedence || '';
  const d = el('div', 'entry ' + p); d.dataset.hash = e.hash;
  const head = el('div', 'meta');
  if (p) head.append(el('span', 'label ' + p, p.toUpperCase()));
  head.append(el('span', null, (e.own ? 'us' : 'them') + ' · ' + e.kind + ' · ' + e.by + ' · ' + new Date(e.time).toISOString() + ' · ' + e.delivery));
  d.append(head);
  if (b.subject) d.append(el('div', null, b.subject));
  if (b.text) d.append(el('div', 'text', b.text));
  if (b.reason) d.append(el('div', 'text', b.reason));
  if (b.question) d.append(el('div', 'text', b.question));
  if (e.kind === 'message' && !e.own && e.delivery !== 'acknowledged') {
    const a = el('button', null, 'Acknowledge'); a.onclick = async () => { try { await api('POST', '/v1/channels/' + S.channel + '/acks', { of: e.hash }); } catch (err) { alert(err.message); } };
    d.append(a);
  }
  return d;
}
function listen() {
  if (S.es) S.es.close();
  S.es = new EventSource('/v1/events?token=' + encodeURIComponent(S.token));
  let pending = null;
  const later = () => { if (pending) return; pending = setTimeout(async () => { pending = null; await refreshChannels(); await refreshAlerts(); }, 100); };
  for (const t of ['entry', 'state', 'alert', 'delivery', 'link', 'channel', 'peer']) S.es.addEventListener(t, later);
}
$('signin-form').onsubmit = async (e) => { e.preventDefault(); try { await signIn($('token').value.trim()); } catch (err) { $('signin-error').textContent = err.message; } };
if (location.hash.startsWith('#token=')) { S.token = decodeURIComponent(location.hash.slice(7)); history.replaceState(null, '', location.pathname); }
if (S.token) signIn(S.token).catch((err) => { S.token = ''; sessionStorage.removeItem('hotline-token'); $('signin-error').textContent = err.message; });
