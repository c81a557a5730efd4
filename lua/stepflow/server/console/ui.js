// Small DOM helpers and the formats the pages share. Data from the server
// (names, inputs, errors) only ever becomes text nodes.

/**
 * An element: h('a', {href: '#/', class: 'c-link', onclick: fn}, 'text', child, [more]).
 * Attributes starting with "on" are listeners; null and false children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of an element. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** A date (epoch seconds, as the API gives them) as local time with milliseconds. */
export function fmtDate(seconds) {
  if (seconds === undefined || seconds === null) return '-';
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A duration in milliseconds as HH:MM:SS.mmm (days first when longer). */
export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '-';
  ms = Math.max(0, Math.round(ms));
  const days = Math.floor(ms / 86400000);
  const rest = ms % 86400000;
  const text = `${pad(Math.floor(rest / 3600000))}:${pad(Math.floor(rest / 60000) % 60)}:`
    + `${pad(Math.floor(rest / 1000) % 60)}.${pad(rest % 1000, 3)}`;
  return days > 0 ? `${days}d ${text}` : text;
}

export const STATUS_TEXT = {
  RUNNING: 'Running', SUCCEEDED: 'Succeeded', FAILED: 'Failed', TIMED_OUT: 'Timed out',
  ABORTED: 'Aborted', PENDING_REDRIVE: 'Pending redrive',
};

/** An execution status as a coloured badge. */
export function badge(status) {
  return h('span', { class: `c-badge c-badge-${(status || 'unknown').toLowerCase()}` },
    STATUS_TEXT[status] || status || 'Unknown');
}

/** JSON text pretty-printed (text that is not JSON is shown as it is). */
export function pretty(text) {
  if (text === undefined || text === null) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (e) {
    return String(text);
  }
}

/** A block of JSON (or other) text. */
export function codeBlock(text, cls) {
  return h('pre', { class: `c-code ${cls || ''}` }, text);
}

/** An alert box: kind 'error' | 'info' | 'success' | 'warning'. */
export function alertBox(kind, title, message) {
  return h('div', { class: `c-alert c-alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    title ? h('strong', null, title) : null, message ? h('div', null, message) : null);
}

/** An ApiError as an alert. */
export function errorBox(err) {
  return alertBox('error', err.code || 'Error', err.message);
}

/** A card: a titled section with optional actions on the right. */
export function card(title, actions, ...body) {
  return h('section', { class: 'c-card' },
    title || actions ? h('header', { class: 'c-card-head' }, h('h2', null, title), h('div', { class: 'c-actions' }, actions)) : null,
    h('div', { class: 'c-card-body' }, body));
}

/** A key-value list: [[label, value], ...] (null values left out). */
export function details(pairs) {
  // a long code (an ARN) gets two columns rather than breaking anywhere
  const wide = (v) => v instanceof Node && v.tagName === 'CODE' && v.textContent.length > 40;
  return h('dl', { class: 'c-details' }, pairs.filter((p) => p && p[1] !== null && p[1] !== undefined)
    .map(([k, v]) => h('div', { class: wide(v) ? 'c-wide' : null }, h('dt', null, k), h('dd', null, v))));
}

/** A table: columns [{title, cell(row) -> node|text, cls}], rows, and what to say when empty. */
export function table(columns, rows, empty, rowAttrs) {
  return h('table', { class: 'c-table' },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.cls }, c.title)))),
    h('tbody', null, rows.length === 0
      ? h('tr', null, h('td', { colspan: columns.length, class: 'c-empty' }, empty))
      : rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null, columns.map((c) => h('td', { class: c.cls }, c.cell(r)))))));
}

/** The last part of an ARN (a state machine's or execution's name). */
export const nameOf = (arn) => (arn || '').split(':').pop();

/** The state machine ARN of an execution ARN. */
export function machineOfExecution(arn) {
  const parts = arn.split(':');
  return [...parts.slice(0, 5), 'stateMachine', parts[6]].join(':');
}

export const machineLink = (arn) => `#/state-machines/${encodeURIComponent(arn)}`;
export const executionLink = (arn) => `#/executions/${encodeURIComponent(arn)}`;

/**
 * Calls fn now and again `ms` after each call ends, until the returned
 * stop() or until fn returns false. Never two calls at once.
 */
export function poll(fn, ms) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    timer = null;
    let again = true;
    try {
      again = (await fn()) !== false;
    } catch (e) {
      again = true;
    }
    if (!stopped && again) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/** A JSON editor: a text area that says whether its text is JSON, and where it is not. */
export function jsonEditor(initial, { rows = 12, label, onchange } = {}) {
  const area = h('textarea', { class: 'c-editor', rows, spellcheck: 'false', 'aria-label': label || 'JSON' });
  area.value = initial;
  const note = h('div', { class: 'c-editor-note' });
  const check = () => {
    const error = jsonError(area.value);
    note.className = `c-editor-note ${error ? 'c-invalid' : 'c-valid'}`;
    fill(note, error || 'Valid JSON');
    if (onchange) onchange(!error);
    return !error;
  };
  area.addEventListener('input', check);
  const format = h('button', { type: 'button', class: 'c-button c-small', onclick: () => {
    if (!jsonError(area.value)) area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    check();
  } }, 'Format JSON');
  const el = h('div', { class: 'c-editor-box' }, area, h('div', { class: 'c-editor-bar' }, note, format));
  setTimeout(check);
  return { el, area, check, value: () => area.value };
}

/**
 * Where a text stops being JSON and what was expected there: {at, expected}
 * (at is the text's length when it ends too early), or null when it is
 * JSON. A scanner of RFC 8259's grammar: the browser's own message does
 * not always say where.
 */
export function jsonProblem(text) {
  let i = 0;
  const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i += 1; };
  const fail = (expected) => { throw { at: i, expected }; };
  const word = (w) => {
    for (let k = 0; k < w.length; k += 1, i += 1) if (text[i] !== w[k]) fail(`'${w}'`);
  };
  const string = () => {
    i += 1;
    for (;;) {
      if (i >= text.length) fail('a closing \'"\'');
      const c = text[i];
      if (c === '"') { i += 1; return; }
      if (c < ' ') fail('a control character escaped (\\n, \\t, \\u0001, ...)');
      if (c === '\\') {
        i += 1;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('four hexadecimal digits after \\u');
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i])) i += 1;
        else fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u');
      } else i += 1;
    }
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i += 1; ws();
      if (text[i] === '}') { i += 1; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a property name in double quotes');
        string(); ws();
        if (text[i] !== ':') fail("':'");
        i += 1; value(); ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === '}') { i += 1; return; }
        fail("',' or '}'");
      }
    } else if (c === '[') {
      i += 1; ws();
      if (text[i] === ']') { i += 1; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === ']') { i += 1; return; }
        fail("',' or ']'");
      }
    } else if (c === '"') string();
    else if (c === 't') word('true');
    else if (c === 'f') word('false');
    else if (c === 'n') word('null');
    else {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail('a value (object, array, string, number, true, false or null)');
      i += m[0].length;
    }
  };
  try {
    value(); ws();
    if (i < text.length) fail('the end of the text');
    return null;
  } catch (p) {
    if (typeof p.at !== 'number') throw p;
    return p;
  }
}

/** Why a text is not JSON, with the line and column where it goes wrong; or null. */
export function jsonError(text) {
  const p = jsonProblem(text);
  if (!p) return null;
  const before = text.slice(0, p.at).split('\n');
  const found = p.at >= text.length ? 'the end of the text' : JSON.stringify(text[p.at]).replace(/^"(.*)"$/, "'$1'").replace(/\\"/, '"');
  return `Invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: `
    + `expected ${p.expected}, found ${found}`;
}
