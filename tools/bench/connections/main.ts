// Connections benchmark: the per-query time of a primary-key SELECT on the machine's PostgreSQL
// through ctx.sql inside a deployed service, against the same query on a plain pg Pool + Kysely in
// this process; and a ctx.rest GET to a local HTTP server (a process of its own) against plain
// undici. Both sides run the same loop (CONCURRENCY callers, back to back) with the same pool size,
// each in its own process against the same target process, interleaved run by run, so the ratio is
// what ctx adds: the lookup of the connection, its bookkeeping of calls in flight, the routing driver.
//   npm run bench -- connections [--smoke]
import { freePort, ROOT } from '@laneway/testkit';
import { Kysely, PostgresDialect } from 'kysely';
import { fork } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { Pool as UndiciPool } from 'undici';
import { startBenchCluster } from '../lib/replica';
import { median, report, round } from '../lib/stats';

const smoke = process.argv.includes('--smoke');
const RUNS = smoke ? 1 : 9;
const QUERIES = smoke ? 300 : 10_000;
const REQUESTS = smoke ? 300 : 10_000;
const CONCURRENCY = 4;
const POOL = 4;
const TABLE = `lw_bench_conn_${process.pid}`;
const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };

/** Runs `calls` calls of `one`, CONCURRENCY at a time; returns microseconds per call (wall time / calls). */
async function loop(calls: number, one: (n: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls) await one(next++);
    }),
  );
  return ((performance.now() - started) * 1000) / calls;
}

const SERVICES = `import { defineService } from '@laneway/sdk';
const CONCURRENCY = ${CONCURRENCY};
async function loop(calls, one) {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next < calls) await one(next++); }));
  return ((performance.now() - started) * 1000) / calls;
}
export const sql = defineService({
  name: 'bench.sql',
  connections: ['db'],
  timeoutMs: 600000,
  async handle(input: { calls: number }, ctx) {
    return loop(input.calls, (n) => ctx.sql('db').selectFrom('${TABLE}').select(['id', 'name']).where('id', '=', (n % 100) + 1).executeTakeFirst());
  },
});
export const rest = defineService({
  name: 'bench.rest',
  connections: ['api'],
  timeoutMs: 600000,
  async handle(input: { calls: number }, ctx) {
    return loop(input.calls, (n) => ctx.rest('api').get('/items/' + (n % 100)));
  },
});
`;

async function main(): Promise<void> {
  const admin = new pg.Client(PG);
  await admin.connect();
  await admin.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${TABLE} SELECT g, 'name-' || g FROM generate_series(1, 100) g`);
  const api = fork(path.join(__dirname, 'target.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const apiPort = await new Promise<number>((resolve, reject) => {
    api.once('message', (m: { port: number }) => resolve(m.port));
    api.once('exit', (code) => reject(new Error(`the HTTP target exited (${code}) before it listened`)));
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const bench = await startBenchCluster({ servers: 1, serverEnv: { LANEWAY_HTTP_ADDR: `127.0.0.1:${await freePort()}` } });
  const plainDb = new Kysely<Record<string, { id: number; name: string }>>({ dialect: new PostgresDialect({ pool: new pg.Pool({ ...PG, max: POOL }) }) });
  const plainRest = new UndiciPool(apiUrl, { connections: POOL });
  try {
    const { api: laneway, cluster } = bench;
    await laneway.createConnection(cluster, 'db', {
      postgres: { ...PG, password: '', passwordSet: false, url: '', tlsMode: 'disable', caPem: '', poolSize: POOL, statementTimeoutMs: 0, connectTimeoutMs: 0 },
    });
    await laneway.createConnection(cluster, 'api', { rest: { baseUrl: apiUrl, headers: {}, timeoutMs: 10_000, retries: 0, caPem: '' } });
    await laneway.deploy(cluster, [{ path: 'bench/connections.ts', content: SERVICES }]);
    const viaCtx = async (service: string, calls: number): Promise<number> =>
      JSON.parse((await laneway.invoke(cluster, service, { calls }, 600_000)).outputJson) as number;
    const plainSql = (calls: number): Promise<number> =>
      loop(calls, (n) => plainDb.selectFrom(TABLE).select(['id', 'name']).where('id', '=', (n % 100) + 1).executeTakeFirst());
    const plainGet = (calls: number): Promise<number> =>
      loop(calls, async (n) => {
        const answer = await plainRest.request({ method: 'GET', path: `/items/${n % 100}` });
        const text = await answer.body.text();
        return answer.headers['content-type'] === 'application/json' ? JSON.parse(text) : text;
      });

    // Warm-up: pools filled, JIT; discarded.
    await plainSql(QUERIES / 4);
    await viaCtx('bench.sql', QUERIES / 4);
    await plainGet(REQUESTS / 4);
    await viaCtx('bench.rest', REQUESTS / 4);
    const sqlCtx: number[] = [];
    const sqlPlain: number[] = [];
    const restCtx: number[] = [];
    const restPlain: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      // Alternate which side goes first, so that drift of the machine spreads over both.
      if (run % 2) {
        sqlCtx.push(await viaCtx('bench.sql', QUERIES));
        sqlPlain.push(await plainSql(QUERIES));
        restCtx.push(await viaCtx('bench.rest', REQUESTS));
        restPlain.push(await plainGet(REQUESTS));
      } else {
        sqlPlain.push(await plainSql(QUERIES));
        sqlCtx.push(await viaCtx('bench.sql', QUERIES));
        restPlain.push(await plainGet(REQUESTS));
        restCtx.push(await viaCtx('bench.rest', REQUESTS));
      }
    }
    const sql = median(sqlCtx);
    const plain = median(sqlPlain);
    const rest = median(restCtx);
    const plainR = median(restPlain);
    console.log(
      `\nConnections benchmark: ${QUERIES} primary-key SELECTs and ${REQUESTS} GETs per run, ${CONCURRENCY} callers back to back, pool size ${POOL} on both sides, ` +
        `${RUNS} run(s) interleaved, medians${smoke ? ' (SMOKE)' : ''}; ctx.* inside a network-lane service on a server replica, the plain side in the benchmark's process`,
    );
    const runs = (xs: number[]): string => xs.map((x) => round(x)).join(', ');
    report('plain pg Pool + Kysely, per query', plain, 'us', undefined, `(runs ${runs(sqlPlain)})`);
    report('ctx.sql, per query', sql, 'us', { op: '<', value: round(1.05 * plain) }, `(${round(sql / plain, 3)}x plain; runs ${runs(sqlCtx)})`);
    report('plain undici Pool, per GET', plainR, 'us', undefined, `(runs ${runs(restPlain)})`);
    report('ctx.rest, per GET', rest, 'us', { op: '<', value: round(1.1 * plainR) }, `(${round(rest / plainR, 3)}x plain; runs ${runs(restCtx)})`);
    console.log(
      JSON.stringify({ bench: 'connections', runs: RUNS, smoke, sql_us: round(sql, 2), plain_sql_us: round(plain, 2), rest_us: round(rest, 2), plain_rest_us: round(plainR, 2) }),
    );
  } finally {
    await plainDb.destroy();
    await plainRest.close();
    await bench.stop();
    api.kill();
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
