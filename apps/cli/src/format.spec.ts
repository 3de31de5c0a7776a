import { ApplyOutcome, Lane } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import {
  formatApplyFailure,
  formatClusters,
  formatDeploy,
  formatInvokeOutput,
  formatServers,
  formatServices,
  formatTable,
} from './format';

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
          { name: 'svc', version: 'abcdefabcdefabcdef', lane: Lane.LANE_CPU, path: 'svc.ts', changed: false },
        ],
        servers: [
          {
            server: 's1',
            outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
            appliedRevision: 2,
            errors: [{ service: 'svc', message: 'bad' }],
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
    const ok = { server: 'a', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 1, errors: [] };
    expect(formatApplyFailure(1, [ok])).toBeUndefined();
    expect(formatApplyFailure(1, [])).toBeUndefined();
    expect(
      formatApplyFailure(1, [{ ...ok, server: 'b', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT }]),
    ).toBe('revision 1 was not applied by 1 of 1 server (b TIMED_OUT)');
  });

  it('says so when a list is empty', () => {
    expect(formatServices({ revision: 0, services: [] }, 'c')).toBe(
      "no services in cluster 'c' (revision 0)",
    );
    expect(formatServers({ revision: 0, servers: [] }, 'c')).toBe("no servers in cluster 'c'");
    expect(formatClusters({ clusters: [] })).toBe('no clusters');
  });

  it('pretty-prints invocation output; empty is null; non-JSON is kept', () => {
    expect(formatInvokeOutput('{"a":[1]}')).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(formatInvokeOutput('')).toBe('null');
    expect(formatInvokeOutput('"text"')).toBe('"text"');
    expect(formatInvokeOutput('not json')).toBe('not json');
  });
});
