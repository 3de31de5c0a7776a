import { status } from '@grpc/grpc-js';
import { ApplyOutcome } from '@laneway/proto';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { createConnection as createMysqlConnection } from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, startCluster, type Api, type TestCluster } from '@laneway/testkit';

// Outgoing connections end to end: a REST channel on two servers in front of services that read
// PostgreSQL and MariaDB through ctx.sql, call an HTTP API through ctx.rest, cache in Redis and
// publish to RabbitMQ, on both lanes; the PostgreSQL password rotated under load; clear errors that
// name the connection and never show a secret; no secret in any answer, log or database file.
const run = randomBytes(4).toString('hex');
const PG_ROLE = `lw_e2e_${run}`;
const PG_TABLE = `lw_e2e_customers_${run}`;
const MY_USER = `lw_e2e_${run}`;
const MY_TABLE = `lw_e2e_orders_${run}`;
const EXCHANGE = `lw-e2e-${run}`;
const PASSWORD_1 = `pw1-${randomBytes(12).toString('hex')}`;
const PASSWORD_2 = `pw2-${randomBytes(12).toString('hex')}`;
const MY_PASSWORD = `my-${randomBytes(12).toString('hex')}`;
const CRM_TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`;
const SECRETS = [PASSWORD_1, PASSWORD_2, MY_PASSWORD, CRM_TOKEN, WRONG_PASSWORD];
const PG_ADMIN = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const MY_ADMIN = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

const services = `
import { defineService } from '@laneway/sdk';

export const order = defineService({
  name: 'orders.show',
  connections: ['pg', 'maria', 'crm', 'cache', 'events'],
  async handle(input: { id: string }, ctx) {
    const customer = await ctx.sql('pg').selectFrom('${PG_TABLE}').select(['name']).where('id', '=', Number(input.id)).executeTakeFirst();
    const order = await ctx.sql('maria').selectFrom('${MY_TABLE}').select(['item']).where('customer_id', '=', Number(input.id)).executeTakeFirst();
    const crm = await ctx.rest('crm').get('/customers/' + input.id);
    const cache = ctx.redis('cache');
    const hits = await cache.incr('hits:' + input.id);
    await ctx.amqp('events').publish('${EXCHANGE}', 'orders', { id: input.id, server: ctx.server });
    return { name: customer?.name ?? null, item: order?.item ?? null, crm: crm.body, crmStatus: crm.status, hits, server: ctx.server };
  },
});

export const report = defineService({
  name: 'orders.report',
  lane: 'cpu',
  connections: ['pg'],
  async handle(input: { id: string }, ctx) {
    const row = await ctx.sql('pg').selectFrom('${PG_TABLE}').select(['name']).where('id', '=', Number(input.id)).executeTakeFirst();
    return { name: row?.name ?? null, server: ctx.server, lane: 'cpu' };
  },
});

export const name = defineService({
  name: 'orders.name',
  connections: ['pg'],
  async handle(input: { id: string }, ctx) {
    const row = await ctx.sql('pg').selectFrom('${PG_TABLE}').select(['name']).where('id', '=', Number(input.id)).executeTakeFirst();
    return { name: row?.name ?? null };
  },
});

export const probe = defineService({
  name: 'orders.probe',
  connections: ['pg-wrong', 'pg-closed'],
  async handle(input: { use: string }, ctx) {
    await ctx.sql(input.use).selectFrom('${PG_TABLE}').selectAll().execute();
    return { reached: input.use };
  },
});
`;

describe('outgoing connections on two servers', () => {
  let harness: TestCluster;
  let api: Api;
  let cluster = '';
  let dataDir = '';
  let crm: Server;
  let crmUrl = '';
  const crmAuth: string[] = [];
  let broker: amqp.ChannelModel;
  let brokerChannel: amqp.Channel;
  let queue = '';
  const redis = new Redis(REDIS_URL);
  const redisPrefix = `lwconn-${run}:cache:`;

  const get = async (server: number, route: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> => {
    const response = await fetch(`http://127.0.0.1:${harness.httpPorts[server]}${route}`);
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
  };
  const pgAdmin = async <T>(use: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client(PG_ADMIN);
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  };
  const pgSpec = (password: string, port = 5432) => ({ postgres: { host: '127.0.0.1', port, database: 'test', user: PG_ROLE, password, passwordSet: false, url: '', tlsMode: 'disable', caPem: '', poolSize: 4, statementTimeoutMs: 5000, connectTimeoutMs: 3000 } });

  beforeAll(async () => {
    await pgAdmin(async (client) => {
      const hba = await client.query(`SELECT count(*)::int AS n FROM pg_hba_file_rules WHERE '+laneway_pw' = ANY(user_name) OR 'laneway_pw' = ANY(user_name)`).catch(() => ({ rows: [{ n: 1 }] }));
      if (!hba.rows[0].n) throw new Error('PostgreSQL does not check passwords for role group laneway_pw: run tools/dev/pg-password-auth.sh as root');
      await client.query(`CREATE ROLE ${PG_ROLE} LOGIN PASSWORD '${PASSWORD_1}' IN ROLE laneway_pw`);
      await client.query(`CREATE TABLE ${PG_TABLE} (id int PRIMARY KEY, name text NOT NULL)`);
      await client.query(`INSERT INTO ${PG_TABLE} VALUES (1, 'Ada'), (2, 'Grace')`);
      await client.query(`GRANT SELECT ON ${PG_TABLE} TO ${PG_ROLE}`);
    });
    const my = await createMysqlConnection(MY_ADMIN);
    await my.query(`CREATE USER '${MY_USER}'@'%' IDENTIFIED BY '${MY_PASSWORD}'`);
    await my.query(`CREATE TABLE ${MY_TABLE} (customer_id int PRIMARY KEY, item varchar(64) NOT NULL)`);
    await my.query(`INSERT INTO ${MY_TABLE} VALUES (1, 'lamp'), (2, 'desk')`);
    await my.query(`GRANT SELECT ON test.${MY_TABLE} TO '${MY_USER}'@'%'`);
    await my.end();
    crm = createServer((request, response) => {
      crmAuth.push(request.headers.authorization ?? '');
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ path: request.url, tier: 'gold' }));
    });
    await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
    crmUrl = `http://127.0.0.1:${(crm.address() as AddressInfo).port}`;
    broker = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    brokerChannel = await broker.createChannel();
    await brokerChannel.assertExchange(EXCHANGE, 'direct', { autoDelete: true });
    queue = (await brokerChannel.assertQueue('', { exclusive: true })).queue;
    await brokerChannel.bindQueue(queue, EXCHANGE, 'orders');

    harness = await startCluster({ servers: 2, http: true, name: 'lwconn', env: { LOG_LEVEL: 'info' }, serverEnv: { LOG_LEVEL: 'debug' } });
    ({ api, cluster, dataDir } = harness);
  });

  afterAll(async () => {
    await harness?.stop();
    await redis.del(`${redisPrefix}hits:1`);
    await new Promise<void>((resolve) => (crm ? crm.close(() => resolve()) : resolve()));
    await brokerChannel?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    redis.disconnect();
    await pgAdmin(async (client) => {
      await client.query(`DROP TABLE IF EXISTS ${PG_TABLE}`);
      await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [PG_ROLE]);
      await client.query(`DROP ROLE IF EXISTS ${PG_ROLE}`);
    }).catch(() => undefined);
    const my = await createMysqlConnection(MY_ADMIN).catch(() => undefined);
    await my?.query(`DROP TABLE IF EXISTS ${MY_TABLE}`);
    await my?.query(`DROP USER IF EXISTS '${MY_USER}'@'%'`);
    await my?.end();
  });

  it('refuses a deploy that declares a connection the cluster does not have, naming both', async () => {
    const refused = await api.deploy(cluster, [{ path: 'orders.ts', content: services }]).catch((err: { code: number; details: string }) => err);
    expect((refused as { code: number }).code).toBe(status.INVALID_ARGUMENT);
    expect((refused as { details: string }).details).toMatch(/service 'orders\.\w+' \(orders\.ts\) declares connection\(s\) .*'(pg|maria|crm|cache|events|pg-wrong|pg-closed)'/);
  });

  it('rejects bad settings at create time, naming the field and value', async () => {
    const bad = await api
      .createConnection(cluster, 'bad', { postgres: { ...pgSpec(PASSWORD_1).postgres, port: 70_000 } })
      .catch((err: { code: number; details: string }) => err);
    expect((bad as { code: number }).code).toBe(status.INVALID_ARGUMENT);
    expect((bad as { details: string }).details).toContain('spec.postgres.port is 70000');
    const badUrl = await api
      .createConnection(cluster, 'bad', { redis: { url: `redis://user:${PASSWORD_1}@127.0.0.1:6379`, password: '', passwordSet: false, keyPrefix: '', caPem: '' } })
      .catch((err: { code: number; details: string }) => err);
    expect((badUrl as { code: number }).code).toBe(status.INVALID_ARGUMENT);
    expect((badUrl as { details: string }).details).toContain('spec.redis.url holds a password');
    expect((badUrl as { details: string }).details).not.toContain(PASSWORD_1);
  });

  it('creates the connections on both servers and serves a channel that uses all of them, on both lanes', async () => {
    const created = await api.createConnection(cluster, 'pg', pgSpec(PASSWORD_1));
    expect(created.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED, ApplyOutcome.APPLY_OUTCOME_ACKED]);
    await api.createConnection(cluster, 'maria', {
      mysql: { host: '', port: 0, database: '', user: '', password: '', passwordSet: false, url: `mysql://${MY_USER}:${MY_PASSWORD}@127.0.0.1:3306/test`, tlsMode: '', caPem: '', poolSize: 4, statementTimeoutMs: 0, connectTimeoutMs: 0 },
    });
    await api.createConnection(cluster, 'crm', { rest: { baseUrl: crmUrl, headers: { 'x-caller': 'laneway' }, timeoutMs: 5000, retries: 1, caPem: '', bearer: { token: CRM_TOKEN, tokenSet: false } } });
    await api.createConnection(cluster, 'cache', { redis: { url: REDIS_URL, password: '', passwordSet: false, keyPrefix: redisPrefix, caPem: '' } });
    await api.createConnection(cluster, 'events', { amqp: { url: 'amqp://guest@127.0.0.1:5672', password: 'guest', passwordSet: false, confirm: true, caPem: '' } });
    await api.createConnection(cluster, 'pg-wrong', pgSpec(WRONG_PASSWORD));
    await api.createConnection(cluster, 'pg-closed', pgSpec(PASSWORD_1, 1));
    const deployed = await api.deploy(cluster, [{ path: 'orders.ts', content: services }]);
    expect(deployed.servers.every((s) => s.outcome === ApplyOutcome.APPLY_OUTCOME_ACKED)).toBe(true);
    await api.putChannel(cluster, { name: 'order', method: 'GET', path: '/orders/:id', service: 'orders.show' });
    await api.putChannel(cluster, { name: 'report', method: 'GET', path: '/reports/:id', service: 'orders.report' });
    await api.putChannel(cluster, { name: 'name', method: 'GET', path: '/names/:id', service: 'orders.name' });
    await api.putChannel(cluster, { name: 'probe', method: 'GET', path: '/probe/:use', service: 'orders.probe' });

    for (const server of [0, 1]) {
      const answer = await get(server, '/orders/1');
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject({ name: 'Ada', item: 'lamp', crm: { path: '/customers/1', tier: 'gold' }, crmStatus: 200, server: `s${server + 1}` });
      const cpu = await get(server, '/reports/2');
      expect(cpu.status, cpu.text).toBe(200);
      expect(cpu.body).toEqual({ name: 'Grace', server: `s${server + 1}`, lane: 'cpu' });
    }
    expect(crmAuth.slice(-2)).toEqual([`Bearer ${CRM_TOKEN}`, `Bearer ${CRM_TOKEN}`]);
    expect(await redis.get(`${redisPrefix}hits:1`)).toBe('2');
    const published: string[] = [];
    for (let i = 0; i < 2; i++) {
      const message = await brokerChannel.get(queue, { noAck: true });
      if (message) published.push(message.content.toString());
    }
    expect(published.map((m) => JSON.parse(m) as { server: string }).map((m) => m.server).sort()).toEqual(['s1', 's2']);
  });

  it('gives clear errors naming the connection for a wrong password, a closed port and an undeclared name', async () => {
    const wrong = await get(0, '/probe/pg-wrong');
    expect(wrong.status).toBe(500);
    expect(wrong.text).toContain("'pg-wrong'");
    expect(wrong.text).toMatch(/password|authentication/i);
    const closed = await get(1, '/probe/pg-closed');
    expect(closed.status).toBe(500);
    expect(closed.text).toContain("'pg-closed'");
    expect(closed.text).toMatch(/ECONNREFUSED|refused|connect/i);
    const undeclared = await get(0, '/probe/pg');
    expect(undeclared.status).toBe(500);
    expect(undeclared.text).toContain("connection 'pg' without declaring it");
    for (const answer of [wrong, closed, undeclared]) for (const secret of SECRETS) expect(answer.text).not.toContain(secret);
  });

  it('tests a connection on every server: ok, or the error naming it', async () => {
    const ok = await api.testConnection(cluster, 'pg');
    expect(ok.map((r) => [r.server, r.ok])).toEqual([
      ['s1', true],
      ['s2', true],
    ]);
    const failing = await api.testConnection(cluster, 'pg-wrong');
    expect(failing.map((r) => r.ok)).toEqual([false, false]);
    for (const result of failing) {
      expect(result.error).toContain("'pg-wrong'");
      expect(result.error).not.toContain(WRONG_PASSWORD);
    }
  });

  it('refuses to delete a connection that deployed services declare, naming them', async () => {
    const refused = await api.deleteConnection(cluster, 'pg').catch((err: { code: number; details: string }) => err);
    expect((refused as { code: number }).code).toBe(status.FAILED_PRECONDITION);
    expect((refused as { details: string }).details).toContain("'orders.name'");
    expect((refused as { details: string }).details).toContain("'orders.report'");
  });

  it('rotates the PostgreSQL password under steady load with no failed call', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loops = [0, 1, 0, 1].map(async (server) => {
      while (!stop) {
        const answer = await get(server, '/names/1').catch((err: Error) => ({ status: 0, text: err.message, body: {} as Record<string, unknown> }));
        if (answer.status === 200 && answer.body['name'] === 'Ada') ok++;
        else failures.push(`${answer.status} ${answer.text.slice(0, 300)}`);
      }
    });
    const until = async (n: number): Promise<void> => {
      const target = ok + n;
      while (ok < target && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await until(50);
      await pgAdmin((client) => client.query(`ALTER ROLE ${PG_ROLE} PASSWORD '${PASSWORD_2}'`));
      await until(50);
      const updated = await api.updateConnection(cluster, 'pg', pgSpec(PASSWORD_2));
      expect(updated.servers.map((s) => s.outcome)).toEqual([ApplyOutcome.APPLY_OUTCOME_ACKED, ApplyOutcome.APPLY_OUTCOME_ACKED]);
      await until(100);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(200);
    // Connections made with the old password are gone: new ones must use the new one.
    await pgAdmin((client) => client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [PG_ROLE]));
    for (const server of [0, 1]) {
      let answer = await get(server, '/names/2');
      // A pooled connection that the termination cut may fail once; the next call opens a new one.
      if (answer.status !== 200) answer = await get(server, '/names/2');
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toEqual({ name: 'Grace' });
    }
  });

  it('never shows a secret in an answer, a log line or the database file', async () => {
    const listed = await api.listConnections(cluster);
    const pgShown = listed.connections.find((c) => c.name === 'pg')!;
    expect(pgShown.spec?.postgres?.password).toBe('');
    expect(pgShown.spec?.postgres?.passwordSet).toBe(true);
    expect(pgShown.usedBy).toEqual(['orders.name', 'orders.report', 'orders.show']);
    const crmShown = await api.getConnection(cluster, 'crm');
    expect(crmShown.spec?.rest?.bearer).toEqual({ token: '', tokenSet: true });
    const answers = JSON.stringify([listed, crmShown]);
    const logs = [harness.cp.process, ...harness.servers].map((p) => p.output.join('')).join('\n');
    const files = readdirSync(dataDir).map((f) => readFileSync(path.join(dataDir, f)));
    for (const secret of SECRETS) {
      expect(answers).not.toContain(secret);
      expect(logs).not.toContain(secret);
      for (const file of files) expect(file.includes(Buffer.from(secret))).toBe(false);
    }
    // The servers did log their work: the check above is not vacuous.
    expect(logs).toContain('connection');
  });
});
