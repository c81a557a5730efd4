// Drives `stepflow serve` with the AWS SDK for JavaScript v3 through the
// operations on versions, aliases, tags, redrives, Map Runs, TestState and
// ValidateStateMachineDefinition, and their error codes. Prints one JSON
// line: {"checks": N, "failures": [...]}; spec/server/sdk_spec.lua runs it
// (the server has spec/server/sdk/handlers.lua).
//
//   node api_operations.mjs PORT MARKER_FILE
import * as sfn from '@aws-sdk/client-sfn';
import fs from 'node:fs';
import { failures, check, report, sleep } from './report.mjs';

const [port, marker] = process.argv.slice(2);
const ROLE = 'arn:aws:iam::123456789012:role/sdk';
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:';
const R1 = '{"Comment":"R1","StartAt":"P","States":{"P":{"Type":"Pass","Result":"one","End":true}}}';
const R2 = '{"Comment":"R2","StartAt":"P","States":{"P":{"Type":"Pass","Result":"two","End":true}}}';

const c = new sfn.SFNClient({
  region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1, disableHostPrefix: true,
  credentials: { accessKeyId: 'AKIDSTEPFLOW', secretAccessKey: 'stepflow-secret' },
});

async function expectError(what, promise, name) {
  try {
    const out = await promise;
    check(what, false, { expected: name, got: out });
  } catch (e) {
    check(what, e.name === name && e.$metadata?.httpStatusCode === 400 && typeof e.message === 'string',
      { expected: name, got: e.name, message: e.message });
    return e;
  }
}

async function untilStatus(arn, status) {
  for (let i = 0; i < 300; i++) {
    const d = await c.send(new sfn.DescribeExecutionCommand({ executionArn: arn }));
    if (d.status === status) return d;
    await sleep(10);
  }
  throw new Error(`${arn} never reached ${status}`);
}

async function versionsAndAliases() {
  const created = await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-v', definition: R1, roleArn: ROLE,
    publish: true, versionDescription: 'first', tags: [{ key: 'team', value: 'a' }] }));
  check('CreateStateMachine publishes version 1', created.stateMachineVersionArn === SM + 'sdk-v:1', created);
  const up = await c.send(new sfn.UpdateStateMachineCommand({ stateMachineArn: SM + 'sdk-v', definition: R2,
    publish: true }));
  check('UpdateStateMachine publishes version 2', up.stateMachineVersionArn === SM + 'sdk-v:2' && up.revisionId, up);
  const again = await c.send(new sfn.PublishStateMachineVersionCommand({ stateMachineArn: SM + 'sdk-v' }));
  check('PublishStateMachineVersion of the same revision returns its version',
    again.stateMachineVersionArn === SM + 'sdk-v:2' && again.creationDate instanceof Date, again);
  await expectError('PublishStateMachineVersion ConflictException',
    c.send(new sfn.PublishStateMachineVersionCommand({ stateMachineArn: SM + 'sdk-v', revisionId: 'old' })),
    'ConflictException');
  const list = await c.send(new sfn.ListStateMachineVersionsCommand({ stateMachineArn: SM + 'sdk-v' }));
  check('ListStateMachineVersions, newest first', list.stateMachineVersions.map((v) => v.stateMachineVersionArn)
    .join() === `${SM}sdk-v:2,${SM}sdk-v:1`, list);
  const v1 = await c.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: SM + 'sdk-v:1' }));
  check('DescribeStateMachine of a version', v1.definition === R1 && v1.description === 'first', v1);

  const alias = await c.send(new sfn.CreateStateMachineAliasCommand({ name: 'live', description: 'd',
    routingConfiguration: [{ stateMachineVersionArn: SM + 'sdk-v:1', weight: 100 }] }));
  check('CreateStateMachineAlias', alias.stateMachineAliasArn === SM + 'sdk-v:live'
    && alias.creationDate instanceof Date, alias);
  await expectError('CreateStateMachineAlias ConflictException',
    c.send(new sfn.CreateStateMachineAliasCommand({ name: 'live',
      routingConfiguration: [{ stateMachineVersionArn: SM + 'sdk-v:2', weight: 100 }] })), 'ConflictException');
  await expectError('CreateStateMachineAlias ValidationException (weights)',
    c.send(new sfn.CreateStateMachineAliasCommand({ name: 'bad', routingConfiguration: [
      { stateMachineVersionArn: SM + 'sdk-v:1', weight: 50 }, { stateMachineVersionArn: SM + 'sdk-v:2', weight: 40 }] })),
    'ValidationException');
  await expectError('CreateStateMachineAlias ResourceNotFound',
    c.send(new sfn.CreateStateMachineAliasCommand({ name: 'ghost',
      routingConfiguration: [{ stateMachineVersionArn: SM + 'sdk-v:9', weight: 100 }] })), 'ResourceNotFound');
  const e = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-v:live' }));
  const d = await untilStatus(e.executionArn, 'SUCCEEDED');
  check('StartExecution through an alias runs its version', d.output === '"one"'
    && d.stateMachineAliasArn === SM + 'sdk-v:live' && d.stateMachineVersionArn === SM + 'sdk-v:1', d);
  await c.send(new sfn.UpdateStateMachineAliasCommand({ stateMachineAliasArn: SM + 'sdk-v:live',
    routingConfiguration: [{ stateMachineVersionArn: SM + 'sdk-v:2', weight: 100 }] }));
  const da = await c.send(new sfn.DescribeStateMachineAliasCommand({ stateMachineAliasArn: SM + 'sdk-v:live' }));
  check('UpdateStateMachineAlias, DescribeStateMachineAlias', da.routingConfiguration[0].stateMachineVersionArn
    === SM + 'sdk-v:2' && da.updateDate instanceof Date, da);
  const aliases = await c.send(new sfn.ListStateMachineAliasesCommand({ stateMachineArn: SM + 'sdk-v' }));
  check('ListStateMachineAliases', aliases.stateMachineAliases.length === 1, aliases);
  const execs = await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-v:1' }));
  check('ListExecutions of a version', execs.executions.length === 1
    && execs.executions[0].stateMachineVersionArn === SM + 'sdk-v:1', execs);
  await expectError('DeleteStateMachineVersion ConflictException',
    c.send(new sfn.DeleteStateMachineVersionCommand({ stateMachineVersionArn: SM + 'sdk-v:2' })), 'ConflictException');
  await c.send(new sfn.DeleteStateMachineVersionCommand({ stateMachineVersionArn: SM + 'sdk-v:1' }));
  await c.send(new sfn.DeleteStateMachineAliasCommand({ stateMachineAliasArn: SM + 'sdk-v:live' }));
  await expectError('DescribeStateMachineAlias ResourceNotFound',
    c.send(new sfn.DescribeStateMachineAliasCommand({ stateMachineAliasArn: SM + 'sdk-v:live' })), 'ResourceNotFound');
}

async function tags() {
  await c.send(new sfn.TagResourceCommand({ resourceArn: SM + 'sdk-v', tags: [{ key: 'env', value: 'dev' }] }));
  await c.send(new sfn.UntagResourceCommand({ resourceArn: SM + 'sdk-v', tagKeys: ['team'] }));
  const t = await c.send(new sfn.ListTagsForResourceCommand({ resourceArn: SM + 'sdk-v' }));
  check('Tag, Untag, ListTagsForResource', t.tags.length === 1 && t.tags[0].key === 'env', t);
  const many = Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
  const e = await expectError('TagResource TooManyTags',
    c.send(new sfn.TagResourceCommand({ resourceArn: SM + 'sdk-v', tags: many })), 'TooManyTags');
  check('TooManyTags names the resource', e && e.resourceName === SM + 'sdk-v', e && e.resourceName);
  await expectError('ListTagsForResource ResourceNotFound',
    c.send(new sfn.ListTagsForResourceCommand({ resourceArn: SM + 'sdk-v:2' })), 'ResourceNotFound');
  const act = (await c.send(new sfn.CreateActivityCommand({ name: 'sdk-tagged',
    tags: [{ key: 'team', value: 'b' }] }))).activityArn;
  await c.send(new sfn.TagResourceCommand({ resourceArn: act, tags: [{ key: 'env', value: 'prod' }] }));
  const at = await c.send(new sfn.ListTagsForResourceCommand({ resourceArn: act }));
  check('an activity\'s tags', JSON.stringify(at.tags) ===
    '[{"key":"team","value":"b"},{"key":"env","value":"prod"}]', at.tags);
}

async function redrive() {
  const def = JSON.stringify({ StartAt: 'Prep', States: { Prep: { Type: 'Pass', Next: 'Work' },
    Work: { Type: 'Task', Resource: 'flaky', End: true } } });
  await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-r', definition: def, roleArn: ROLE }));
  const e = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-r',
    input: JSON.stringify({ marker }) }));
  await untilStatus(e.executionArn, 'FAILED');
  fs.writeFileSync(marker, 'fixed');
  const r = await c.send(new sfn.RedriveExecutionCommand({ executionArn: e.executionArn }));
  check('RedriveExecution answers its date', r.redriveDate instanceof Date, r);
  const d = await untilStatus(e.executionArn, 'SUCCEEDED');
  check('a redriven execution succeeds, counted', d.redriveCount === 1 && d.redriveDate instanceof Date
    && d.redriveStatus === 'NOT_REDRIVABLE' && d.output === '{"fixed":true}', d);
  const h = await c.send(new sfn.GetExecutionHistoryCommand({ executionArn: e.executionArn }));
  const redriven = h.events.find((x) => x.type === 'ExecutionRedriven');
  check('ExecutionRedriven in the history', redriven && redriven.executionRedrivenEventDetails.redriveCount === 1
    && h.events.filter((x) => x.type === 'PassStateEntered').length === 1, h.events.map((x) => x.type));
  const l = await c.send(new sfn.ListExecutionsCommand({ stateMachineArn: SM + 'sdk-r', redriveFilter: 'REDRIVEN' }));
  check('ListExecutions redriveFilter', l.executions.length === 1 && l.executions[0].redriveCount === 1, l);
  await expectError('RedriveExecution ExecutionNotRedrivable',
    c.send(new sfn.RedriveExecutionCommand({ executionArn: e.executionArn })), 'ExecutionNotRedrivable');
  await expectError('RedriveExecution ExecutionDoesNotExist',
    c.send(new sfn.RedriveExecutionCommand({ executionArn: e.executionArn + 'x' })), 'ExecutionDoesNotExist');
}

async function mapRuns() {
  const def = JSON.stringify({ StartAt: 'M', States: { M: { Type: 'Map', Label: 'each', End: true,
    ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'P',
      States: { P: { Type: 'Pass', End: true } } } } } });
  await c.send(new sfn.CreateStateMachineCommand({ name: 'sdk-m', definition: def, roleArn: ROLE }));
  const e = await c.send(new sfn.StartExecutionCommand({ stateMachineArn: SM + 'sdk-m', input: '[1,2]' }));
  await untilStatus(e.executionArn, 'SUCCEEDED');
  const runs = await c.send(new sfn.ListMapRunsCommand({ executionArn: e.executionArn }));
  const run = runs.mapRuns[0];
  check('ListMapRuns', runs.mapRuns.length === 1 && run.stateMachineArn === SM + 'sdk-m/each'
    && run.startDate instanceof Date, runs);
  const d = await c.send(new sfn.DescribeMapRunCommand({ mapRunArn: run.mapRunArn }));
  check('DescribeMapRun', d.status === 'SUCCEEDED' && d.itemCounts.succeeded === 2 && d.stopDate instanceof Date, d);
  const children = await c.send(new sfn.ListExecutionsCommand({ mapRunArn: run.mapRunArn }));
  check('ListExecutions of a Map Run', children.executions.length === 2
    && children.executions[0].mapRunArn === run.mapRunArn, children);
  await expectError('UpdateMapRun of a finished run', c.send(new sfn.UpdateMapRunCommand({ mapRunArn: run.mapRunArn,
    maxConcurrency: 3 })), 'ValidationException');
  await expectError('DescribeMapRun ResourceNotFound',
    c.send(new sfn.DescribeMapRunCommand({ mapRunArn: run.mapRunArn + 'x' })), 'ResourceNotFound');
}

async function testAndValidate() {
  const t = await c.send(new sfn.TestStateCommand({ definition: JSON.stringify({ Type: 'Pass',
    InputPath: '$.a', ResultPath: '$.b', Next: 'After' }), input: '{"a":{"x":1}}', inspectionLevel: 'DEBUG' }));
  check('TestState of a Pass', t.status === 'SUCCEEDED' && t.nextState === 'After'
    && t.output === '{"a":{"x":1},"b":{"x":1}}' && t.inspectionData.afterInputPath === '{"x":1}', t);
  const m = await c.send(new sfn.TestStateCommand({ definition: JSON.stringify({ Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke', Retry: [{ ErrorEquals: ['Oops'], MaxAttempts: 2 }], End: true }),
  mock: { errorOutput: { error: 'Oops', cause: 'mocked' } }, inspectionLevel: 'TRACE',
  stateConfiguration: { retrierRetryCount: 1 } }));
  check('TestState of a mocked error with retries left', m.status === 'RETRIABLE'
    && m.inspectionData.errorDetails.retryIndex === 0 && m.inspectionData.errorDetails.retryBackoffIntervalSeconds === 2,
  m);
  await expectError('TestState ValidationException', c.send(new sfn.TestStateCommand({
    definition: '{"Type":"Pass","End":true}', mock: { result: '{}' } })), 'ValidationException');
  await expectError('TestState InvalidDefinition', c.send(new sfn.TestStateCommand({
    definition: '{"Type":"Nope"}' })), 'InvalidDefinition');
  const ok = await c.send(new sfn.ValidateStateMachineDefinitionCommand({ definition: R1 }));
  check('ValidateStateMachineDefinition OK', ok.result === 'OK' && ok.diagnostics.length === 0
    && ok.truncated === false, ok);
  const bad = await c.send(new sfn.ValidateStateMachineDefinitionCommand({
    definition: '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Z"}}}', severity: 'WARNING', maxResults: 1 }));
  check('ValidateStateMachineDefinition FAIL', bad.result === 'FAIL' && bad.diagnostics.length === 1
    && bad.diagnostics[0].code === 'MISSING_TRANSITION_TARGET' && bad.diagnostics[0].location === '/States/A/Next', bad);
}

try {
  await versionsAndAliases();
  await tags();
  await redrive();
  await mapRuns();
  await testAndValidate();
} catch (e) {
  failures.push(`threw: ${e.name}: ${e.message}`);
}
report();
