// The console's calls: the Step Functions API (POST / with X-Amz-Target,
// as the AWS SDKs call it) and the console's own operations (POST
// /console/api/NAME), both signed with SigV4 when the server verifies
// signatures (the key entered on the page, kept for this tab only).
import { sign } from './sigv4.js';

const KEY_ITEM = 'stepflow.console.key';
let info = { sigv4: false, operations: [], region: 'us-east-1', account: '' };
let credentials = null;

/** An error the server answered: code (AWS's __type), message, HTTP status. */
export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Reads what the server serves (GET /console/api/info); call first. */
export async function loadInfo() {
  const r = await fetch('/console/api/info');
  if (!r.ok) throw new ApiError('InternalFailure', `the console's info answered ${r.status}`, r.status);
  info = await r.json();
  const kept = sessionStorage.getItem(KEY_ITEM);
  credentials = kept ? JSON.parse(kept) : null;
  return info;
}

export const serverInfo = () => info;

/** Whether the server answers an API operation (others light up when it does). */
export const has = (op) => info.operations.includes(op);

/** Whether requests need a key that has not been entered. */
export const needsKey = () => info.sigv4 && !credentials;

export const accessKeyId = () => (credentials ? credentials.accessKeyId : null);

/** Keeps the key for this tab (null forgets it). */
export function setCredentials(c) {
  credentials = c;
  if (c) sessionStorage.setItem(KEY_ITEM, JSON.stringify(c));
  else sessionStorage.removeItem(KEY_ITEM);
}

async function post(path, headers, body) {
  const all = { ...headers };
  if (info.sigv4) {
    if (!credentials) throw new ApiError('MissingAuthenticationTokenException', 'Enter an access key first', 403);
    const toSign = {};
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase().startsWith('x-amz-')) toSign[k] = v;
    Object.assign(all, sign({
      method: 'POST', host: location.host, path, headers: toSign, body,
      region: info.region, service: 'states', ...credentials,
    }));
  }
  let r;
  try {
    r = await fetch(path, { method: 'POST', headers: all, body });
  } catch (e) {
    throw new ApiError('NetworkError', `The server cannot be reached (${e.message})`, 0);
  }
  const text = await r.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch (e) {
    throw new ApiError('InternalFailure', `The server answered ${r.status} with something that is not JSON`, r.status);
  }
  if (!r.ok) throw new ApiError(data.__type || 'Error', data.message || data.Message || text, r.status);
  return data;
}

/** Calls a Step Functions API operation: its output, or throws an ApiError. */
export function aws(op, input) {
  return post('/', { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `AWSStepFunctions.${op}` },
    JSON.stringify(input || {}));
}

/** Calls a console operation (graph, tasks): its output, or throws an ApiError. */
export function consoleOp(name, input) {
  return post(`/console/api/${name}`, { 'Content-Type': 'application/json' }, JSON.stringify(input || {}));
}

/** Every item of a paged list operation (nextToken), up to `limit` items. */
export async function all(op, input, key, limit = 1000) {
  const items = [];
  let token;
  do {
    const page = await aws(op, { ...input, nextToken: token });
    items.push(...(page[key] || []));
    token = page.nextToken;
  } while (token && items.length < limit);
  return items;
}
