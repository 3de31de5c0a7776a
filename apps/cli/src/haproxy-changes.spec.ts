import { describe, expect, it } from 'vitest';
import { configChanges, sameConfig } from './haproxy-changes';
import { haproxyConfig, type HaproxyConfigInput, type LbServer } from './haproxy-config';

const server = (name: string, httpAddress: string, more: Partial<LbServer> = {}): LbServer => ({
  name,
  httpAddress,
  connected: true,
  drained: false,
  ...more,
});

const config = (
  servers: LbServer[],
  over: Partial<HaproxyConfigInput> & { revision?: number; timeouts?: number[] } = {},
): string =>
  haproxyConfig({
    bind: '127.0.0.1:8000',
    stateFile: '/var/lib/haproxy/server-state',
    statsSocket: '/run/haproxy/admin.sock',
    clusters: [
      { name: 'default', revision: over.revision ?? 7, channelTimeoutsMs: over.timeouts ?? [0], servers },
    ],
    ...over,
  });

const two = [server('s1', '10.0.0.1:8080'), server('s2', '10.0.0.2:8080')];

describe('sameConfig', () => {
  it('ignores comments: a new revision or a server that lost the control plane changes nothing HAProxy reads', () => {
    expect(sameConfig(config(two), config(two, { revision: 8 }))).toBe(true);
    expect(
      sameConfig(config(two), config([two[0]!, server('s2', '10.0.0.2:8080', { connected: false })])),
    ).toBe(true);
    expect(config(two)).not.toBe(config(two, { revision: 8 }));
  });

  it('sees a server, a drain, an address, a timeout and a bind', () => {
    const base = config(two);
    expect(sameConfig(base, config([...two, server('s3', '10.0.0.3:8080')]))).toBe(false);
    expect(sameConfig(base, config([server('s1', '10.0.0.1:8080', { drained: true }), two[1]!]))).toBe(false);
    expect(sameConfig(base, config([server('s1', '10.0.0.9:8080'), two[1]!]))).toBe(false);
    expect(sameConfig(base, config(two, { timeouts: [60_000] }))).toBe(false);
    expect(sameConfig(base, config(two, { bind: ':80' }))).toBe(false);
    expect(sameConfig('', base)).toBe(false);
  });
});

describe('configChanges', () => {
  it('names servers that came, went, drained, resumed or moved', () => {
    const before = config([
      server('s1', '10.0.0.1:8080'),
      server('s2', '10.0.0.2:8080', { drained: true }),
      server('s4', '10.0.0.4:8080'),
    ]);
    const after = config([
      server('s1', '10.0.0.1:8080', { drained: true }),
      server('s2', '10.0.0.2:8080'),
      server('s3', '[::1]:8082'),
      server('s4', '10.0.0.5:8080'),
    ]);
    expect(configChanges(before, after)).toEqual([
      '~ s1 drained',
      '~ s2 resumed',
      '+ s3 ipv6@::1:8082',
      '~ s4 10.0.0.5:8080',
    ]);
    expect(configChanges(after, config([server('s1', '10.0.0.1:8080')]))).toEqual([
      '~ s1 resumed',
      '- s2',
      '- s3',
      '- s4',
    ]);
  });

  it('names a new server timeout from the channels’ longest deadline', () => {
    expect(configChanges(config(two), config(two, { timeouts: [60_000] }))).toEqual([
      '~ timeout server 35s -> 65s',
    ]);
  });

  it('lists every server of a new file, and names other settings as such', () => {
    expect(configChanges('', config(two))).toEqual(['+ s1 10.0.0.1:8080', '+ s2 10.0.0.2:8080']);
    expect(configChanges('', config([]))).toEqual(['+ file']);
    expect(configChanges(config(two), config(two, { bind: ':80' }))).toEqual(['~ settings']);
    expect(configChanges(config(two), config(two, { revision: 9 }))).toEqual([]);
  });
});
