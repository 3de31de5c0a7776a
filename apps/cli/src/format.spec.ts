import { ApplyOutcome, JobState, Lane } from '@laneway/proto';
import type { DeploymentStatus, JobInfo } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import {
  formatApplyFailure,
  formatClusters,
  formatDeploy,
  formatDeploymentStatus,
  formatFailedJobs,
  formatInvokeOutput,
  formatJob,
  formatNotConverged,
  formatRollback,
  formatServer,
  formatServers,
  formatServices,
  formatServiceVersions,
  formatTable,
} from './format';

const POLICY = { timeoutMs: 0, attempts: 0, concurrency: 0 };

const JOB: JobInfo = {
  jobId: 'job-1',
  service: 'svc',
  state: JobState.JOB_STATE_WAITING,
  attemptsMade: 0,
  inputJson: '',
  outputJson: '',
  failedReason: '',
  createdAt: '2025-01-02T03:04:05.000Z',
  finishedAt: '',
};

describe('format', () => {
  it('pads table columns without trailing spaces', () => {
    expect(
      formatTable([
        ['a', 'bb', ''],
        ['ccc', 'd', 'e'],
      ]),
    ).toBe('a    bb\nccc  d   e');
  });

  it('formats a deploy: revision, services, servers with errors', () => {
    const text = formatDeploy(
      {
        revision: 3,
        services: [
          {
            name: 'svc',
            version: 'abcdefabcdefabcdef',
            lane: Lane.LANE_CPU,
            path: 'svc.ts',
            changed: false,
            policy: POLICY,
          },
        ],
        servers: [
          {
            server: 's1',
            httpAddress: '',
            outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
            appliedRevision: 2,
            errors: [{ service: 'svc', kind: '', message: 'bad' }],
          },
        ],
      },
      { waited: true },
    );
    expect(text).toBe(
      'revision 3\nservices:\n  svc  abcdefabcdef  cpu  unchanged\nservers:\n  s1  NACKED  applied revision 2\n    svc: bad',
    );
    expect(formatDeploy({ revision: 4, services: [], servers: [] }, { waited: true })).toBe(
      'revision 4\nservices: none\nservers: none connected',
    );
  });

  it('summarises servers that did not apply a revision', () => {
    const ok = { server: 'a', httpAddress: '', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 1, errors: [] };
    expect(formatApplyFailure(1, [ok])).toBeUndefined();
    expect(formatApplyFailure(1, [])).toBeUndefined();
    expect(
      formatApplyFailure(1, [{ ...ok, server: 'b', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT }]),
    ).toBe('revision 1 was not applied by 1 of 1 server (b TIMED_OUT)');
  });

  it('says so when a list is empty', () => {
    expect(formatServices({ revision: 0, services: [], nextPageToken: '' }, 'c')).toBe(
      "no services in cluster 'c' (revision 0)",
    );
    expect(formatServers({ revision: 0, servers: [] }, 'c')).toBe("no servers in cluster 'c'");
    expect(formatClusters({ clusters: [] })).toBe('no clusters');
    expect(formatServiceVersions({ versions: [] }, 'svc')).toBe("no versions of service 'svc'");
    expect(formatFailedJobs({ jobs: [] }, { cluster: 'c' })).toBe("no failed jobs in cluster 'c'");
    expect(formatFailedJobs({ jobs: [] }, { cluster: 'c', service: 'svc' })).toBe(
      "no failed jobs of service 'svc' in cluster 'c'",
    );
    expect(formatDeploymentStatus({ cluster: 'c', desiredRevision: 3, servers: [] })).toBe(
      "cluster c: desired revision 3\nno servers in cluster 'c'",
    );
  });

  it('shows one server as the servers table does, with its drained state', () => {
    expect(
      formatServer({
        name: 's1',
        host: 'h',
        pid: 1,
        lanes: [],
        connected: false,
        appliedRevision: 4,
        lastSeen: '',
        lastNack: [],
        drained: true,
        httpAddress: '10.0.0.5:8080',
        controlPlaneId: '',
      }),
    ).toBe(
      [
        'NAME  CONNECTED  DRAINED  CHANNELS AT    APPLIED REVISION  LANES  LAST SEEN  LAST NACK',
        's1    no         yes      10.0.0.5:8080  4                 -      -          -',
      ].join('\n'),
    );
  });

  it('counts only connected servers as not converged', () => {
    const server = {
      server: 'a',
      connected: true,
      drained: false,
      appliedRevision: 5,
      converged: true,
      lastSeen: '',
      lastNack: [],
    };
    const status: DeploymentStatus = {
      cluster: 'c',
      desiredRevision: 5,
      servers: [
        server,
        { ...server, server: 'gone', connected: false, appliedRevision: 1, converged: false },
      ],
    };
    expect(formatNotConverged(status)).toBeUndefined();
    expect(
      formatNotConverged({
        ...status,
        servers: [...status.servers, { ...server, server: 'b', appliedRevision: 4, converged: false }],
      }),
    ).toBe('1 of 2 connected servers not converged on revision 5 (b at 4)');
  });

  it('formats a rollback without a service line when the response has none', () => {
    expect(formatRollback({ revision: 2, service: undefined, servers: [] }, { waited: false })).toBe(
      'revision 2\nservice: none\nservers: not waited for (--no-wait)',
    );
  });

  it('keeps only the first line of a failed reason in the failed jobs table', () => {
    const failed = {
      ...JOB,
      state: JobState.JOB_STATE_FAILED,
      attemptsMade: 3,
      failedReason: 'Error: boom\n    at handler (svc.ts:1:1)',
      finishedAt: '2025-01-02T03:04:06.000Z',
    };
    expect(formatFailedJobs({ jobs: [failed] }, { cluster: 'c' })).toBe(
      [
        'ID     SERVICE  ATTEMPTS  FAILED REASON  FINISHED',
        'job-1  svc      3         Error: boom    2025-01-02T03:04:06.000Z',
      ].join('\n'),
    );
  });

  it('shows a job: fields, input, output only once there is one, failed reason only when set', () => {
    expect(formatJob(JOB)).toBe(
      [
        'job       job-1',
        'service   svc',
        'state     waiting',
        'attempts  0',
        'created   2025-01-02T03:04:05.000Z',
        'finished  -',
        'input:',
        '  null',
      ].join('\n'),
    );
    expect(
      formatJob({
        ...JOB,
        state: JobState.JOB_STATE_FAILED,
        attemptsMade: 2,
        inputJson: '{"a":1}',
        failedReason: 'Error: boom\n    at x\n',
      }),
    ).toContain(
      ['input:', '  {', '    "a": 1', '  }', 'failed reason:', '  Error: boom', '      at x'].join('\n'),
    );
  });

  it('pretty-prints invocation output; empty is null; non-JSON is kept', () => {
    expect(formatInvokeOutput('{"a":[1]}')).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(formatInvokeOutput('')).toBe('null');
    expect(formatInvokeOutput('"text"')).toBe('"text"');
    expect(formatInvokeOutput('not json')).toBe('not json');
  });
});
