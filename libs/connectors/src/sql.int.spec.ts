import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { ConnectionSpec, SqlConnection } from '@laneway/proto';
import { sql } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from './connection-error';
import { Connectors } from './connectors';

const unique = (): string => `lw_${randomBytes(5).toString('hex')}`;

function sqlSpec(fields: Partial<SqlConnection>): SqlConnection {
  return {
    host: '127.0.0.1',
    port: 0,
    database: 'test',
    user: '',
    password: '',
    passwordSet: false,
    url: '',
    tlsMode: '',
    caPem: '',
    poolSize: 0,
    statementTimeoutMs: 0,
    connectTimeoutMs: 0,
    ...fields,
  };
}

const postgres = (fields: Partial<SqlConnection>): ConnectionSpec => ({ postgres: sqlSpec({ user: 'postgres', ...fields }) });
const mariadb = (fields: Partial<SqlConnection>): ConnectionSpec => ({ mysql: sqlSpec({ user: 'root', ...fields }) });

async function expectConnectionError(work: Promise<unknown>): Promise<ConnectionError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectionError);
  return err as ConnectionError;
}

describe('Connectors: PostgreSQL', () => {
  const admin = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });
  const roles: string[] = [];

  afterAll(async () => {
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  /** A login role; with a password, a member of laneway_pw, which tools/dev/pg-password-auth.sh makes check it. */
  async function createRole(password?: string): Promise<string> {
    const role = unique();
    roles.push(role);
    const auth = password === undefined ? '' : ` PASSWORD '${password}' IN ROLE laneway_pw`;
    await admin.query(`CREATE ROLE ${role} LOGIN${auth}`);
    return role;
  }

  it('runs Kysely queries and transactions on a pooled connection', async () => {
    const table = unique();
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'crm', version: 'v1', spec: postgres({}) }]);
    const db = connectors.sql('crm');
    try {
      await db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute();
      await db.insertInto(table).values([{ id: 1, name: 'Ada' }, { id: 2, name: 'Grace' }]).execute();
      await db.transaction().execute(async (trx) => {
        await trx.updateTable(table).set({ name: 'Ada L.' }).where('id', '=', 1).execute();
      });
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.deleteFrom(table).execute();
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const rows = await db.selectFrom(table).selectAll().orderBy('id').execute();
      expect(rows).toEqual([
        { id: 1, name: 'Ada L.' },
        { id: 2, name: 'Grace' },
      ]);
      // A service destroying its instance must not close the shared pool.
      await db.destroy();
      const again = await sql<{ one: number }>`select 1 as one`.execute(connectors.sql('crm'));
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      await db.schema.dropTable(table).ifExists().execute();
      await connectors.close();
    }
  });

  it('keeps query errors the driver’s own (code kept), naming the connection', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'crm', version: 'v1', spec: postgres({ statementTimeoutMs: 200 }) }]);
    try {
      const err = (await sql`select * from ${sql.table(unique())}`.execute(connectors.sql('crm')).catch((e: unknown) => e)) as Error & { code?: string };
      expect(err.code).toBe('42P01');
      expect(err.message).toMatch(/^connection 'crm' \(postgres 127\.0\.0\.1:5432\/test\): relation .* does not exist/);
      // statement_timeout_ms reaches the server.
      const slow = (await sql`select pg_sleep(2)`.execute(connectors.sql('crm')).catch((e: unknown) => e)) as Error & { code?: string };
      expect(slow.code).toBe('57014');
    } finally {
      await connectors.close();
    }
  });

  it('moves calls to new settings under steady load, fails none, and closes the old pools', async () => {
    const server = unique();
    const [roleA, roleB] = [await createRole(), await createRole()];
    const connectors = new Connectors({ server, drainTimeoutMs: 10_000 });
    connectors.replace([{ name: 'crm', version: 'v1', spec: postgres({ poolSize: 4 }) }]);
    const seen = new Set<string>();
    let ok = 0;
    const failures: unknown[] = [];
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        try {
          const db = connectors.sql('crm');
          const { rows } = await sql<{ who: string }>`select current_user as who, pg_sleep(0.005)`.execute(db);
          seen.add(rows[0]!.who);
          if (ok % 5 === 0) {
            await db.transaction().execute(async (trx) => {
              await sql`select 1`.execute(trx);
              await sql`select pg_sleep(0.01)`.execute(trx);
            });
          }
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    try {
      await new Promise((r) => setTimeout(r, 300));
      connectors.replace([{ name: 'crm', version: 'v2', spec: postgres({ user: roleA, poolSize: 4 }) }]);
      await new Promise((r) => setTimeout(r, 300));
      connectors.replace([{ name: 'crm', version: 'v3', spec: postgres({ user: roleB, poolSize: 4 }) }]);
      await new Promise((r) => setTimeout(r, 300));
      running = false;
      await Promise.all(workers);
      await connectors.whenDrained();

      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(50);
      expect([...seen].sort()).toEqual(['postgres', roleA, roleB].sort());
      // Only the current version's pool is still connected (closed backends leave the view a moment later).
      let users: string[] = [];
      for (let i = 0; i < 50; i++) {
        const { rows } = await admin.query<{ usename: string; n: string }>(
          `SELECT usename, count(*) AS n FROM pg_stat_activity WHERE application_name = $1 GROUP BY usename`,
          [`laneway ${server}`],
        );
        users = rows.map((r) => r.usename);
        if (users.length === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(users).toEqual([roleB]);
    } finally {
      running = false;
      await Promise.all(workers);
      await connectors.close();
    }
    // A closed client's backend leaves pg_stat_activity a moment after the socket closes: wait for it.
    let left: unknown[] = [];
    for (let i = 0; i < 50; i++) {
      left = (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [`laneway ${server}`])).rows;
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toEqual([]);
  });

  describe('password auth (needs tools/dev/pg-password-auth.sh)', () => {
    beforeAll(async () => {
      const { rows } = await admin.query(`SELECT 1 FROM pg_hba_file_rules WHERE type = 'host' AND '+laneway_pw' = ANY(user_name) AND auth_method = 'scram-sha-256'`);
      if (rows.length === 0) {
        throw new Error('PostgreSQL trusts every local login, so a wrong password cannot be refused: run `sudo bash tools/dev/pg-password-auth.sh` once');
      }
    });

    it('refuses a wrong password with an error naming the connection and without the password', async () => {
      const right = `right-${randomBytes(6).toString('hex')}`;
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      const role = await createRole(right);
      const connectors = new Connectors({ server: 'replica-1' });
      connectors.replace([
        { name: 'good', version: 'v1', spec: postgres({ user: role, password: right }) },
        { name: 'crm', version: 'v1', spec: postgres({ user: role, password: wrong }) },
      ]);
      try {
        const { rows } = await sql<{ who: string }>`select current_user as who`.execute(connectors.sql('good'));
        expect(rows).toEqual([{ who: role }]);

        const err = await expectConnectionError(sql`select 1`.execute(connectors.sql('crm')));
        expect(err.code).toBe('AUTH_FAILED');
        expect(err.connection).toBe('crm');
        expect(err.message).toContain(`connection 'crm' (postgres 127.0.0.1:5432/test)`);
        expect(err.message).toContain('password authentication failed');
        expect(err.message).not.toContain(wrong);
        expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(wrong);

        const tested = await connectors.test('crm', 5_000);
        expect(tested.ok).toBe(false);
        expect(!tested.ok && tested.error).toContain('authentication failed');
        expect(!tested.ok && tested.error).not.toContain(wrong);
        expect(await connectors.test('good', 5_000)).toMatchObject({ ok: true });
      } finally {
        await connectors.close();
      }
    });
  });

  it('names the connection when the port is closed, the name unknown or the kind wrong', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const connectors = new Connectors({ server: 'replica-7' });
    connectors.replace([
      { name: 'crm', version: 'v1', spec: postgres({ port: 1, password: secret, connectTimeoutMs: 2_000 }) },
      {
        name: 'billing',
        version: 'v1',
        spec: { rest: { baseUrl: 'http://127.0.0.1:1/api', headers: {}, timeoutMs: 0, retries: 0, caPem: '', bearer: { token: secret, tokenSet: true } } },
      },
    ]);
    try {
      const refused = await expectConnectionError(sql`select 1`.execute(connectors.sql('crm')));
      expect(refused.code).toBe('REFUSED');
      expect(refused.message).toContain(`connection 'crm' (postgres 127.0.0.1:1/test): connection refused`);
      expect(refused.message).not.toContain(secret);

      const unknown = await expectConnectionError(Promise.resolve().then(() => connectors.sql('crmx')));
      expect(unknown.code).toBe('NOT_DEFINED');
      expect(unknown.message).toBe(`connection 'crmx' is not defined on server 'replica-7' (defined: billing, crm); check the name, or create the connection`);

      const wrongKind = await expectConnectionError(Promise.resolve().then(() => connectors.sql('billing')));
      expect(wrongKind.code).toBe('WRONG_KIND');
      expect(wrongKind.message).toBe(`connection 'billing' (rest http://127.0.0.1:1/api) is not a SQL (postgres or mysql) connection: use ctx.rest('billing')`);
      expect(wrongKind.message).not.toContain(secret);

      const tested = await connectors.test('crm', 3_000);
      expect(tested).toMatchObject({ ok: false });
      expect(!tested.ok && tested.error).toMatch(/^connection 'crm' \(postgres 127\.0\.0\.1:1\/test\): connection refused/);
      expect(await connectors.test('nope', 1_000)).toMatchObject({ ok: false, error: expect.stringContaining("connection 'nope' is not defined") });
    } finally {
      await connectors.close();
    }
  });

  it('asks for TLS when tls_mode says so (the local servers have none) and rejects an unknown mode', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'pg-tls', version: 'v1', spec: postgres({ tlsMode: 'require' }) },
      { name: 'my-tls', version: 'v1', spec: mariadb({ tlsMode: 'verify-full' }) },
      { name: 'bad-mode', version: 'v1', spec: postgres({ tlsMode: 'prefer' }) },
    ]);
    try {
      const pgErr = await expectConnectionError(sql`select 1`.execute(connectors.sql('pg-tls')));
      expect(pgErr.code).toBe('TLS');
      expect(pgErr.message).toContain(`connection 'pg-tls' (postgres 127.0.0.1:5432/test): TLS handshake failed`);
      const myErr = await expectConnectionError(sql`select 1`.execute(connectors.sql('my-tls')));
      expect(myErr.code).toBe('TLS');
      const mode = await expectConnectionError(sql`select 1`.execute(connectors.sql('bad-mode')));
      expect(mode.message).toContain("tls_mode 'prefer' is not one of disable, require, verify-full");
    } finally {
      await connectors.close();
    }
  });

  it('times out connecting to a server that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'crm', version: 'v1', spec: postgres({ port, connectTimeoutMs: 300 }) }]);
    try {
      const started = Date.now();
      const err = await expectConnectionError(sql`select 1`.execute(connectors.sql('crm')));
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toContain(`connection 'crm' (postgres 127.0.0.1:${port}/test): timed out`);
      expect(Date.now() - started).toBeLessThan(5_000);
      const tested = await connectors.test('crm', 300);
      expect(tested).toMatchObject({ ok: false });
      expect(tested.latencyMs).toBeLessThan(3_000);
    } finally {
      await connectors.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('Connectors: MariaDB', () => {
  let admin: mysql.Connection;
  const users: string[] = [];

  beforeAll(async () => {
    admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
  });
  afterAll(async () => {
    for (const user of users) await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.end();
  });

  it('runs Kysely queries on a mysql2 pool', async () => {
    const table = unique();
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'shop', version: 'v1', spec: mariadb({ statementTimeoutMs: 5_000 }) }]);
    const db = connectors.sql('shop');
    try {
      await db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('sku', 'varchar(20)').execute();
      await db.insertInto(table).values([{ id: 1, sku: 'A-1' }, { id: 2, sku: 'B-2' }]).execute();
      const rows = await db.selectFrom(table).select(['id', 'sku']).where('sku', 'like', 'B%').execute();
      expect(rows).toEqual([{ id: 2, sku: 'B-2' }]);
      const { rows: timeout } = await sql<{ t: string }>`select @@max_statement_time as t`.execute(db);
      expect(Number(timeout[0]!.t)).toBe(5);
      expect(await connectors.test('shop', 5_000)).toMatchObject({ ok: true });
    } finally {
      await db.schema.dropTable(table).ifExists().execute();
      await connectors.close();
    }
  });

  it('moves calls to a new pool under load and refuses a wrong password clearly', async () => {
    const user = unique();
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    users.push(user);
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT SELECT ON test.* TO '${user}'@'%'`);
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'shop', version: 'v1', spec: mariadb({ poolSize: 3 }) }]);
    let ok = 0;
    const failures: unknown[] = [];
    const seen = new Set<string>();
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        try {
          const { rows } = await sql<{ who: string }>`select current_user() as who, sleep(0.005) as s`.execute(connectors.sql('shop'));
          seen.add(rows[0]!.who.split('@')[0]!);
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Array.from({ length: 6 }, () => worker());
    try {
      await new Promise((r) => setTimeout(r, 300));
      connectors.replace([{ name: 'shop', version: 'v2', spec: mariadb({ user, password, poolSize: 3 }) }]);
      await new Promise((r) => setTimeout(r, 300));
      running = false;
      await Promise.all(workers);
      await connectors.whenDrained();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(20);
      expect([...seen].sort()).toEqual(['root', user].sort());

      connectors.replace([{ name: 'shop', version: 'v3', spec: mariadb({ user, password: wrong }) }]);
      const err = await expectConnectionError(sql`select 1`.execute(connectors.sql('shop')));
      expect(err.code).toBe('AUTH_FAILED');
      expect(err.message).toContain(`connection 'shop' (mysql 127.0.0.1:3306/test): authentication failed`);
      expect(err.message).not.toContain(wrong);
      const tested = await connectors.test('shop', 5_000);
      expect(tested).toMatchObject({ ok: false, error: expect.stringContaining('Access denied') });
    } finally {
      running = false;
      await Promise.all(workers);
      await connectors.close();
    }
  });

  it('names the connection when the port is closed', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'shop', version: 'v1', spec: mariadb({ port: 1, password: 'hunter2-xyz' }) }]);
    try {
      const err = await expectConnectionError(sql`select 1`.execute(connectors.sql('shop')));
      expect(err.code).toBe('REFUSED');
      expect(err.message).toContain(`connection 'shop' (mysql 127.0.0.1:1/test): connection refused`);
      expect(err.message).not.toContain('hunter2-xyz');
    } finally {
      await connectors.close();
    }
  });
});
