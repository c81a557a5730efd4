// Drives examples/onboarding through `stepflow serve` with the AWS SDK for
// JavaScript: a nested `.sync:2` execution, an HTTP Task through a
// connection, a `.waitForTaskToken` SQS step served by a Lua integration,
// and Step Functions Local's mock config, test cases picked by the
// `#TestCase` suffix of the state machine ARN, as Step Functions Local
// does. The server runs with the example's --mock-config, --connections
// and --handlers. Prints one JSON line: {"checks": N, "failures": [...]};
// spec/server/sdk_integrations_spec.lua runs it.
//
//   node onboarding.mjs PORT API_ROOT
import * as sfn from '@aws-sdk/client-sfn';
import fs from 'node:fs';
import { failures, check, report, sleep } from './report.mjs';

const [port, apiRoot] = process.argv.slice(2);
const DIR = 'examples/onboarding/';
const ROLE = 'arn:aws:iam::123456789012:role/onboarding';
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:';

const c = new sfn.SFNClient({
  region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDSTEPFLOW', secretAccessKey: 'any' }, disableHostPrefix: true,
});

const same = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
  return v;
}

async function finished(arn) {
  for (let i = 0; i < 1000; i++) {
    const d = await c.send(new sfn.DescribeExecutionCommand({ executionArn: arn }));
    if (d.status !== 'RUNNING') return d;
    await sleep(10);
  }
  throw new Error(`${arn} is still running`);
}

async function main() {
  const expected = JSON.parse(fs.readFileSync(DIR + 'expected.json', 'utf8'));
  for (const name of ['CustomerCheck', 'Onboarding']) {
    await c.send(new sfn.CreateStateMachineCommand({ name, roleArn: ROLE,
      definition: fs.readFileSync(`${DIR}${name}.asl.json`, 'utf8') }));
  }
  const input = JSON.parse(fs.readFileSync(DIR + 'input.json', 'utf8'));
  // (ApiBusyThenFound's Retry waits 2 s and 4 s of real time: the Lua API
  // spec runs it in virtual time)
  const cases = { HappyPath: input, GoldCustomer: input, UnknownCustomer: input, ReviewRefused: input,
    LiveApi: { customerId: 'cus_42', apiRoot } };
  for (const [tc, caseInput] of Object.entries(cases)) {
    const { executionArn } = await c.send(new sfn.StartExecutionCommand({
      stateMachineArn: `${SM}Onboarding#${tc}`, name: tc, input: JSON.stringify(caseInput) }));
    check(`${tc}: the execution is Onboarding's`, executionArn === `arn:aws:states:us-east-1:123456789012:execution:Onboarding:${tc}`,
      executionArn);
    const d = await finished(executionArn);
    const want = expected[tc];
    const got = { status: d.status };
    if (d.output !== undefined) got.output = JSON.parse(d.output);
    if (d.error !== undefined) { got.error = d.error; got.cause = d.cause; }
    check(`${tc}: ends as expected.json says`, same(got, want), { got, want });
    const { events } = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const types = events.map((e) => e.type);
    if (tc !== 'UnknownCustomer') {
      // the nested workflow: TaskSubmitted with StartExecution's answer, then the child's output
      check(`${tc}: the nested .sync:2 task was submitted`, types.includes('TaskSubmitted'), types);
      const child = (await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: `${SM}CustomerCheck` })))
        .executions.find((e) => {
          const sub = events.find((ev) => ev.type === 'TaskSubmitted'
            && ev.taskSubmittedEventDetails.resource === 'startExecution.sync:2');
          return sub && JSON.parse(sub.taskSubmittedEventDetails.output).ExecutionArn === e.executionArn;
        });
      check(`${tc}: the child execution is listed and ended`, child && child.status === 'SUCCEEDED', child);
    }
    const http = events.find((e) => e.type === 'TaskScheduled' && e.taskScheduledEventDetails.resource === 'invoke'
      && e.taskScheduledEventDetails.resourceType === 'http');
    check(`${tc}: the HTTP Task was scheduled`, http !== undefined, types);
  }
  // a test case the mock config lacks
  try {
    await c.send(new sfn.StartExecutionCommand({ stateMachineArn: `${SM}Onboarding#Nope`, input: '{}' }));
    check('an unknown test case is refused', false);
  } catch (e) {
    check('an unknown test case is refused', e.$metadata?.httpStatusCode === 400, { name: e.name, message: e.message });
  }
}

main().catch((e) => failures.push(`raised: ${e.stack || e}`)).finally(() => {
  report();
});
