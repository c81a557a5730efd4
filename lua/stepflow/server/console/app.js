// The console's entry: reads what the server serves, asks for a key when
// it verifies signatures, and shows the page the address names
// (#/state-machines, #/state-machines/ARN, #/state-machines/ARN/start,
// #/executions, #/executions/ARN, #/tasks, #/activities).
import * as api from './api.js';
import { h, fill, alertBox, errorBox } from './ui.js';
import { machinesPage, machinePage } from './page_machines.js';
import { executionsPage } from './page_executions.js';
import { executionPage } from './page_execution.js';
import { startPage } from './page_start.js';
import { tasksPage } from './page_tasks.js';
import { activitiesPage } from './page_activities.js';

const ROUTES = [
  [/^\/state-machines$/, machinesPage, 'machines'],
  [/^\/state-machines\/([^/]+)\/start$/, startPage, 'machines'],
  [/^\/state-machines\/([^/]+)$/, machinePage, 'machines'],
  [/^\/executions$/, executionsPage, 'executions'],
  [/^\/executions\/([^/]+)$/, executionPage, 'executions'],
  [/^\/tasks$/, tasksPage, 'tasks'],
  [/^\/activities$/, activitiesPage, 'activities'],
];

const NAV = [
  ['machines', '#/state-machines', 'State machines'],
  ['executions', '#/executions', 'Executions'],
  ['tasks', '#/tasks', 'Tasks'],
  ['activities', '#/activities', 'Activities'],
];

let main;
let nav;
let account;
let cleanup = null;

function header() {
  nav = h('nav', { class: 'c-nav' }, NAV.map(([key, href, text]) => h('a', { href, dataset: { nav: key } }, text)));
  account = h('div', { class: 'c-account' });
  return h('header', { class: 'c-top' },
    h('a', { class: 'c-brand', href: '#/state-machines' }, h('img', { src: '/console/icon.svg', alt: '' }), 'stepflow'),
    nav, account);
}

function showAccount() {
  const info = api.serverInfo();
  fill(account, h('span', { title: 'Region and account of this server' }, `${info.region} · ${info.account}`),
    info.sigv4 && api.accessKeyId() ? [
      h('span', { class: 'c-key', title: 'Requests are signed with this access key' }, api.accessKeyId()),
      h('button', { type: 'button', class: 'c-link-button', onclick: () => {
        api.setCredentials(null);
        route();
      } }, 'Sign out'),
    ] : null);
}

// The key form, when the server verifies SigV4 signatures: the page signs
// every request with it (the secret never leaves the browser).
function keyForm() {
  const id = h('input', { id: 'c-akid', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'c-secret', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div');
  const form = h('form', { class: 'c-key-form', onsubmit: async (e) => {
    e.preventDefault();
    api.setCredentials({ accessKeyId: id.value.trim(), secretAccessKey: secret.value });
    try {
      await api.aws('ListStateMachines', { maxResults: 1 });
      route();
    } catch (err) {
      api.setCredentials(null);
      fill(status, errorBox(err));
    }
  } },
  h('h1', null, 'Sign in'),
  h('p', null, 'This server verifies AWS Signature Version 4 (stepflow serve --credentials). Enter one of its access keys: ',
    'the console signs each request with it in this browser tab and never sends the secret.'),
  h('label', { for: 'c-akid' }, 'Access key ID'), id,
  h('label', { for: 'c-secret' }, 'Secret access key'), secret,
  h('button', { type: 'submit', class: 'c-button c-primary' }, 'Sign in'), status);
  return form;
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const path = location.hash.replace(/^#/, '').replace(/\?.*$/, '') || '/';
  const query = new URLSearchParams(location.hash.includes('?') ? location.hash.slice(location.hash.indexOf('?')) : '');
  showAccount();
  if (api.needsKey()) {
    for (const a of nav.querySelectorAll('a')) a.classList.remove('c-current');
    fill(main, keyForm());
    return;
  }
  for (const [pattern, page, key] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      const what = m[1] ? decodeURIComponent(m[1]).split(':').pop() : NAV.find((n) => n[0] === key)[2];
      document.title = `${what} · stepflow`;
      for (const a of nav.querySelectorAll('a')) a.classList.toggle('c-current', a.dataset.nav === key);
      const view = h('div', { class: 'c-page' });
      fill(main, view);
      cleanup = page(view, m.slice(1).map(decodeURIComponent), query) || null;
      return;
    }
  }
  location.replace('#/state-machines');
}

async function boot() {
  main = h('main', { class: 'c-main' });
  fill(document.body, header(), main);
  try {
    await api.loadInfo();
  } catch (e) {
    fill(main, alertBox('error', 'The console cannot reach its server', e.message));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
