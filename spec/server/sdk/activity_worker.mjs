// An activity worker written as AWS's SDK for JavaScript v3 users write
// them, against `stepflow serve`: it creates an activity and a state
// machine, starts executions, and works their tasks with GetActivityTask,
// SendTaskHeartbeat, SendTaskSuccess and SendTaskFailure; workers parked
// before the tasks exist get them as they are scheduled. Then the
// activity operations and their error codes as the SDK reports them.
// Prints one JSON line: {"checks": N, "failures": [...]};
// spec/server/sdk_spec.lua runs it.
//
//   node activity_worker.mjs PORT IDLE_PORT
//
// IDLE_PORT: a server whose polls end at once (--poll-timeout 0), for the
// empty answer; PORT's polls wait as long as AWS's.
import * as sfn from '@aws-sdk/client-sfn';
import { failures, check, report } from './report.mjs';

const [port, idlePort] = process.argv.slice(2);
const client = (p) => new sfn.SFNClient({
  region: 'us-east-1', endpoint: `http://127.0.0.1:${p}`, maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDWORKER', secretAccessKey: 'any' },
});
const c = client(port);

async function expectError(what, promise, name) {
  try {
    const out = await promise;
    check(what, false, { expected: name, got: out });
  } catch (e) {
    check(what, e.name === name && e.$metadata?.httpStatusCode === 400, { expected: name, got: e.name });
  }
}

async function untilEnded(arn) {
  for (let i = 0; i < 500; i++) {
    const d = await c.send(new sfn.DescribeExecutionCommand({ executionArn: arn }));
    if (d.status !== 'RUNNING') return d;
  }
  throw new Error(`${arn} still RUNNING`);
}

// One worker: takes a task, beats once, and answers it (the odd ones fail).
async function work(activityArn, name) {
  const t = await c.send(new sfn.GetActivityTaskCommand({ activityArn, workerName: name }));
  if (!t.taskToken) return null;
  const input = JSON.parse(t.input);
  await c.send(new sfn.SendTaskHeartbeatCommand({ taskToken: t.taskToken }));
  if (input.i % 2 === 1) {
    await c.send(new sfn.SendTaskFailureCommand({ taskToken: t.taskToken, error: 'Worker.Odd', cause: `odd ${input.i}` }));
  } else {
    await c.send(new sfn.SendTaskSuccessCommand({ taskToken: t.taskToken, output: JSON.stringify({ doubled: input.i * 2 }) }));
  }
  return t.taskToken;
}

async function main() {
  const { activityArn } = await c.send(new sfn.CreateActivityCommand({ name: 'sdk-worker' }));
  check('CreateActivity ARN', activityArn === 'arn:aws:states:us-east-1:123456789012:activity:sdk-worker', activityArn);
  const again = await c.send(new sfn.CreateActivityCommand({ name: 'sdk-worker' }));
  check('CreateActivity is idempotent', again.activityArn === activityArn);
  const d = await c.send(new sfn.DescribeActivityCommand({ activityArn }));
  check('DescribeActivity', d.name === 'sdk-worker' && d.creationDate instanceof Date, d);
  const list = await c.send(new sfn.ListActivitiesCommand({}));
  check('ListActivities', list.activities.some((a) => a.activityArn === activityArn), list);

  const { stateMachineArn } = await c.send(new sfn.CreateStateMachineCommand({
    name: 'sdk-activity', roleArn: 'arn:aws:iam::123456789012:role/sdk',
    definition: JSON.stringify({ StartAt: 'Work', States: {
      Work: { Type: 'Task', Resource: activityArn, HeartbeatSeconds: 60, End: true } } }),
  }));

  // three workers parked before anything is scheduled
  const parked = [1, 2, 3].map((n) => work(activityArn, `parked-${n}`));
  const arns = [];
  for (let i = 0; i < 6; i++) {
    const { executionArn } = await c.send(new sfn.StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ i }) }));
    arns.push(executionArn);
  }
  const tokens = (await Promise.all(parked)).filter(Boolean);
  check('parked workers got tasks', tokens.length === 3, tokens.length);
  // the rest, one worker in a loop
  let worked = tokens.length;
  for (let n = 0; n < 50 && worked < 6; n++) {
    const token = await work(activityArn, 'looping');
    if (token) { worked++; tokens.push(token); }
  }
  check('every task worked once', worked === 6, worked);
  for (let i = 0; i < 6; i++) {
    const e = await untilEnded(arns[i]);
    if (i % 2 === 1) {
      check(`execution ${i} failed`, e.status === 'FAILED' && e.error === 'Worker.Odd' && e.cause === `odd ${i}`, e);
    } else {
      check(`execution ${i} succeeded`, e.status === 'SUCCEEDED' && e.output === JSON.stringify({ doubled: i * 2 }), e);
    }
    const h = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn: arns[i] }));
    const started = h.events.filter((ev) => ev.type === 'ActivityStarted');
    check(`execution ${i} started once by a worker`, started.length === 1
      && /^(parked-\d|looping)$/.test(started[0].activityStartedEventDetails.workerName), started);
  }

  // nothing to do: the poll ends without a token
  const idle = client(idlePort);
  const idleArn = (await idle.send(new sfn.CreateActivityCommand({ name: 'sdk-idle' }))).activityArn;
  const empty = await idle.send(new sfn.GetActivityTaskCommand({ activityArn: idleArn, workerName: 'late' }));
  check('an empty poll has no taskToken', empty.taskToken === undefined && empty.input === undefined, empty);

  await expectError('SendTaskSuccess on an ended task', c.send(new sfn.SendTaskSuccessCommand({
    taskToken: tokens[0], output: '{}' })), 'TaskTimedOut');
  await expectError('SendTaskHeartbeat with a bad token', c.send(new sfn.SendTaskHeartbeatCommand({
    taskToken: 'bad' })), 'InvalidToken');
  await expectError('GetActivityTask on a missing activity', c.send(new sfn.GetActivityTaskCommand({
    activityArn: 'arn:aws:states:us-east-1:123456789012:activity:none' })), 'ActivityDoesNotExist');
  await expectError('DescribeActivity on a state machine ARN', c.send(new sfn.DescribeActivityCommand({
    activityArn: stateMachineArn })), 'InvalidArn');
  await c.send(new sfn.DeleteActivityCommand({ activityArn }));
  await expectError('DescribeActivity once deleted', c.send(new sfn.DescribeActivityCommand({ activityArn })),
    'ActivityDoesNotExist');
}

try {
  await main();
} catch (e) {
  failures.push(`unexpected: ${e.name}: ${e.message}`);
}
report();
