// Activities (ListActivities, when the server answers it) and the
// activity tasks that wait: scheduled and waiting for a worker's
// GetActivityTask, or started by a worker and waiting for its answer.
import * as api from './api.js';
import { h, fill, fmtDate, errorBox, alertBox, card, table, codeBlock, pretty, executionLink, nameOf, poll } from './ui.js';

const REFRESH_MS = 3000;

/** #/activities */
export function activitiesPage(view) {
  const listEl = h('div', { 'data-activities': '' });
  const tasksEl = h('div', { 'data-activity-tasks': '' }, h('p', { class: 'c-muted' }, 'Loading…'));
  fill(view, h('div', { class: 'c-page-head' }, h('h1', null, 'Activities')), listEl,
    card('Activity tasks waiting', null, tasksEl));
  const served = api.has('ListActivities');
  let activities = [];
  if (!served) {
    fill(listEl, alertBox('info', 'This server does not serve activities yet',
      'ListActivities is not among the operations it answers. Activity tasks that executions schedule are still listed below.'));
  }
  return poll(async () => {
    try {
      if (served) activities = await api.all('ListActivities', {}, 'activities');
      const { tasks } = await api.consoleOp('tasks', {});
      const waiting = tasks.filter((t) => t.kind === 'activity');
      if (served) {
        fill(listEl, card('Activities', null, table([
          { title: 'Name', cell: (a) => h('strong', null, a.name) },
          { title: 'ARN', cell: (a) => h('code', null, a.activityArn) },
          { title: 'Creation date', cell: (a) => fmtDate(a.creationDate) },
          { title: 'Tasks waiting', cell: (a) => String(waiting.filter((t) => t.resource === a.activityArn).length), cls: 'c-num' },
        ], activities, 'No activities. Create one with CreateActivity.')));
      }
      fill(tasksEl, table([
        { title: 'Activity', cell: (t) => nameOf(t.resource) },
        { title: 'Execution', cell: (t) => h('a', { href: executionLink(t.executionArn) }, t.executionName || nameOf(t.executionArn)) },
        { title: 'State', cell: (t) => t.stateName || '-' },
        { title: 'Scheduled', cell: (t) => fmtDate(t.scheduledDate) },
        { title: 'Worker', cell: (t) => (t.workerName ? `started by ${t.workerName} at ${fmtDate(t.startedDate)}` : 'waiting for a worker') },
        { title: 'Input', cell: (t) => h('details', null, h('summary', null, 'Show'), codeBlock(pretty(t.input))) },
      ], waiting, 'No activity task waits.'));
    } catch (e) {
      fill(tasksEl, errorBox(e));
    }
  }, REFRESH_MS);
}
