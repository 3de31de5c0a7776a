import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stopChild } from './processes';

/** A Redis Cluster of the test's own: `masters` primaries, no replicas, keeping nothing on disk. */
export interface OwnRedisCluster {
  ports: number[];
  /** The seed nodes as LANEWAY_REDIS_CLUSTER takes them: `127.0.0.1:P1,127.0.0.1:P2,...`. */
  seeds: string;
  stop(): Promise<void>;
}

/** A primary, its replica and three Sentinels of the test's own, on loopback, keeping nothing on disk. */
export interface OwnRedisSentinel {
  /** The name the Sentinels monitor the primary under (LANEWAY_REDIS_SENTINEL_MASTER). */
  master: string;
  /** The Sentinels as LANEWAY_REDIS_SENTINELS takes them. */
  sentinels: string;
  sentinelPorts: number[];
  /** The two data nodes' ports: the first starts as the primary, the second as its replica. */
  dataPorts: [number, number];
  /** The port of the primary the Sentinels name now. */
  primaryPort(): Promise<number>;
  /**
   * `SENTINEL FAILOVER` (a planned switchover): the replica becomes the primary, the old primary its
   * replica. Resolves once every Sentinel names the new primary, it answers as one, and the old one
   * replicates from it (made so at once, as Sentinel would on its next check, up to 10 s later; what
   * was written to the old primary after the switch is gone then).
   */
  failover(): Promise<{ from: number; to: number }>;
  /**
   * Kills the primary (SIGKILL) and resolves once the Sentinels have agreed it is down (after 1 s),
   * promoted the replica, and every one names it. The killed node stays down.
   */
  killPrimary(): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

/**
 * Starts `masters` (default 3) redis-servers with cluster mode on and joins them with `redis-cli
 * --cluster create` (no replicas); resolves once every node reports `cluster_state:ok`. Ports are
 * below 55000 so that each node's bus port (port + 10000) exists too.
 */
export async function startRedisCluster(masters = 3): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await freeClusterPort(ports));
    for (const port of ports) {
      children.push(
        spawnRedis('redis-server', [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ]),
      );
    }
    await Promise.all(ports.map((p, i) => untilPing(p, children[i]!)));
    const created = await redisCli(
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      20_000,
    );
    if (created.code !== 0)
      throw new Error(`redis-cli --cluster create failed (exit ${created.code}): ${created.out.slice(-500)}`);
    await until(`cluster_state:ok on ports ${ports.join(', ')}`, 15_000, async () => {
      const states = await Promise.all(ports.map((p) => redisCli(['-p', String(p), 'cluster', 'info'])));
      return states.every((s) => s.out.includes('cluster_state:ok'));
    });
    return { ports, seeds: ports.map((p) => `127.0.0.1:${p}`).join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Starts a primary, a replica of it and three Sentinels (quorum 2, a primary down after 1 s), the
 * Sentinels' configuration files written into a temporary directory (Sentinel rewrites them). Resolves
 * once the replica is in sync and every Sentinel knows the replica and the other Sentinels.
 */
export async function startRedisSentinel(master = 'laneway'): Promise<OwnRedisSentinel> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-redis-sentinel-'));
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    // Sentinels first, so that none reconfigures a data node that is going away.
    await Promise.all(children.slice(2).map((c) => stopChild(c)));
    await Promise.all(children.slice(0, 2).map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = await freeClusterPort([]);
    const replica = await freeClusterPort([primary]);
    const data = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    children.push(spawnRedis('redis-server', ['--port', String(primary), ...data]));
    children.push(
      spawnRedis('redis-server', [
        '--port',
        String(replica),
        '--replicaof',
        '127.0.0.1',
        String(primary),
        ...data,
      ]),
    );
    await untilPing(primary, children[0]!);
    await untilPing(replica, children[1]!);
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort([primary, replica, ...sentinelPorts]);
      sentinelPorts.push(port);
      const file = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${master} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${master} 1000`,
          // A failed election is tried again after twice this (20 s at 10 s), which a loaded machine sees.
          `sentinel failover-timeout ${master} 3000`,
          `sentinel parallel-syncs ${master} 1`,
          '',
        ].join('\n'),
      );
      children.push(spawnRedis('redis-sentinel', [file]));
    }
    await Promise.all(sentinelPorts.map((p, i) => untilPing(p, children[2 + i]!)));
    await until('the replica in sync and every Sentinel knowing it and the two others', 20_000, async () => {
      const info = await redisCli(['-p', String(replica), 'info', 'replication']);
      if (!info.out.includes('master_link_status:up')) return false;
      const views = await Promise.all(sentinelPorts.map((p) => sentinelMaster(p, master)));
      return views.every(
        (v) => v['num-slaves'] === '1' && v['num-other-sentinels'] === '2' && !v['flags']?.includes('down'),
      );
    });
    const primaryPort = async (): Promise<number> => {
      const addr = await redisCli([
        '-p',
        String(sentinelPorts[0]),
        'sentinel',
        'get-master-addr-by-name',
        master,
      ]);
      return Number(addr.out.trim().split('\n')[1]);
    };
    const untilPrimaryIs = (to: number): Promise<void> =>
      until(
        `every Sentinel naming 127.0.0.1:${to} the primary, and it answering as one`,
        30_000,
        async () => {
          const named = await Promise.all(
            sentinelPorts.map((p) =>
              redisCli(['-p', String(p), 'sentinel', 'get-master-addr-by-name', master]),
            ),
          );
          if (!named.every((n) => n.out.includes(String(to)))) return false;
          return (await redisCli(['-p', String(to), 'role'])).out.startsWith('master');
        },
      );
    const killPrimary = async (): Promise<{ from: number; to: number }> => {
      const from = await primaryPort();
      const to = from === primary ? replica : primary;
      children[from === primary ? 0 : 1]!.kill('SIGKILL');
      await untilPrimaryIs(to);
      return { from, to };
    };
    const failover = async (): Promise<{ from: number; to: number }> => {
      const from = await primaryPort();
      const to = from === primary ? replica : primary;
      const asked = await redisCli(['-p', String(sentinelPorts[0]), 'sentinel', 'failover', master]);
      if (!asked.out.includes('OK'))
        throw new Error(`SENTINEL FAILOVER ${master} refused: ${asked.out.trim()}`);
      await untilPrimaryIs(to);
      // What Sentinel does on its next check of the old primary; until then it takes the writes of
      // clients that have not moved yet (Laneway's move on +switch-master, a little after the promotion).
      await redisCli(['-p', String(from), 'replicaof', '127.0.0.1', String(to)]);
      await until(`127.0.0.1:${from} replicating from 127.0.0.1:${to}`, 15_000, async () => {
        const info = await redisCli(['-p', String(from), 'info', 'replication']);
        return info.out.includes(`master_port:${to}`) && info.out.includes('master_link_status:up');
      });
      return { from, to };
    };
    return {
      master,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      sentinelPorts,
      dataPorts: [primary, replica],
      primaryPort,
      failover,
      killPrimary,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function spawnRedis(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { stdio: 'ignore' });
}

/** `SENTINEL MASTER name` as a field -> value map. */
async function sentinelMaster(port: number, master: string): Promise<Record<string, string>> {
  const lines = (await redisCli(['-p', String(port), 'sentinel', 'master', master])).out.trim().split('\n');
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) fields[lines[i]!] = lines[i + 1]!;
  return fields;
}

function redisCli(args: string[], timeoutMs = 5000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, out: err.message });
    });
  });
}

async function untilPing(port: number, child: ChildProcess): Promise<void> {
  await until(`redis on port ${port} answering PING`, 10_000, async () => {
    if (child.exitCode !== null)
      throw new Error(
        `the redis process for port ${port} exited (${child.exitCode}): is the port taken, or the binary missing?`,
      );
    return (await redisCli(['-p', String(port), 'ping'])).out.trim() === 'PONG';
  });
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A free loopback port from 20000 to 54999 whose port + 10000 (a cluster node's bus port) is free too. */
async function freeClusterPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 35_000);
    if (taken.includes(port) || taken.includes(port + 10_000) || taken.some((t) => t + 10_000 === port))
      continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free loopback port pair (P, P+10000) below 55000');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
