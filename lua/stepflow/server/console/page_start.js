// Starting an execution: a name (optional) and the input, checked as JSON
// while it is typed; the server's refusals (a bad name, an input over the
// size limit, a name already used) are shown as it words them. A standard
// execution opens its page; an express one runs to its end here
// (StartSyncExecution), since express executions are not kept.
import * as api from './api.js';
import { h, fill, badge, errorBox, card, details, codeBlock, pretty, jsonEditor, machineLink, executionLink, nameOf, fmtDuration } from './ui.js';

export const INPUT_ITEM = 'stepflow.console.input';
const DEFAULT_INPUT = '{\n  "Comment": "Insert your JSON here"\n}';

/** #/state-machines/ARN/start */
export function startPage(view, [arn]) {
  const kept = sessionStorage.getItem(`${INPUT_ITEM}:${arn}`);
  sessionStorage.removeItem(`${INPUT_ITEM}:${arn}`);
  const name = h('input', { id: 'c-exec-name', class: 'c-input', placeholder: 'A name is made if left empty', maxlength: '80' });
  // Start waits for the machine's type (standard or express) and for JSON
  const submit = h('button', { type: 'submit', class: 'c-button c-primary', disabled: true }, 'Start execution');
  let described = false;
  let valid = false;
  const editor = jsonEditor(kept || DEFAULT_INPUT, { rows: 14, label: 'Input', onchange: (ok) => {
    valid = ok;
    submit.disabled = !(ok && described);
  } });
  const result = h('div', { 'data-result': '' });
  let type = 'STANDARD';
  const form = h('form', { class: 'c-form', onsubmit: async (e) => {
    e.preventDefault();
    if (!editor.check()) return;
    const input = { stateMachineArn: arn, input: editor.value() };
    if (name.value.trim()) input.name = name.value.trim();
    submit.disabled = true;
    fill(result);
    try {
      if (type === 'EXPRESS') {
        const out = await api.aws('StartSyncExecution', input);
        fill(result, card('Result', null, details([
          ['Status', badge(out.status)],
          ['Duration', fmtDuration((out.stopDate - out.startDate) * 1000)],
          ['Error', out.error], ['Cause', out.cause],
        ]), out.output !== undefined ? [h('h4', null, 'Output'), codeBlock(pretty(out.output))] : null));
      } else {
        const out = await api.aws('StartExecution', input);
        location.hash = executionLink(out.executionArn);
      }
    } catch (err) {
      fill(result, errorBox(err));
    } finally {
      submit.disabled = !valid;
    }
  } },
  h('label', { for: 'c-exec-name' }, 'Name ', h('span', { class: 'c-muted' }, '(optional)')), name,
  h('label', null, 'Input'), editor.el,
  h('div', { class: 'c-actions' }, h('a', { class: 'c-button', href: machineLink(arn) }, 'Cancel'), submit), result);
  fill(view, h('div', { class: 'c-page-head' },
    h('div', { class: 'c-crumbs' }, h('a', { href: '#/state-machines' }, 'State machines'), ' / ',
      h('a', { href: machineLink(arn) }, nameOf(arn)), ' / Start execution'),
    h('h1', null, `Start execution: ${nameOf(arn)}`)), card(null, null, form));
  api.aws('DescribeStateMachine', { stateMachineArn: arn }).then((sm) => {
    type = sm.type;
    described = true;
    submit.disabled = !valid;
    if (type === 'EXPRESS') {
      form.insertBefore(h('p', { class: 'c-muted' }, 'An express execution runs to its end here (StartSyncExecution): ',
        'express executions are not kept.'), result);
    }
  }, (e) => fill(result, errorBox(e)));
  return null;
}
