import {
  ApplyOutcome,
  ApplyResponse,
  ConfigAction,
  DeployResponse,
  InvokeResponse,
  JobInfo,
  JobState,
  Lane,
  ListScheduleRunsResponse,
  ListServersResponse,
  ScheduleOverlap,
  ScheduleRunOutcome,
  Schedule,
} from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { formatJson } from './format';
import { toOutputJson } from './json-output';

describe('--json output', () => {
  it('prints enum values as their names without the prefix, in nested and repeated fields', () => {
    const deploy = DeployResponse.fromPartial({
      revision: 7,
      services: [{ name: 'hello', version: 'v1', lane: Lane.LANE_NETWORK, path: 'hello.ts', changed: true }],
      servers: [
        { server: 'a', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 7 },
        { server: 'b', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT, appliedRevision: 6 },
      ],
    });
    expect(JSON.parse(formatJson(deploy))).toMatchObject({
      revision: 7,
      services: [{ name: 'hello', lane: 'NETWORK', changed: true }],
      servers: [
        { server: 'a', outcome: 'ACKED', appliedRevision: 7, errors: [] },
        { server: 'b', outcome: 'TIMED_OUT', appliedRevision: 6 },
      ],
    });
    const servers = ListServersResponse.fromPartial({ servers: [{ name: 's1', lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU], pid: 42 }] });
    expect(toOutputJson(servers)).toMatchObject({ servers: [{ name: 's1', lanes: ['NETWORK', 'CPU'], pid: 42, connected: false }] });
  });

  it('tells same-named fields of different enums apart, names the zero value, keeps an unknown number', () => {
    const runs = ListScheduleRunsResponse.fromPartial({ runs: [{ jobId: 'j', outcome: ScheduleRunOutcome.SCHEDULE_RUN_OUTCOME_SKIPPED, attempt: 1 }] });
    expect(toOutputJson(runs)).toMatchObject({ runs: [{ jobId: 'j', outcome: 'SKIPPED', attempt: 1 }] });
    const apply = ApplyResponse.fromPartial({
      revision: 3,
      changes: [{ kind: 'channel', name: 'c', action: ConfigAction.CONFIG_ACTION_KEEP }],
      servers: [{ server: 'a', outcome: ApplyOutcome.APPLY_OUTCOME_UNSPECIFIED }],
    });
    expect(toOutputJson(apply)).toMatchObject({ changes: [{ action: 'KEEP' }], servers: [{ outcome: 'UNSPECIFIED' }] });
    const schedule = Schedule.fromPartial({ name: 's', spec: { service: 'x', overlap: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW, inputJson: '{"a":1}' } });
    expect(toOutputJson(schedule)).toMatchObject({ name: 's', spec: { service: 'x', overlap: 'ALLOW', input: { a: 1 } } });
    const future = JobInfo.fromPartial({ jobId: 'j', state: 42 as JobState });
    expect(toOutputJson(future)).toMatchObject({ state: 42 });
  });

  it("prints a …Json field's JSON as JSON under the name without Json (invoke, job), empty as null", () => {
    const invoked = InvokeResponse.fromPartial({ outputJson: '{"greeting":"Hello, Ada!"}', server: 's1', version: 'v1' });
    expect(JSON.parse(formatJson(invoked))).toEqual({ output: { greeting: 'Hello, Ada!' }, server: 's1', version: 'v1' });
    const job = JobInfo.fromPartial({ jobId: 'j', state: JobState.JOB_STATE_ACTIVE, inputJson: '[1,2]', outputJson: '' });
    expect(toOutputJson(job)).toMatchObject({ jobId: 'j', state: 'ACTIVE', input: [1, 2], output: null });
    expect(Object.keys(toOutputJson(job) as object)).not.toContain('outputJson');
    // Text that is not JSON is left as it came.
    expect(toOutputJson({ outputJson: 'not json' })).toEqual({ outputJson: 'not json' });
  });

  it('leaves objects the CLI composes and plain values alone, and does not change its input', () => {
    expect(toOutputJson({ jobId: 'j', count: 2, list: [1, 'a', null] })).toEqual({ jobId: 'j', count: 2, list: [1, 'a', null] });
    const deploy = DeployResponse.fromPartial({ services: [{ lane: Lane.LANE_CPU }] });
    toOutputJson(deploy);
    expect(deploy.services[0]!.lane).toBe(Lane.LANE_CPU);
  });
});
