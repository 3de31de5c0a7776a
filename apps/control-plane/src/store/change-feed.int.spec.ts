import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed } from './change-feed';
import { ClusterStore } from './cluster-store';
import type { NewServiceVersion } from './cluster-store';

const ADMIN_URL = process.env['LANEWAY_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logger = pino({ level: 'silent' });

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function svc(name: string, version: string): NewServiceVersion {
  return {
    name,
    version,
    lane: 'network',
    path: `services/${name}.ts`,
    source: `// ${version}`,
    code: `module.exports = '${version}';`,
    policy: { timeoutMs: 0, attempts: 0, concurrency: 0 },
    connections: [],
  };
}

/** What a control plane's feed heard. */
class Heard {
  readonly changes: [string, string | undefined][] = [];
  resyncs = 0;
  handlers = {
    change: (cluster: string, server: string | undefined): void => void this.changes.push([cluster, server]),
    resync: (): void => void this.resyncs++,
  };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ChangeFeed: control planes sharing one PostgreSQL store hear each other', () => {
  // Hex only: safe to splice into DDL.
  const database = `laneway_feed_${randomBytes(6).toString('hex')}`;
  let url: string;
  let a: ClusterStore;
  let b: ClusterStore;
  const heardByA = new Heard();
  const heardByB = new Heard();
  let feedA: ChangeFeed;
  let feedB: ChangeFeed;

  beforeAll(async () => {
    await admin((c) => c.query(`CREATE DATABASE ${database}`));
    const u = new URL(ADMIN_URL);
    u.pathname = `/${database}`;
    url = u.toString();
    const dataDir = join(tmpdir(), 'laneway-unused');
    a = await ClusterStore.open({ databaseUrl: url, dataDir });
    b = await ClusterStore.open({ databaseUrl: url, dataDir });
    feedA = new ChangeFeed(url, a.instanceId, heardByA.handlers, logger);
    feedB = new ChangeFeed(url, b.instanceId, heardByB.handlers, logger);
    await Promise.all([feedA.start(), feedB.start()]);
  });

  afterAll(async () => {
    await feedA?.stop();
    await feedB?.stop();
    await a?.close();
    await b?.close();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it("delivers a committed change to the other store's feed only, and nothing for a change that changed nothing", async () => {
    await a.createCluster('feed-1');
    await a.deployServices('feed-1', [svc('feed.a', 'v1')]);
    await until(() => heardByB.changes.length === 1);
    expect(heardByB.changes).toEqual([['feed-1', undefined]]);

    // The same version again bumps nothing; an undeploy of an unknown service rolls back.
    await a.deployServices('feed-1', [svc('feed.a', 'v1')]);
    await expect(a.undeployService('feed-1', 'feed.nope')).rejects.toThrow("service 'feed.nope' is not deployed");
    // B's own change is heard by A, not by B itself.
    await b.undeployService('feed-1', 'feed.a');
    await until(() => heardByA.changes.length === 1);
    expect(heardByA.changes).toEqual([['feed-1', undefined]]);
    await new Promise((r) => setTimeout(r, 200));
    expect(heardByB.changes).toEqual([['feed-1', undefined]]);
  });

  it('names the server whose drain state changed', async () => {
    await a.createCluster('feed-2');
    await a.recordServerHello('feed-2', { name: 'srv-1', host: 'h', pid: 1, lanes: ['network'], appliedRevision: 0, httpAddress: '' });
    const before = heardByB.changes.length;
    await a.setServerDrained('feed-2', 'srv-1', true);
    await until(() => heardByB.changes.length === before + 1);
    expect(heardByB.changes.at(-1)).toEqual(['feed-2', 'srv-1']);
  });

  it('announces a deleted cluster', async () => {
    await a.createCluster('feed-4');
    const before = heardByB.changes.length;
    await a.deleteCluster('feed-4');
    await until(() => heardByB.changes.length === before + 1);
    expect(heardByB.changes.at(-1)).toEqual(['feed-4', undefined]);
  });

  it('reconnects after losing its connection and asks for a resync, then hears changes again', async () => {
    await a.createCluster('feed-3');
    const resyncsBefore = heardByB.resyncs;
    // Kill B's listening connection from the server side.
    const killed = await admin(async (c) => {
      const r = await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'`,
        [database],
      );
      return r.rowCount ?? 0;
    });
    expect(killed).toBeGreaterThanOrEqual(1);
    await until(() => heardByB.resyncs > resyncsBefore, 10_000);
    const before = heardByB.changes.length;
    await a.deployServices('feed-3', [svc('feed.c', 'v1')]);
    await until(() => heardByB.changes.length > before);
    expect(heardByB.changes.at(-1)).toEqual(['feed-3', undefined]);
  });
});
