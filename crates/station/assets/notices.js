'use strict';
// hotline console: structured notices (SPEC §4 v2). A notice in the
// transcript reads as a card, its fields under the titles its schema gives
// them; the attention pane has a form for each notice type the channel
// agreed, built from that type's JSON Schema (the one in the channel's
// terms, the same text both stations judge notices by).
//
// The page loads this file before console.js, and it only defines
// functions: console.js owns the state (S), the API calls and the wiring,
// and calls wireNotices() once. The safety rule is console.js's: whatever
// the counterpart wrote, and whatever its schema says, reaches the page
// through textContent or an attribute value only.

/** The agreed notice types of the open channel: [{name, hash, schema}]. */
function noticeTypes() {
  const t = terms() || {};
  return Array.isArray(t.notice_types) ? t.notice_types : [];
}

/** The schema of notice type `name` in the open channel, or null. */
function noticeSchema(name) {
  const t = noticeTypes().find((x) => x.name === name);
  return t && t.schema && typeof t.schema === 'object' ? t.schema : null;
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A schema's property names in reading order. The views carry a schema as a
 * JSON value whose keys come sorted, so the order is its `required` list
 * (an array keeps the author's order), then the optional ones.
 */
function propOrder(schema) {
  const props = schema && isObj(schema.properties) ? schema.properties : {};
  const req = Array.isArray(schema && schema.required) ? schema.required.filter((k) => k in props) : [];
  return req.concat(Object.keys(props).filter((k) => !req.includes(k)));
}

/** A position as people read one: 48.5° N, 37.9° E. */
function fmtPoint(v) {
  const deg = (x, pos, neg) => Math.abs(x) + '° ' + (x < 0 ? neg : pos);
  return deg(v.lat, 'N', 'S') + ', ' + deg(v.lon, 'E', 'W') + ' (WGS84)';
}

/** A field's value as one line of text; `schema` gives nested fields their titles. */
function fmtNoticeValue(v, schema) {
  if (isObj(v)) {
    const keys = Object.keys(v);
    const order = propOrder(schema).filter((k) => k in v).concat(keys.filter((k) => !(schema && isObj(schema.properties) && k in schema.properties)));
    if (typeof v.lat === 'number' && typeof v.lon === 'number' && keys.length === 2) return fmtPoint(v);
    if (typeof v.from === 'string' && typeof v.to === 'string' && keys.length === 2) return v.from + ' → ' + v.to;
    const props = (schema && isObj(schema.properties)) ? schema.properties : {};
    return order.map((k) => ((props[k] && props[k].title) || k) + ': ' + fmtNoticeValue(v[k], props[k])).join(' · ');
  }
  if (Array.isArray(v)) return v.map((x) => fmtNoticeValue(x, schema && schema.items)).join(', ');
  return String(v);
}

/** A notice entry as a card: the type's title, its id, then each field under its title. */
function renderNotice(b, out) {
  const schema = noticeSchema(b.type);
  const card = el('div', 'notice-card');
  const head = el('div', 'notice-head');
  head.append(el('span', 'subject', (schema && schema.title) || b.type), el('span', 'chip notice-type', b.type));
  card.append(head);
  const n = b.notice;
  if (!isObj(n)) {
    card.append(el('div', 'text', String(n)));
    out.append(card);
    return;
  }
  const props = (schema && isObj(schema.properties)) ? schema.properties : {};
  // The schema's order first, then anything it does not name.
  const keys = propOrder(schema).filter((k) => k in n).concat(Object.keys(n).filter((k) => !(k in props)));
  const dl = el('dl', 'notice-fields');
  for (const k of keys) {
    const row = el('div', 'notice-field');
    row.dataset.field = k;
    row.append(el('dt', null, (props[k] && props[k].title) || k), el('dd', null, fmtNoticeValue(n[k], props[k])));
    dl.append(row);
  }
  card.append(dl);
  out.append(card);
}

// ---------------------------------------------------------------------------
// Authoring

/** Which type the form was last built for, so a redraw keeps what was typed. */
let noticeFormFor = '';

/** Shows the notice form when the channel agreed types and the role may send. */
function renderNoticeBox(c) {
  const types = noticeTypes();
  const box = $('notice-box');
  box.hidden = !(types.length && c.state === 'active' && can('send', 'routine'));
  if (box.hidden) return;
  const sel = $('notice-type');
  const names = types.map((t) => t.name);
  if ([...sel.options].map((o) => o.value).join(',') !== names.join(',')) {
    const keep = sel.value;
    sel.replaceChildren();
    for (const t of types) {
      const o = el('option', null, ((t.schema && t.schema.title) || t.name) + ' (' + t.name + ')');
      o.value = t.name;
      sel.append(o);
    }
    sel.value = names.includes(keep) ? keep : names[0];
  }
  if (noticeFormFor !== S.current + ' ' + sel.value) buildNoticeFields();
}

/** The fields of the chosen type's schema, nested objects as fieldsets. */
function buildNoticeFields() {
  const name = $('notice-type').value;
  noticeFormFor = S.current + ' ' + name;
  const box = $('notice-fields');
  box.replaceChildren();
  const schema = noticeSchema(name);
  if (schema) box.append(...noticeInputs(schema, []));
  $('notice-error').textContent = '';
}

/** The inputs for an object schema's properties at `path`. */
function noticeInputs(schema, path) {
  const props = isObj(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required : [];
  const out = [];
  for (const k of propOrder(schema)) {
    const p = props[k];
    if (!isObj(p)) continue;
    const at = path.concat(k);
    const id = 'nf-' + at.join('-');
    const title = (p.title || k) + (required.includes(k) ? '' : ' (optional)');
    if (p.type === 'object') {
      const fs = el('fieldset', 'notice-group');
      fs.append(el('legend', null, title), ...noticeInputs(p, at));
      out.push(fs);
      continue;
    }
    const label = el('label', null, title);
    label.htmlFor = id;
    let input;
    if (Array.isArray(p.enum)) {
      input = el('select');
      for (const v of [''].concat(p.enum)) {
        const o = el('option', null, v === '' ? '—' : String(v));
        o.value = String(v);
        input.append(o);
      }
    } else {
      input = el('input');
      if (p.type === 'number' || p.type === 'integer') {
        input.type = 'number';
        input.step = p.type === 'integer' ? '1' : 'any';
        if (typeof p.minimum === 'number') input.min = String(p.minimum);
        if (typeof p.maximum === 'number') input.max = String(p.maximum);
      } else {
        input.type = 'text';
        if (p.format === 'date-time') input.placeholder = 'YYYY-MM-DDThh:mm:ssZ';
      }
    }
    input.id = id;
    input.dataset.path = JSON.stringify(at);
    input.dataset.kind = p.type || 'string';
    if (p.description) input.title = p.description;
    const row = el('div', 'notice-input');
    row.append(label, input);
    out.push(row);
  }
  return out;
}

/** The notice as the form holds it; an empty field is left out (the station names what is missing). */
function noticeValue() {
  const v = {};
  for (const input of $('notice-fields').querySelectorAll('[data-path]')) {
    const raw = input.value.trim();
    if (raw === '') continue;
    const path = JSON.parse(input.dataset.path);
    let x = raw;
    if (input.dataset.kind === 'number' || input.dataset.kind === 'integer') x = Number(raw);
    let o = v;
    for (const k of path.slice(0, -1)) o = (o[k] = isObj(o[k]) ? o[k] : {});
    o[path[path.length - 1]] = x;
  }
  return v;
}

async function sendNotice(ev) {
  ev.preventDefault();
  $('notice-error').textContent = '';
  const body = { type: $('notice-type').value, notice: noticeValue() };
  const ok = await act('notice', 'POST', '/notices', body, 'notice-error', $('notice-button'));
  if (ok) buildNoticeFields();
}

function wireNotices() {
  $('notice-form').addEventListener('submit', sendNotice);
  $('notice-type').addEventListener('change', buildNoticeFields);
}
