// Executions: the list of one state machine's, or of every standard
// machine's, with a status filter (ListExecutions' statusFilter) and a
// search by name; refreshed every few seconds.
import * as api from './api.js';
import { h, fill, fmtDate, fmtDuration, badge, errorBox, card, table, executionLink, machineLink, nameOf, poll, STATUS_TEXT } from './ui.js';

const REFRESH_MS = 3000;
const PAGE = 100;

function setQuery(params) {
  const [path] = location.hash.split('?');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const text = q.toString();
  history.replaceState(null, '', `${path}${text ? `?${text}` : ''}`);
}

/**
 * The list in `container`: {stateMachineArn} for one machine's (else
 * every standard machine's), `query` the address's status= and q=,
 * `title` the card's (null: none).
 * Returns a function that stops its refreshing.
 */
export function executionList(container, { stateMachineArn, query, title = 'Executions' } = {}) {
  const status = h('select', { class: 'c-select', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Any status'),
    Object.entries(STATUS_TEXT).filter(([k]) => k !== 'PENDING_REDRIVE').map(([k, v]) => h('option', { value: k }, v)));
  const search = h('input', { type: 'search', class: 'c-search', placeholder: 'Search by name', 'aria-label': 'Search executions by name' });
  status.value = (query && query.get('status')) || '';
  search.value = (query && query.get('q')) || '';
  const body = h('div', { 'data-executions': '' }, h('p', { class: 'c-muted' }, 'Loading…'));
  const more = h('div', { class: 'c-more' });
  const note = h('p', { class: 'c-muted c-small-text' });
  let rows = [];
  let token = null;
  let extra = false; // pages beyond the first are loaded: no refreshing then

  const show = () => {
    const q = search.value.trim().toLowerCase();
    const shown = rows.filter((e) => e.name.toLowerCase().includes(q));
    const columns = [
      { title: 'Name', cell: (e) => h('a', { href: executionLink(e.executionArn), class: 'c-strong' }, e.name) },
      { title: 'Status', cell: (e) => badge(e.status) },
      stateMachineArn ? null : { title: 'State machine', cell: (e) => h('a', { href: machineLink(e.stateMachineArn) }, nameOf(e.stateMachineArn)) },
      { title: 'Started', cell: (e) => fmtDate(e.startDate) },
      { title: 'Ended', cell: (e) => fmtDate(e.stopDate) },
      { title: 'Duration', cell: (e) => fmtDuration(((e.stopDate || Date.now() / 1000) - e.startDate) * 1000), cls: 'c-num' },
    ].filter(Boolean);
    fill(body, table(columns, shown, rows.length === 0 ? 'No executions.' : 'No execution matches the search.',
      (e) => ({ dataset: { execution: e.name, status: e.status } })));
    fill(more, token ? h('button', { type: 'button', class: 'c-button', onclick: loadMore }, 'Load more') : null);
  };

  async function machines() {
    if (stateMachineArn) return [stateMachineArn];
    const list = await api.all('ListStateMachines', {}, 'stateMachines');
    return list.filter((m) => m.type !== 'EXPRESS').map((m) => m.stateMachineArn);
  }

  async function load() {
    const filter = status.value || undefined;
    const arns = await machines();
    const pages = await Promise.all(arns.map((arn) => api.aws('ListExecutions', { stateMachineArn: arn, statusFilter: filter, maxResults: PAGE })));
    rows = pages.flatMap((p) => p.executions).sort((a, b) => b.startDate - a.startDate);
    token = stateMachineArn ? pages[0].nextToken : null;
    fill(note, !stateMachineArn && pages.some((p) => p.nextToken)
      ? `The latest ${PAGE} executions of each state machine; a state machine's page lists all of its.` : null);
    show();
  }

  async function loadMore() {
    const page = await api.aws('ListExecutions', { stateMachineArn, statusFilter: status.value || undefined, maxResults: PAGE, nextToken: token });
    extra = true;
    rows = rows.concat(page.executions);
    token = page.nextToken;
    show();
  }

  let stop = null;
  const restart = () => {
    if (stop) stop();
    extra = false;
    stop = poll(async () => {
      if (extra) return false;
      try {
        await load();
      } catch (e) {
        fill(body, errorBox(e));
      }
      return true;
    }, REFRESH_MS);
  };
  status.addEventListener('change', () => {
    setQuery({ status: status.value, q: search.value });
    restart();
  });
  search.addEventListener('input', () => {
    setQuery({ status: status.value, q: search.value });
    show();
  });
  fill(container, card(title, null, h('div', { class: 'c-toolbar' }, search, status), body, more, note));
  restart();
  return () => stop && stop();
}

/** #/executions */
export function executionsPage(view, params, query) {
  const list = h('div');
  fill(view, h('div', { class: 'c-page-head' }, h('h1', null, 'Executions')), list);
  return executionList(list, { query, title: null });
}
