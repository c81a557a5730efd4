// State machines: the list, and one machine with its graph, definition
// and executions.
import * as api from './api.js';
import { h, fill, fmtDate, errorBox, card, details, table, machineLink, nameOf } from './ui.js';
import { GraphView } from './graph.js';
import { executionList } from './page_executions.js';

/** #/state-machines */
export function machinesPage(view) {
  const search = h('input', { type: 'search', class: 'c-search', placeholder: 'Find state machines by name', 'aria-label': 'Find state machines' });
  const body = h('div', null, h('p', { class: 'c-muted' }, 'Loading…'));
  let machines = [];
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const rows = machines.filter((m) => m.name.toLowerCase().includes(q));
    fill(body, table([
      { title: 'Name', cell: (m) => h('a', { href: machineLink(m.stateMachineArn), class: 'c-strong' }, m.name) },
      { title: 'Type', cell: (m) => (m.type === 'EXPRESS' ? 'Express' : 'Standard') },
      { title: 'Creation date', cell: (m) => fmtDate(m.creationDate) },
    ], rows, machines.length === 0
      ? 'No state machines yet. Create one with the AWS CLI or an SDK (CreateStateMachine) against this server.'
      : 'No state machine matches.'));
  };
  search.addEventListener('input', show);
  fill(view, h('div', { class: 'c-page-head' }, h('h1', null, 'State machines')),
    card(null, null, h('div', { class: 'c-toolbar' }, search), body));
  api.all('ListStateMachines', {}, 'stateMachines').then((list) => {
    machines = list;
    show();
  }, (e) => fill(body, errorBox(e)));
  return null;
}

// The state machine's states by name, at every level of the definition.
export function statesOf(definition) {
  const out = {};
  const walk = (program) => {
    for (const [name, st] of Object.entries((program && program.States) || {})) {
      out[name] = st;
      for (const b of st.Branches || []) walk(b);
      walk(st.ItemProcessor || st.Iterator);
    }
  };
  try {
    walk(JSON.parse(definition));
  } catch (e) {
    // a definition that is not JSON has no states to show
  }
  return out;
}

/** #/state-machines/ARN */
export function machinePage(view, [arn], query) {
  const actions = h('div', { class: 'c-actions c-head-actions' });
  const head = h('div', { class: 'c-page-head' },
    h('div', { class: 'c-crumbs' }, h('a', { href: '#/state-machines' }, 'State machines'), ' / ', nameOf(arn)),
    h('div', { class: 'c-title-row' }, h('h1', null, nameOf(arn)), actions));
  const info = h('div', null, h('p', { class: 'c-muted' }, 'Loading…'));
  const graphEl = h('div');
  const side = h('div', { class: 'c-side', 'data-state-panel': '' });
  const execEl = h('div');
  fill(view, head, info, card('Graph and definition', null, h('div', { class: 'c-split' }, graphEl, side)), execEl);
  let stopList = null;
  let definition = null;
  let states = {};
  // Beside the graph: the selected state's part of the definition, or
  // the whole definition while none is selected.
  const showSide = (name) => {
    graph.select(name);
    if (!name) {
      fill(side, h('div', { class: 'c-state-panel' }, h('h3', null, 'Definition'),
        h('p', { class: 'c-muted' }, 'Select a state in the graph to see its part.'),
        definition ? h('pre', { class: 'c-code c-definition' }, JSON.stringify(JSON.parse(definition), null, 2)) : null));
      return;
    }
    const st = states[name];
    fill(side, h('div', { class: 'c-state-panel' }, h('h3', null, name),
      details([['Type', st ? st.Type : '-'], ['Next', st ? st.Next || (st.End ? 'End' : null) : null]]),
      h('pre', { class: 'c-code' }, JSON.stringify(st, null, 2)),
      h('p', null, h('button', { type: 'button', class: 'c-link-button', onclick: () => showSide(null) },
        'Show the whole definition'))));
  };
  const graph = new GraphView(graphEl, { onSelect: showSide });
  graph.load({ stateMachineArn: arn }).catch(() => {});
  api.aws('DescribeStateMachine', { stateMachineArn: arn }).then((sm) => {
    definition = sm.definition;
    states = statesOf(sm.definition);
    fill(head.querySelector('h1'), sm.name);
    fill(actions, h('a', { class: 'c-button c-primary', href: `${machineLink(arn)}/start` }, 'Start execution'));
    fill(info, card('Details', null, details([
      ['ARN', h('code', null, sm.stateMachineArn)],
      ['Type', sm.type === 'EXPRESS' ? 'Express' : 'Standard'],
      ['Status', sm.status === 'ACTIVE' ? 'Active' : sm.status],
      ['Creation date', fmtDate(sm.creationDate)],
      ['IAM role ARN', h('code', null, sm.roleArn)],
      ['Revision ID', sm.revisionId ? h('code', null, sm.revisionId) : null],
    ])));
    if (!graph.selected) showSide(null);
    if (sm.type === 'EXPRESS') {
      fill(execEl, card('Executions', null, h('p', { class: 'c-muted' },
        'Express executions are not kept (as on AWS): start one to see its result.')));
    } else {
      stopList = executionList(execEl, { stateMachineArn: arn, query });
    }
  }, (e) => fill(info, errorBox(e)));
  return () => {
    if (stopList) stopList();
  };
}
