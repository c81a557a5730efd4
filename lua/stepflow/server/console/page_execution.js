// One execution: its status and details, the live graph (polled every
// second while it runs), each state's input and output on click, the
// tasks that wait for its token (Approve / Reject), the event table in
// the shape of AWS's, and Stop, Redrive and New execution.
import * as api from './api.js';
import { h, fill, fmtDate, fmtDuration, badge, errorBox, card, details, table, codeBlock, pretty, machineLink, nameOf, poll, machineOfExecution } from './ui.js';
import { GraphView } from './graph.js';
import { statesOf } from './page_machines.js';
import { taskList } from './page_tasks.js';
import { INPUT_ITEM } from './page_start.js';

const POLL_MS = 1000;
const STATE_STATUS = {
  succeeded: 'Succeeded', failed: 'Failed', caught: 'Caught error', running: 'In progress',
  cancelled: 'Cancelled',
};
const FAILURE = /(Failed|TimedOut|Aborted)$/;
const REDRIVABLE = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/** The *EventDetails member of an event, or {}. */
function detailsOf(e) {
  for (const [k, v] of Object.entries(e)) if (k.endsWith('EventDetails')) return v;
  return {};
}

/** Tabs: [[title, () => node]]; keeps the chosen one in state.tab. */
function tabs(list, state) {
  const pane = h('div', { class: 'c-tab-pane' });
  const bar = h('div', { class: 'c-tabs', role: 'tablist' });
  const show = (i) => {
    state.tab = list[i][0];
    bar.querySelectorAll('button').forEach((b, j) => b.setAttribute('aria-selected', String(i === j)));
    fill(pane, list[i][1]());
  };
  list.forEach(([title], i) => bar.append(h('button', { type: 'button', role: 'tab', onclick: () => show(i) }, title)));
  const el = h('div', null, bar, pane);
  show(Math.max(0, list.findIndex(([title]) => title === state.tab)));
  return el;
}

/** #/executions/ARN */
export function executionPage(view, [arn]) {
  const smArn = machineOfExecution(arn);
  const statusSlot = h('span', { 'data-exec-status': '' });
  const actions = h('div', { class: 'c-actions c-head-actions' });
  const confirmEl = h('div');
  const problem = h('div');
  const detailsEl = h('div', null, h('p', { class: 'c-muted' }, 'Loading…'));
  const tasksBody = h('div');
  const tasksCard = card('Waiting for a task token', null,
    h('p', { class: 'c-muted' }, 'This execution waits for SendTaskSuccess or SendTaskFailure with the task\'s token.'), tasksBody);
  tasksCard.hidden = true;
  tasksCard.dataset.tasks = '';
  const graphEl = h('div');
  const side = h('div', { class: 'c-side', 'data-state-panel': '' });
  const ioEl = h('div');
  const filter = h('input', { type: 'search', class: 'c-search', placeholder: 'Filter by type or step', 'aria-label': 'Filter events' });
  const eventRows = h('tbody');
  const eventsTable = h('table', { class: 'c-table c-events', 'data-events': '' },
    h('thead', null, h('tr', null, ['ID', 'Type', 'Step', 'Resource', 'Started after', 'Date and time'].map((t) => h('th', null, t)))),
    eventRows);
  fill(view,
    h('div', { class: 'c-page-head' },
      h('div', { class: 'c-crumbs' }, h('a', { href: '#/state-machines' }, 'State machines'), ' / ',
        h('a', { href: machineLink(smArn) }, nameOf(smArn)), ' / ', nameOf(arn)),
      h('div', { class: 'c-title-row' }, h('h1', null, nameOf(arn), ' ', statusSlot), actions)),
    confirmEl, problem, detailsEl, tasksCard,
    card('Graph view', null, h('div', { class: 'c-split' }, graphEl, side)),
    ioEl,
    card('Events', null, h('div', { class: 'c-toolbar' }, filter), h('div', { class: 'c-scroll' }, eventsTable)));

  let exec = null;
  let states = {};
  let selected = null;
  let stopPoll = null;
  let lastId = 0;
  let sideKey = null;
  let ioKey = null;
  let headKey = null;
  const events = [];
  const stepOf = new Map();
  const sideTabs = { tab: 'Input' };
  const ioTabs = { tab: 'Input' };
  const updateTasks = taskList(tasksBody, 'No task waits for a token.', { withExecution: false, onDone: () => start() });
  const graph = new GraphView(graphEl, { onSelect: (name) => select(name) });

  function select(name) {
    selected = name;
    graph.select(name);
    sideKey = null;
    renderSide();
  }

  // ---- events
  function stepName(e) {
    if (/State(Entered|Exited)$/.test(e.type)) return detailsOf(e).name;
    return stepOf.get(e.previousEventId) || null;
  }

  function eventRow(e) {
    const d = detailsOf(e);
    const step = stepName(e);
    stepOf.set(e.id, /StateExited$/.test(e.type) ? null : step);
    const start = events.length ? events[0].timestamp : e.timestamp;
    const cls = FAILURE.test(e.type) ? 'c-ev-fail' : /Succeeded$/.test(e.type) ? 'c-ev-ok' : '';
    const resource = d.resource ? `${d.resourceType ? `${d.resourceType}: ` : ''}${d.resource}` : (d.functionArn || d.activityArn || '');
    const row = h('tr', { class: 'c-event-row', dataset: { type: e.type, step: step || '' } },
      h('td', { class: 'c-num' }, String(e.id)),
      h('td', { class: cls }, h('button', { type: 'button', class: 'c-link-button c-expand', 'aria-expanded': 'false' }, e.type)),
      h('td', null, step ? h('button', { type: 'button', class: 'c-link-button', onclick: () => select(step) }, step) : '-'),
      h('td', null, resource),
      h('td', { class: 'c-num' }, fmtDuration((e.timestamp - start) * 1000)),
      h('td', null, fmtDate(e.timestamp)));
    const more = h('tr', { class: 'c-event-details', hidden: true },
      h('td', { colspan: 6 }, codeBlock(JSON.stringify(Object.fromEntries(Object.entries(d).map(([k, v]) => [k,
        (k === 'input' || k === 'output' || k === 'parameters') ? (() => { try { return JSON.parse(v); } catch (x) { return v; } })() : v])), null, 2))));
    row.querySelector('.c-expand').addEventListener('click', (ev) => {
      more.hidden = !more.hidden;
      ev.target.setAttribute('aria-expanded', String(!more.hidden));
    });
    return [row, more];
  }

  function addEvents(list) {
    for (const e of list) {
      if (e.id <= lastId) continue;
      const [row, more] = eventRow(e);
      events.push(e);
      lastId = e.id;
      eventRows.append(row, more);
    }
    applyFilter();
  }

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    for (const row of eventRows.querySelectorAll('tr.c-event-row')) {
      const show = !q || row.dataset.type.toLowerCase().includes(q) || row.dataset.step.toLowerCase().includes(q);
      row.hidden = !show;
      if (!show) row.nextSibling.hidden = true;
    }
  }
  filter.addEventListener('input', applyFilter);

  async function loadEvents() {
    const got = [];
    let token;
    if (lastId === 0) {
      do {
        const page = await api.aws('GetExecutionHistory', { executionArn: arn, maxResults: 1000, nextToken: token });
        got.push(...page.events);
        token = page.nextToken;
      } while (token);
      addEvents(got);
      return;
    }
    // newest first, back to the last event already shown
    let done = false;
    do {
      const page = await api.aws('GetExecutionHistory', { executionArn: arn, reverseOrder: true, maxResults: 100, nextToken: token });
      for (const e of page.events) {
        if (e.id <= lastId) {
          done = true;
          break;
        }
        got.push(e);
      }
      token = page.nextToken;
    } while (token && !done);
    addEvents(got.reverse());
  }

  // ---- what the page shows of the execution
  function renderHead() {
    const key = `${exec.status}/${exec.redriveStatus}`;
    if (key === headKey) return;
    headKey = key;
    fill(statusSlot, badge(exec.status));
    const buttons = [];
    if (exec.status === 'RUNNING') {
      buttons.push(h('button', { type: 'button', class: 'c-button c-danger', 'data-action': 'stop', onclick: stopForm }, 'Stop execution'));
    }
    if (api.has('RedriveExecution') && REDRIVABLE.has(exec.status) && exec.redriveStatus !== 'NOT_REDRIVABLE') {
      buttons.push(h('button', { type: 'button', class: 'c-button', 'data-action': 'redrive', onclick: redrive }, 'Redrive'));
    }
    buttons.push(h('button', { type: 'button', class: 'c-button', 'data-action': 'new', onclick: () => {
      sessionStorage.setItem(`${INPUT_ITEM}:${exec.stateMachineArn}`, pretty(exec.input || '{}'));
      location.hash = `${machineLink(exec.stateMachineArn)}/start`;
    } }, 'New execution'));
    fill(actions, buttons);
  }

  function renderDetails() {
    const end = exec.stopDate || Date.now() / 1000;
    fill(detailsEl, card('Details', null, details([
      ['Execution ARN', h('code', null, exec.executionArn)],
      ['Status', badge(exec.status)],
      ['State machine', h('a', { href: machineLink(exec.stateMachineArn) }, nameOf(exec.stateMachineArn))],
      ['Start time', fmtDate(exec.startDate)],
      ['End time', fmtDate(exec.stopDate)],
      ['Duration', fmtDuration((end - exec.startDate) * 1000)],
      ['Error', exec.error ? h('code', { class: 'c-error-text' }, exec.error) : null],
      ['Cause', exec.cause || null],
      ['Redrive count', exec.redriveCount ? String(exec.redriveCount) : null],
      ['Redrive date', exec.redriveDate ? fmtDate(exec.redriveDate) : null],
    ])));
  }

  function renderIO() {
    const key = `${exec.status}/${exec.output ? exec.output.length : 0}`;
    if (key === ioKey) return;
    ioKey = key;
    const list = [['Input', () => codeBlock(pretty(exec.input))]];
    if (exec.output !== undefined) list.push(['Output', () => codeBlock(pretty(exec.output))]);
    if (exec.error !== undefined || exec.cause !== undefined) {
      list.push(['Error', () => details([['Error', exec.error], ['Cause', exec.cause]])]);
    }
    fill(ioEl, card('Execution input and output', null, tabs(list, ioTabs)));
  }

  // The last visit of the selected state: its input, output and error.
  function renderSide() {
    const key = `${selected}/${lastId}`;
    if (key === sideKey) return;
    sideKey = key;
    if (!selected) {
      fill(side, h('p', { class: 'c-muted' }, 'Select a state in the graph to see its input and output.'));
      return;
    }
    let entered = null;
    let exited = null;
    let failure = null;
    let visits = 0;
    for (const e of events) {
      const d = detailsOf(e);
      if (/StateEntered$/.test(e.type) && d.name === selected) {
        entered = e;
        exited = null;
        failure = null;
        visits += 1;
      } else if (/StateExited$/.test(e.type) && d.name === selected && entered) {
        exited = e;
      } else if (entered && d.error !== undefined && stepOf.get(e.id) === selected) {
        failure = d;
      }
    }
    const st = states[selected];
    const status = graph.data && graph.data.status ? graph.data.status[selected] : null;
    const list = [
      ['Input', () => (entered ? codeBlock(pretty(detailsOf(entered).input), 'c-state-input') : h('p', { class: 'c-muted' }, 'Not reached.'))],
      ['Output', () => (exited ? codeBlock(pretty(detailsOf(exited).output), 'c-state-output')
        : h('p', { class: 'c-muted' }, entered ? 'No output yet.' : 'Not reached.'))],
      ['Definition', () => codeBlock(st ? JSON.stringify(st, null, 2) : '-')],
    ];
    fill(side, h('div', { class: 'c-state-panel' },
      h('h3', null, selected),
      details([
        ['Type', st ? st.Type : null],
        ['Status', STATE_STATUS[status] || 'Not reached'],
        ['Entered', visits > 1 ? `${visits} times (the last is shown)` : null],
        ['Error', failure ? h('code', { class: 'c-error-text' }, failure.error) : null],
        ['Cause', failure && failure.cause ? failure.cause : null],
      ]),
      tabs(list, sideTabs)));
  }

  // ---- actions
  function stopForm() {
    const error = h('input', { class: 'c-input', placeholder: 'Error (optional)', 'aria-label': 'Error' });
    const cause = h('input', { class: 'c-input', placeholder: 'Cause (optional)', 'aria-label': 'Cause' });
    const status = h('div');
    const form = h('form', { class: 'c-form c-confirm', onsubmit: async (e) => {
      e.preventDefault();
      const input = { executionArn: arn };
      if (error.value) input.error = error.value;
      if (cause.value) input.cause = cause.value;
      try {
        await api.aws('StopExecution', input);
        fill(confirmEl);
        start();
      } catch (err) {
        fill(status, errorBox(err));
      }
    } },
    h('strong', null, 'Stop this execution?'),
    h('p', { class: 'c-muted' }, 'It ends as Aborted; the state it is in is cancelled.'),
    error, cause,
    h('div', { class: 'c-actions' },
      h('button', { type: 'button', class: 'c-button', onclick: () => fill(confirmEl) }, 'Cancel'),
      h('button', { type: 'submit', class: 'c-button c-danger', 'data-confirm': 'stop' }, 'Stop execution')),
    status);
    fill(confirmEl, card(null, null, form));
  }

  async function redrive() {
    try {
      await api.aws('RedriveExecution', { executionArn: arn });
      headKey = null;
      start();
    } catch (err) {
      fill(problem, errorBox(err));
    }
  }

  async function refresh() {
    exec = await api.aws('DescribeExecution', { executionArn: arn });
    renderHead();
    renderDetails();
    const running = exec.status === 'RUNNING';
    const [, , tasks] = await Promise.all([
      graph.load({ executionArn: arn }),
      loadEvents(),
      running ? api.consoleOp('tasks', { executionArn: arn }) : { tasks: [] },
    ]);
    const waiting = tasks.tasks.filter((t) => t.kind === 'callback');
    updateTasks(waiting);
    tasksCard.hidden = waiting.length === 0 && !(running && tasksBody.querySelector('[data-answered]'));
    renderIO();
    renderSide();
    return running;
  }

  function start() {
    if (stopPoll) stopPoll();
    stopPoll = poll(async () => {
      try {
        const running = await refresh();
        fill(problem);
        return running;
      } catch (e) {
        fill(problem, errorBox(e));
        return e.code !== 'ExecutionDoesNotExist' && e.code !== 'InvalidArn';
      }
    }, POLL_MS);
  }

  api.aws('DescribeStateMachineForExecution', { executionArn: arn }).then((sm) => {
    states = statesOf(sm.definition);
    sideKey = null;
    if (exec) renderSide();
  }, () => {});
  start();
  return () => stopPoll && stopPoll();
}
