// Drives `stepflow serve` with the AWS SDK for JavaScript v3 (the SDK's own
// requests, signatures and parsers), through every operation on state
// machines and executions and their error codes. Prints one JSON line:
// {"checks": N, "failures": [...]}; spec/server/sdk_spec.lua runs it.
//
//   node operations.mjs all PORT [SIGNED_PORT]
//   node operations.mjs kill PORT SERVER_PID ACKED_FILE
//   node operations.mjs verify PORT ACKED_FILE
import * as sfn from '@aws-sdk/client-sfn';
import http from 'node:http';
import fs from 'node:fs';
import { failures, check, report, sleep } from './report.mjs';

const [mode, port, arg3, arg4] = process.argv.slice(2);
const ROLE = 'arn:aws:iam::123456789012:role/sdk';
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:';
const PASS = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}';
const WAIT1 = '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"P"},"P":{"Type":"Pass","End":true}}}';
const FAIL = '{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"on purpose"}}}';
const LONG = '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}';

// Every name resolves to this machine, so that the SDK's sync- host
// prefix (sync-stepflow.test) reaches the server too.
const agent = new http.Agent({
  keepAlive: true,
  lookup: (hostname, options, cb) => options && options.all
    ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
});

function client(p, extra = {}) {
  return new sfn.SFNClient({
    region: 'us-east-1', endpoint: `http://stepflow.test:${p}`, maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDSTEPFLOW', secretAccessKey: 'stepflow-secret' },
    requestHandler: { httpAgent: agent }, ...extra,
  });
}

async function expectError(what, promise, name, status = 400) {
  try {
    const out = await promise;
    check(what, false, { expected: name, got: out });
  } catch (e) {
    check(what, e.name === name && e.$metadata?.httpStatusCode === status && typeof e.message === 'string'
      && typeof e.$metadata?.requestId === 'string',
      { expected: name, got: e.name, status: e.$metadata?.httpStatusCode, message: e.message });
    return e;
  }
}

async function untilStatus(c, arn, status) {
  for (let i = 0; i < 300; i++) {
    const d = await c.send(new sfn.DescribeExecutionCommand({ executionArn: arn }));
    if (d.status === status) return d;
    await sleep(10);
  }
  throw new Error(`${arn} never reached ${status}`);
}

async function stateMachines(c) {
  const created = await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-std', definition: WAIT1, roleArn: ROLE }));
  check('CreateStateMachine returns the ARN and a Date', created.stateMachineArn === SM + 'sdk-std'
    && created.creationDate instanceof Date, created);
  const again = await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-std', definition: WAIT1, roleArn: ROLE }));
  check('CreateStateMachine is idempotent', again.creationDate.getTime() === created.creationDate.getTime());
  await expectError('CreateStateMachine StateMachineAlreadyExists',
    c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-std', definition: PASS, roleArn: ROLE })),
    'StateMachineAlreadyExists');
  const bad = await expectError('CreateStateMachine InvalidDefinition',
    c.send(new sfn.CreateStateMachineCommand({ name: 'bad', roleArn: ROLE,
      definition: '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Z"},"B":{"Type":"Nope"}}}' })),
    'InvalidDefinition');
  check('InvalidDefinition lists every problem', bad && /\/States\/A\/Next/.test(bad.message)
    && /\/States\/B/.test(bad.message), bad && bad.message);
  await expectError('CreateStateMachine InvalidName',
    c.send(new sfn.CreateStateMachineCommand({ name: 'has space', definition: PASS, roleArn: ROLE })), 'InvalidName');
  await expectError('CreateStateMachine InvalidArn',
    c.send(new sfn.CreateStateMachineCommand({ name: 'r', definition: PASS, roleArn: 'role' })), 'InvalidArn');
  await expectError('CreateStateMachine ValidationException',
    c.send(new sfn.CreateStateMachineCommand({ name: 'n'.repeat(81), definition: PASS, roleArn: ROLE })),
    'ValidationException');
  const ex = await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-express', definition: PASS, roleArn: ROLE,
    type: 'EXPRESS', publish: true }));
  check('CreateStateMachine publishes version 1', ex.stateMachineVersionArn === SM + 'sdk-express:1', ex);
  await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-fail', definition: FAIL, roleArn: ROLE, type: 'EXPRESS' }));
  await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-long', definition: LONG, roleArn: ROLE }));

  const d = await c.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: SM + 'sdk-std' }));
  check('DescribeStateMachine', d.name === 'sdk-std' && d.definition === WAIT1 && d.type === 'STANDARD'
    && d.status === 'ACTIVE' && d.roleArn === ROLE && d.creationDate instanceof Date
    && d.revisionId === undefined, d);  // (AWS: a revisionId from the first update on)
  await expectError('DescribeStateMachine StateMachineDoesNotExist',
    c.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: SM + 'none' })), 'StateMachineDoesNotExist');
  await expectError('DescribeStateMachine InvalidArn',
    c.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: 'arn:nope' })), 'InvalidArn');

  const p1 = await c.send(new sfn.ListStateMachinesCommand({ maxResults: 2 }));
  const p2 = await c.send(new sfn.ListStateMachinesCommand({ maxResults: 2, nextToken: p1.nextToken }));
  check('ListStateMachines pages', p1.stateMachines.length === 2 && p2.stateMachines.length === 2
    && !p2.nextToken && p1.stateMachines[0].name === 'sdk-std', { p1, p2 });
  await expectError('ListStateMachines InvalidToken',
    c.send(new sfn.ListStateMachinesCommand({ nextToken: 'forged' })), 'InvalidToken');

  await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-upd', definition: LONG, roleArn: ROLE }));
  const old = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-upd' }));
  const up = await c.send(new sfn.UpdateStateMachineCommand({ stateMachineArn: SM + 'sdk-upd', definition: PASS }));
  check('UpdateStateMachine returns updateDate and revisionId', up.updateDate instanceof Date && up.revisionId, up);
  const forExec = await c.send(new sfn.DescribeStateMachineForExecutionCommand({ executionArn: old.executionArn }));
  check('DescribeStateMachineForExecution shows the revision the execution runs', forExec.definition === LONG, forExec);
  const now = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-upd' }));
  await untilStatus(c, now.executionArn, 'SUCCEEDED');
  await expectError('UpdateStateMachine MissingRequiredParameter',
    c.send(new sfn.UpdateStateMachineCommand({ stateMachineArn: SM + 'sdk-upd' })), 'MissingRequiredParameter');
  await expectError('UpdateStateMachine StateMachineDoesNotExist',
    c.send(new sfn.UpdateStateMachineCommand({ stateMachineArn: SM + 'gone', definition: PASS })),
    'StateMachineDoesNotExist');
  await expectError('DescribeStateMachineForExecution ExecutionDoesNotExist',
    c.send(new sfn.DescribeStateMachineForExecutionCommand({
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sdk-upd:none' })), 'ExecutionDoesNotExist');
  await c.send(new sfn.StopExecutionCommand({ executionArn: old.executionArn }));
  await c.send(new sfn.DeleteStateMachineCommand({ stateMachineArn: SM + 'sdk-upd' }));
  await expectError('DeleteStateMachine: gone afterwards',
    c.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: SM + 'sdk-upd' })), 'StateMachineDoesNotExist');
  await expectError('DeleteStateMachine InvalidArn',
    c.send(new sfn.DeleteStateMachineCommand({ stateMachineArn: 'nope' })), 'InvalidArn');
}

async function executions(c, plain) {
  const e = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std', name: 'e1',
    input: '{"n":1}' }));
  check('StartExecution', e.executionArn === 'arn:aws:states:us-east-1:123456789012:execution:sdk-std:e1'
    && e.startDate instanceof Date, e);
  const same = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std', name: 'e1',
    input: '{"n":1}' }));
  check('StartExecution with the same name and input returns it', same.executionArn === e.executionArn);
  await expectError('StartExecution ExecutionAlreadyExists',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std', name: 'e1', input: '{"n":2}' })),
    'ExecutionAlreadyExists');
  await expectError('StartExecution InvalidExecutionInput',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std', input: '{' })), 'InvalidExecutionInput');
  await expectError('StartExecution InvalidName',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std', name: 'a:b' })), 'InvalidName');
  await expectError('StartExecution StateMachineDoesNotExist',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'none' })), 'StateMachineDoesNotExist');
  await expectError('StartExecution InvalidArn',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:1:activity:a' })), 'InvalidArn');
  await expectError('StartExecution ValidationException over 256 KiB',
    c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-std',
      input: JSON.stringify('x'.repeat(262144)) })), 'ValidationException');

  const running = await c.send(new sfn.DescribeExecutionCommand({ executionArn: e.executionArn }));
  check('DescribeExecution of a RUNNING execution', running.status === 'RUNNING' && running.input === '{"n":1}'
    && running.name === 'e1' && running.stateMachineArn === SM + 'sdk-std' && !running.stopDate, running);
  const done = await untilStatus(c, e.executionArn, 'SUCCEEDED');
  check('DescribeExecution after the end', done.output === '{"n":1}' && done.stopDate instanceof Date, done);
  await expectError('DescribeExecution ExecutionDoesNotExist',
    c.send(new sfn.DescribeExecutionCommand({ executionArn: e.executionArn + 'x' })), 'ExecutionDoesNotExist');
  await expectError('DescribeExecution InvalidArn',
    c.send(new sfn.DescribeExecutionCommand({ executionArn: SM + 'sdk-std' })), 'InvalidArn');

  const h = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn }));
  const types = h.events.map((x) => x.type).join(',');
  check('GetExecutionHistory', types === 'ExecutionStarted,WaitStateEntered,WaitStateExited,PassStateEntered,'
    + 'PassStateExited,ExecutionSucceeded' && h.events[0].timestamp instanceof Date
    && h.events[0].executionStartedEventDetails.input === '{"n":1}', types);
  const r1 = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn, reverseOrder: true,
    maxResults: 4 }));
  const r2 = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn, reverseOrder: true,
    maxResults: 4, nextToken: r1.nextToken, includeExecutionData: false }));
  check('GetExecutionHistory pages in reverse', r1.events.map((x) => x.id).join() === '6,5,4,3'
    && r2.events.map((x) => x.id).join() === '2,1' && !r2.nextToken
    && r2.events[1].executionStartedEventDetails.input === undefined, { r1: r1.events.length, r2: r2.events });
  await expectError('GetExecutionHistory InvalidToken',
    c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn, nextToken: 'x' })), 'InvalidToken');
  await expectError('GetExecutionHistory ExecutionDoesNotExist',
    c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn + 'x' })), 'ExecutionDoesNotExist');

  const long = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-long' }));
  const stop = await c.send(new sfn.StopExecutionCommand({ executionArn: long.executionArn, error: 'Halt',
    cause: 'test' }));
  const stopped = await c.send(new sfn.DescribeExecutionCommand({ executionArn: long.executionArn }));
  check('StopExecution', stop.stopDate instanceof Date && stopped.status === 'ABORTED' && stopped.error === 'Halt'
    && stopped.cause === 'test', stopped);
  await expectError('StopExecution ExecutionDoesNotExist',
    c.send(new sfn.StopExecutionCommand({ executionArn: long.executionArn + 'x' })), 'ExecutionDoesNotExist');
  for (let i = 0; i < 3; i++) await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-long' }));
  const all = await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-long', maxResults: 3 }));
  const rest = await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-long', maxResults: 3,
    nextToken: all.nextToken }));
  const aborted = await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-long',
    statusFilter: 'ABORTED' }));
  check('ListExecutions pages and filters', all.executions.length === 3 && rest.executions.length === 1
    && aborted.executions.length === 1 && aborted.executions[0].executionArn === long.executionArn
    && all.executions[0].startDate instanceof Date, { all: all.executions.length, rest: rest.executions.length });
  await expectError('ListExecutions StateMachineDoesNotExist',
    c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'none' })), 'StateMachineDoesNotExist');
  await expectError('ListExecutions StateMachineTypeNotSupported',
    c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-express' })), 'StateMachineTypeNotSupported');
  await expectError('ListExecutions ValidationException',
    c.send(new sfn.ListExecutionsCommand({})), 'ValidationException');

  // StartSyncExecution: through the sync- host prefix, and without it
  const viaPrefix = await c.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: SM + 'sdk-express',
    input: '{"s":1}' }));
  check('StartSyncExecution with the sync- host prefix', viaPrefix.status === 'SUCCEEDED'
    && viaPrefix.output === '{"s":1}' && viaPrefix.billingDetails.billedDurationInMilliseconds >= 100
    && viaPrefix.startDate instanceof Date, viaPrefix);
  const noPrefix = await plain.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: SM + 'sdk-express' }));
  check('StartSyncExecution without the host prefix (disableHostPrefix)', noPrefix.status === 'SUCCEEDED', noPrefix);
  const failed = await c.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: SM + 'sdk-fail' }));
  check('StartSyncExecution of a failing execution answers 200', failed.status === 'FAILED'
    && failed.error === 'Boom' && failed.cause === 'on purpose' && failed.$metadata.httpStatusCode === 200, failed);
  await expectError('StartSyncExecution StateMachineTypeNotSupported',
    c.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: SM + 'sdk-std' })), 'StateMachineTypeNotSupported');
  await expectError('StartSyncExecution InvalidExecutionInput',
    c.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: SM + 'sdk-express', input: 'nope' })),
    'InvalidExecutionInput');
}

async function signed(p) {
  const ok = client(p);
  const out = await ok.send(new sfn.ListStateMachinesCommand({}));
  check('SigV4: a well-signed request is served', Array.isArray(out.stateMachines));
  await expectError('SigV4: a wrong secret is InvalidSignatureException',
    client(p, { credentials: { accessKeyId: 'AKIDSTEPFLOW', secretAccessKey: 'wrong' } })
      .send(new sfn.ListStateMachinesCommand({})), 'InvalidSignatureException');
  await expectError('SigV4: an unknown key is UnrecognizedClientException',
    client(p, { credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' } })
      .send(new sfn.ListStateMachinesCommand({})), 'UnrecognizedClientException');
  const sync = await ok.send(new sfn.CreateStateMachineCommand({ name: 'signed', definition: PASS, roleArn: ROLE,
    type: 'EXPRESS' }));
  const r = await ok.send(new sfn.StartSyncExecutionCommand({ stateMachineArn: sync.stateMachineArn }));
  check('SigV4: signed through the sync- host prefix', r.status === 'SUCCEEDED', r);
}

// Starts many executions at once and kills the server (SIGKILL) midway;
// writes the ARNs whose StartExecution was answered 200.
async function kill(c, pid, file) {
  await c.send(new sfn.CreateStateMachineCommand({ name: 'crash', definition: WAIT1, roleArn: ROLE }));
  const acked = [];
  let killed = false;
  const starts = [];
  for (let i = 0; i < 3000; i++) {
    starts.push(c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'crash', name: `k${i}`,
      input: `{"i":${i}}` })).then((out) => {
      acked.push(out.executionArn);
      if (acked.length >= 100 && !killed) {
        killed = true;
        process.kill(Number(pid), 'SIGKILL');
      }
    }, () => {}));
  }
  await Promise.all(starts);
  check('the server was killed with StartExecution calls in flight', killed && acked.length < 3000, acked.length);
  fs.writeFileSync(file, JSON.stringify(acked));
}

async function verify(c, file) {
  const acked = JSON.parse(fs.readFileSync(file, 'utf8'));
  check('some executions were acknowledged before the kill', acked.length >= 100, acked.length);
  const missing = [];
  let succeeded = 0;
  for (const arn of acked) {
    try {
      const d = await untilStatus(c, arn, 'SUCCEEDED');
      const i = Number(arn.match(/:k(\d+)$/)[1]);
      if (d.output === `{"i":${i}}`) succeeded++;
    } catch (e) {
      missing.push(`${arn}: ${e.name || e.message}`);
    }
  }
  check('every acknowledged execution survived the kill and finished', missing.length === 0
    && succeeded === acked.length, missing.slice(0, 5));
}

try {
  const c = client(port);
  if (mode === 'all') {
    await stateMachines(c);
    await executions(c, client(port, { endpoint: `http://127.0.0.1:${port}`, disableHostPrefix: true }));
    if (arg3) await signed(arg3);
  } else if (mode === 'kill') {
    await kill(c, arg3, arg4);
  } else if (mode === 'verify') {
    await verify(c, arg3);
  }
} catch (e) {
  failures.push(`threw: ${e.name}: ${e.message}`);
}
agent.destroy();
report();
