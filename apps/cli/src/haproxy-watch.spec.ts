// The watch's poll against a real file in a temporary directory. The checker is a function given in
// (a real `haproxy -c` runs in e2e/src/haproxy-watch.e2e.spec.ts): here it refuses on demand.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { haproxyConfig, type LbServer } from './haproxy-config';
import { writeChecked, type CheckResult } from './haproxy-file';
import type { ReloadResult } from './haproxy-runtime';
import { HaproxyWatch } from './haproxy-watch';

const server = (name: string, port: number, drained = false): LbServer => ({
  name,
  httpAddress: `127.0.0.1:${port}`,
  connected: true,
  drained,
});
const config = (servers: LbServer[], revision = 1): string =>
  haproxyConfig({
    bind: '127.0.0.1:8000',
    stateFile: '/tmp/state',
    statsSocket: '/tmp/admin.sock',
    clusters: [{ name: 'c', revision, channelTimeoutsMs: [], servers }],
  });

const unavailable = Object.assign(
  new Error(
    'UNAVAILABLE: cannot reach the control plane at 127.0.0.1:1: is it running? (set LANEWAY_CONTROL_PLANE)',
  ),
  { code: 'UNAVAILABLE' },
);

describe('HaproxyWatch.poll', () => {
  let dir: string;
  let file: string;
  let next: () => Promise<string>;
  let check: CheckResult;
  let saveState: () => Promise<void>;
  let reloadResult: ReloadResult;
  let log: string[];
  let reloads: number;
  let watch: HaproxyWatch;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-watch-'));
    file = path.join(dir, 'haproxy.cfg');
    check = { kind: 'ok' };
    saveState = () => Promise.resolve();
    reloadResult = { code: 0, signal: null, stderr: '' };
    log = [];
    reloads = 0;
    watch = new HaproxyWatch({
      file,
      generate: () => next(),
      write: (target, text) => writeChecked(target, text, () => check),
      saveState: () => saveState(),
      reload: () => {
        reloads++;
        return Promise.resolve(reloadResult);
      },
      log: (line) => log.push(line),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const generates = (text: string): void => {
    next = () => Promise.resolve(text);
  };

  it('writes and reloads on a change, and leaves an unchanged file (or one whose comments alone differ) alone', async () => {
    generates(config([server('s1', 8081), server('s2', 8082)]));
    expect(await watch.poll()).toBe('written');
    expect(log).toEqual(['+ s1 127.0.0.1:8081', '+ s2 127.0.0.1:8082', `wrote ${file}`, 'reloaded (exit 0)']);
    expect(await watch.poll()).toBe('unchanged');
    generates(config([server('s1', 8081), server('s2', 8082)], 2));
    expect(await watch.poll()).toBe('unchanged');
    expect(readFileSync(file, 'utf8')).toContain('revision 1');
    expect(reloads).toBe(1);

    log = [];
    generates(config([server('s1', 8081, true), server('s3', 8083)]));
    expect(await watch.poll()).toBe('written');
    expect(log).toEqual([
      '~ s1 drained',
      '+ s3 127.0.0.1:8083',
      '- s2',
      `wrote ${file}`,
      'reloaded (exit 0)',
    ]);
    expect(readFileSync(file, 'utf8')).toContain('server s1 127.0.0.1:8081 disabled');
    expect(reloads).toBe(2);
  });

  it('keeps the old file when the check refuses the new one, does not reload, says why once, and writes once the state moves on', async () => {
    const good = config([server('s1', 8081)]);
    writeFileSync(file, good);
    check = {
      kind: 'refused',
      output: "[ALERT] parsing [haproxy.cfg:30] : 'bind no-such-host.invalid:80' : could not resolve address",
    };
    generates(config([server('s1', 8081), server('s2', 8082)]));
    expect(await watch.poll()).toBe('refused');
    expect(await watch.poll()).toBe('refused');
    expect(log).toEqual([
      '+ s2 127.0.0.1:8082',
      `haproxy -c refused the new configuration, so ${file} was left as it was and HAProxy not reloaded:\n${check.output}`,
    ]);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
    expect(reloads).toBe(0);

    check = { kind: 'ok' };
    generates(config([server('s1', 8081), server('s2', 8082), server('s3', 8083)]));
    expect(await watch.poll()).toBe('written');
    expect(reloads).toBe(1);
    expect(readFileSync(file, 'utf8')).toContain('server s3 127.0.0.1:8083');
  });

  it('keeps the file through a control plane outage, saying so once, and picks up what changed meanwhile', async () => {
    generates(config([server('s1', 8081)]));
    await watch.poll();
    const before = readFileSync(file, 'utf8');
    log = [];
    next = () => Promise.reject(unavailable);
    expect(await watch.poll()).toBe('unreachable');
    expect(await watch.poll()).toBe('unreachable');
    expect(log).toEqual([`${unavailable.message}; ${file} kept as it is, retrying`]);
    expect(readFileSync(file, 'utf8')).toBe(before);
    generates(config([server('s1', 8081), server('s2', 8082)]));
    expect(await watch.poll()).toBe('written');
    expect(log.slice(1)).toEqual([
      'the control plane answers again',
      '+ s2 127.0.0.1:8082',
      `wrote ${file}`,
      'reloaded (exit 0)',
    ]);
  });

  it('on the first (strict) poll, rejects what retrying would not mend; an outage is waited out', async () => {
    const notFound = Object.assign(new Error('NOT_FOUND: no cluster nope'), { code: 'NOT_FOUND' });
    next = () => Promise.reject(notFound);
    await expect(watch.poll(true)).rejects.toBe(notFound);
    next = () => Promise.reject(unavailable);
    expect(await watch.poll(true)).toBe('unreachable');
    generates(config([server('s1', 8081)]));
    const missing = new HaproxyWatch({
      file: path.join(dir, 'no', 'such.cfg'),
      generate: next,
      write: writeChecked,
      saveState,
      reload: undefined,
      log: () => undefined,
    });
    await expect(missing.poll(true)).rejects.toThrow(/cannot write beside .*no\/such\.cfg: ENOENT/);
  });

  it('reports a failed reload with its exit code and stderr, and an unreachable stats socket once', async () => {
    saveState = () => Promise.reject(new Error('connect ENOENT /run/haproxy/admin.sock'));
    reloadResult = { code: 1, signal: null, stderr: 'Job for haproxy.service failed.' };
    generates(config([server('s1', 8081)]));
    expect(await watch.poll()).toBe('written');
    generates(config([server('s1', 8082)]));
    expect(await watch.poll()).toBe('written');
    expect(log.filter((l) => l.startsWith('server states not saved'))).toEqual([
      'server states not saved before the reload (connect ENOENT /run/haproxy/admin.sock): drain and down states start afresh; said once until the stats socket answers',
    ]);
    expect(log.filter((l) => l.startsWith('reload'))).toEqual([
      'reload failed (exit 1): Job for haproxy.service failed.',
      'reload failed (exit 1): Job for haproxy.service failed.',
    ]);
    expect(log).toContain('~ s1 127.0.0.1:8082');
  });
});
