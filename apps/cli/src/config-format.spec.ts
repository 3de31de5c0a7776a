import { ApplyOutcome, ConfigAction } from '@laneway/proto';
import type { ApplyResponse, ConfigChange, ExportResponse } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { exportJson, formatConfigApply, formatConfigDiff, formatExport, hasChanges } from './config-format';

function change(
  kind: string,
  name: string,
  action: ConfigAction,
  extra: Partial<ConfigChange> = {},
): ConfigChange {
  return { kind, name, action, fields: [], source: '', ...extra };
}

const CHANGES: ConfigChange[] = [
  change('channel', 'orders', ConfigAction.CONFIG_ACTION_ADD, { source: 'laneway.yaml: channels.orders' }),
  change('connection', 'billing', ConfigAction.CONFIG_ACTION_CHANGE, {
    fields: ['postgres.host', 'postgres.password'],
    source: 'laneway.yaml: connections.billing',
  }),
  change('schedule', 'nightly', ConfigAction.CONFIG_ACTION_UNCHANGED),
  change('service', 'crm.old', ConfigAction.CONFIG_ACTION_REMOVE),
  change('service', 'crm.x', ConfigAction.CONFIG_ACTION_KEEP),
  change('service', 'crm.get', ConfigAction.CONFIG_ACTION_ADD, { source: 'crm/get.ts' }),
];

const RESPONSE: ApplyResponse = { revision: 7, changes: CHANGES, applied: false, servers: [] };

describe('formatConfigDiff', () => {
  it('lists each change by its mark, hides the unchanged ones, and ends with the counts', () => {
    expect(formatConfigDiff(RESPONSE, { all: false, dir: './prod-config' })).toBe(
      [
        '+ channel orders (laneway.yaml: channels.orders)',
        '~ connection billing: postgres.host, postgres.password',
        '- service crm.old',
        '  not in ./prod-config, kept (--prune removes): service crm.x',
        '+ service crm.get (crm/get.ts)',
        '2 to add, 1 to change, 1 to remove, 1 unchanged, 1 not in ./prod-config, kept',
      ].join('\n'),
    );
    expect(formatConfigDiff({ ...RESPONSE, changes: [] }, { all: false, dir: 'd' })).toBe(
      '0 to add, 0 to change, 0 to remove, 0 unchanged, 0 not in d, kept',
    );
  });

  it('with --all, lists as many lines of each kind as the counts say, in the same words', () => {
    const lines = formatConfigDiff(RESPONSE, { all: true, dir: 'd' }).split('\n');
    const counts = lines.pop()!;
    expect(lines).toContain('= schedule nightly');
    const listed = (prefix: string) => lines.filter((line) => line.startsWith(prefix)).length;
    expect(counts).toBe(
      `${listed('+ ')} to add, ${listed('~ ')} to change, ${listed('- ')} to remove, ${listed('= ')} unchanged, ${listed('  not in d, kept')} not in d, kept`,
    );
    expect(lines).toHaveLength(CHANGES.length);
  });
});

describe('hasChanges (diff --exit-code)', () => {
  it('is true when something would be added, changed or removed; kept and unchanged are no change', () => {
    expect(hasChanges(CHANGES)).toBe(true);
    expect(hasChanges(CHANGES.filter((c) => c.action === ConfigAction.CONFIG_ACTION_REMOVE))).toBe(true);
    expect(
      hasChanges(CHANGES.filter((c) => c.action === ConfigAction.CONFIG_ACTION_UNCHANGED || c.action === ConfigAction.CONFIG_ACTION_KEEP)),
    ).toBe(false);
    expect(hasChanges([])).toBe(false);
  });
});

describe('formatConfigApply', () => {
  it('says the revision applied and what each server did', () => {
    const response: ApplyResponse = {
      ...RESPONSE,
      revision: 8,
      applied: true,
      servers: [
        { server: 'replica-1', httpAddress: '', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 8, errors: [] },
      ],
    };
    const text = formatConfigApply(response, { all: false, dir: 'd', waited: true });
    expect(text).toMatch(/^\+ channel orders/);
    expect(text).toContain(
      '\napplied revision 8: 2 added, 1 changed, 1 removed, 1 unchanged, 1 not in d, kept\nservers:\n  replica-1  ACKED',
    );
  });

  it('says when nothing differed', () => {
    const response: ApplyResponse = {
      revision: 7,
      applied: false,
      servers: [],
      changes: [change('schedule', 'nightly', ConfigAction.CONFIG_ACTION_UNCHANGED)],
    };
    expect(formatConfigApply(response, { all: false, dir: 'prod', waited: true })).toBe(
      'nothing to apply: revision 7 matches prod (0 added, 0 changed, 0 removed, 1 unchanged, 0 not in prod, kept)',
    );
  });
});

describe('formatExport', () => {
  const response: ExportResponse = {
    revision: 42,
    files: [
      { path: 'laneway.yaml', content: 'secret-ish' },
      { path: 'crm/get.ts', content: 'code' },
    ],
    secretReferences: ['BILLING_PG_PASSWORD', 'CRM_TOKEN'],
  };

  it('names the directory, the file count, the revision and the environment variables apply needs', () => {
    expect(formatExport(response, { cluster: 'prod', dir: './prod-config', removed: [] })).toBe(
      [
        'exported cluster prod at revision 42: 2 files in ./prod-config',
        'apply needs these environment variables: BILLING_PG_PASSWORD, CRM_TOKEN',
      ].join('\n'),
    );
    const encrypted = formatExport(
      { ...response, secretReferences: [] },
      { cluster: 'prod', dir: 'out', removed: ['old.ts'], keyFile: 'prod.key' },
    );
    expect(encrypted).toBe(
      [
        'exported cluster prod at revision 42: 2 files in out',
        'removed 1 file the cluster no longer has: old.ts',
        'secrets are encrypted under prod.key: apply needs --key-file prod.key',
      ].join('\n'),
    );
  });

  it('--json leaves the contents out', () => {
    expect(exportJson(response)).toEqual({
      revision: 42,
      files: [{ path: 'laneway.yaml' }, { path: 'crm/get.ts' }],
      secretReferences: ['BILLING_PG_PASSWORD', 'CRM_TOKEN'],
    });
  });
});
