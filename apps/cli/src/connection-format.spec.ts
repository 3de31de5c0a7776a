import { ApplyOutcome } from '@laneway/proto';
import type { Connection, SqlConnection } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import {
  connectionKind,
  connectionTarget,
  formatConnection,
  formatConnectionChange,
  formatConnections,
  formatConnectionTest,
  formatConnectionTestFailure,
} from './connection-format';

const SQL: SqlConnection = {
  host: 'db.local',
  port: 0,
  database: 'billing',
  user: 'app',
  password: '',
  passwordSet: true,
  url: '',
  tlsMode: '',
  caPem: '',
  poolSize: 0,
  statementTimeoutMs: 0,
  connectTimeoutMs: 0,
};

function connection(over: Partial<Connection>): Connection {
  return {
    name: 'billing',
    spec: { postgres: SQL },
    revision: 4,
    updatedAt: '2026-01-02T03:04:05.000Z',
    usedBy: [],
    ...over,
  };
}

describe('connection formatting', () => {
  it('names the kind and the target of each kind; SQL shows its default port', () => {
    expect(connectionKind({ mysql: SQL })).toBe('mysql');
    expect(connectionKind({})).toBe('unknown');
    expect(connectionTarget({ postgres: SQL })).toBe('app@db.local:5432/billing');
    expect(connectionTarget({ mysql: { ...SQL, host: '::1', port: 3307 } })).toBe('app@[::1]:3307/billing');
    expect(connectionTarget(undefined)).toBe('-');
  });

  it('never shows a password a URL might hold, though answers hold none', () => {
    const redis = {
      url: 'redis://u:hunter2@cache:6379',
      password: 'hunter2',
      passwordSet: true,
      keyPrefix: '',
      caPem: '',
    };
    expect(connectionTarget({ redis })).toBe('redis://u:***@cache:6379');
    const shown = formatConnection(connection({ name: 'cache', spec: { redis } }));
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('\npassword    set\n');
  });

  it('lists connections as a table, used by as a comma list; says when there are none', () => {
    expect(formatConnections({ revision: 3, connections: [] }, 'prod')).toBe(
      "no connections in cluster 'prod' (revision 3)",
    );
    expect(
      formatConnections(
        {
          revision: 9,
          connections: [
            connection({ usedBy: ['a.one', 'b.two'] }),
            connection({
              name: 'crm',
              spec: { rest: { baseUrl: 'https://crm', headers: {}, timeoutMs: 0, retries: 0, caPem: '' } },
              revision: 9,
            }),
          ],
        },
        'prod',
      ),
    ).toBe(
      [
        'NAME     KIND      TARGET                     USED BY       REVISION',
        'billing  postgres  app@db.local:5432/billing  a.one, b.two  4',
        'crm      rest      https://crm                -             9',
      ].join('\n'),
    );
  });

  it('prints a change with the target, then what each server did', () => {
    expect(
      formatConnectionChange(
        'created',
        'billing',
        {
          revision: 4,
          connection: connection({}),
          servers: [
            { server: 'srv-a', httpAddress: '', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 4, errors: [] },
          ],
        },
        { waited: true },
      ),
    ).toBe(
      [
        'created connection billing (postgres app@db.local:5432/billing): revision 4',
        'servers:',
        '  srv-a  ACKED  applied revision 4',
      ].join('\n'),
    );
    expect(
      formatConnectionChange(
        'deleted',
        'billing',
        { revision: 5, connection: undefined, servers: [] },
        { waited: false },
      ),
    ).toBe('deleted connection billing: revision 5\nservers: not waited for (--no-wait)');
  });

  it('prints a test: one line per server, ok and the latency or failed and why; the failure summary', () => {
    const servers = [
      { server: 'srv-a', ok: true, error: '', latencyMs: 12 },
      { server: 'srv-bb', ok: false, error: "connection 'billing': refused", latencyMs: 3 },
    ];
    expect(formatConnectionTest({ servers }, 'billing', 'prod')).toBe(
      ['srv-a   ok      12ms', "srv-bb  failed  connection 'billing': refused"].join('\n'),
    );
    expect(formatConnectionTestFailure('billing', servers)).toBe(
      'connection billing failed on 1 of 2 servers (srv-bb)',
    );
    expect(formatConnectionTestFailure('billing', servers.slice(0, 1))).toBeUndefined();
    expect(formatConnectionTest({ servers: [] }, 'billing', 'prod')).toBe(
      "no servers connected in cluster 'prod': connection billing was not tested",
    );
    expect(formatConnectionTestFailure('billing', [])).toBeUndefined();
  });
});
