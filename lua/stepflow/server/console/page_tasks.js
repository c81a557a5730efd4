// Tasks waiting for a task token (a `.waitForTaskToken` Task: the human
// approval), with Approve and Reject: SendTaskSuccess with an output and
// SendTaskFailure with an error and cause. The list comes from the
// console's tasks operation (the API has none that lists tokens).
import * as api from './api.js';
import { h, fill, fmtDate, fmtDuration, errorBox, alertBox, card, codeBlock, pretty, jsonEditor, executionLink, nameOf, poll } from './ui.js';

const REFRESH_MS = 2000;

/**
 * Approve and Reject for a waiting task: each opens a small form, sends
 * its answer and calls onDone(kind). Without SendTaskSuccess/Failure on
 * the server, says so instead.
 */
export function taskActions(task, onDone) {
  const box = h('div', { class: 'c-task-actions' });
  if (!api.has('SendTaskSuccess') || !api.has('SendTaskFailure')) {
    return fill(box, h('span', { class: 'c-muted' }, 'This server does not answer SendTaskSuccess / SendTaskFailure.'));
  }
  const buttons = () => fill(box,
    h('button', { type: 'button', class: 'c-button c-approve', onclick: approveForm }, 'Approve'),
    h('button', { type: 'button', class: 'c-button c-reject', onclick: rejectForm }, 'Reject'));
  const send = async (form, op, input, kind) => {
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      await api.aws(op, input);
      fill(box, alertBox('success', kind === 'approved' ? 'Approved' : 'Rejected', `${op} was accepted.`));
      box.dataset.answered = String(Date.now());
      if (onDone) onDone(kind);
    } catch (e) {
      for (const b of form.querySelectorAll('button')) b.disabled = false;
      form.append(errorBox(e));
    }
  };
  function approveForm() {
    const editor = jsonEditor('{\n  "approved": true\n}', { rows: 4, label: 'Task output' });
    const form = h('form', { class: 'c-form c-task-form', onsubmit: (e) => {
      e.preventDefault();
      if (editor.check()) send(form, 'SendTaskSuccess', { taskToken: task.taskToken, output: editor.value() }, 'approved');
    } },
    h('label', null, 'Output (the task\'s result)'), editor.el,
    h('div', { class: 'c-actions' },
      h('button', { type: 'button', class: 'c-button', onclick: buttons }, 'Cancel'),
      h('button', { type: 'submit', class: 'c-button c-primary', 'data-confirm': 'approve' }, 'Send task success')));
    fill(box, form);
  }
  function rejectForm() {
    const error = h('input', { class: 'c-input', value: 'Rejected', 'aria-label': 'Error' });
    const cause = h('input', { class: 'c-input', placeholder: 'Why (optional)', 'aria-label': 'Cause' });
    const form = h('form', { class: 'c-form c-task-form', onsubmit: (e) => {
      e.preventDefault();
      const input = { taskToken: task.taskToken, error: error.value };
      if (cause.value) input.cause = cause.value;
      send(form, 'SendTaskFailure', input, 'rejected');
    } },
    h('label', null, 'Error'), error, h('label', null, 'Cause'), cause,
    h('div', { class: 'c-actions' },
      h('button', { type: 'button', class: 'c-button', onclick: buttons }, 'Cancel'),
      h('button', { type: 'submit', class: 'c-button c-danger', 'data-confirm': 'reject' }, 'Send task failure')));
    fill(box, form);
  }
  buttons();
  return box;
}

/** One waiting task as a row of facts, its input and its actions. */
export function taskItem(task, { withExecution = true, onDone } = {}) {
  const waited = fmtDuration(Date.now() - task.scheduledDate * 1000).replace(/\.\d+$/, '');
  return h('article', { class: 'c-task', dataset: { task: task.stateName || '', token: task.taskToken || '' } },
    h('div', { class: 'c-task-head' },
      h('strong', null, task.stateName || '(unknown state)'),
      withExecution ? [' in ', h('a', { href: executionLink(task.executionArn) }, task.executionName || nameOf(task.executionArn))] : null,
      h('span', { class: 'c-muted' }, ` · ${task.resource || ''} · waiting since ${fmtDate(task.scheduledDate)} (${waited})`)),
    h('details', null, h('summary', null, 'Input'), codeBlock(pretty(task.input))),
    taskActions(task, onDone));
}

// How long an answered task stays with its confirmation once the
// server no longer lists it.
const ANSWERED_MS = 4000;

/**
 * Keeps `container` showing the tasks given to the returned update(tasks),
 * keyed by token so that an open form survives a refresh.
 */
export function taskList(container, empty, options) {
  const items = new Map();
  const list = h('div', { class: 'c-tasks' });
  fill(container, list);
  return (tasks) => {
    const seen = new Set();
    for (const t of tasks) {
      seen.add(t.taskToken);
      if (!items.has(t.taskToken)) {
        const el = taskItem(t, options);
        items.set(t.taskToken, el);
        list.append(el);
      }
    }
    for (const [token, el] of items) {
      const answered = el.querySelector('[data-answered]');
      if (!seen.has(token) && (!answered || Date.now() - Number(answered.dataset.answered) > ANSWERED_MS)) {
        el.remove();
        items.delete(token);
      }
    }
    if (items.size === 0) fill(list, h('p', { class: 'c-muted c-empty-note' }, empty));
    else list.querySelector('.c-empty-note')?.remove();
  };
}

/** #/tasks */
export function tasksPage(view) {
  const body = h('div', null, h('p', { class: 'c-muted' }, 'Loading…'));
  const problem = h('div');
  fill(view, h('div', { class: 'c-page-head' }, h('h1', null, 'Tasks waiting for a token'),
    h('p', { class: 'c-muted' }, 'Task states on a .waitForTaskToken resource that wait for SendTaskSuccess or ',
      'SendTaskFailure: approve or reject them here. Tasks of activities are under Activities.')),
  problem, card(null, null, body));
  const update = taskList(body, 'No task waits for a token.', { withExecution: true });
  return poll(async () => {
    try {
      const out = await api.consoleOp('tasks', {});
      fill(problem);
      update(out.tasks.filter((t) => t.kind === 'callback'));
    } catch (e) {
      fill(problem, errorBox(e));
    }
  }, REFRESH_MS);
}
