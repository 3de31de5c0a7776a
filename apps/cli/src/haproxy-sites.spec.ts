import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ListChannelsResponse, ListServersResponse } from '@laneway/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, UsageError } from './errors';
import { haproxyConfig } from './haproxy-config';
import { pairSites, parseSiteSpec, readSiteCaFile, readSiteTokenFile, SiteStates, type SiteApi, type SiteCluster } from './haproxy-sites';
import { parseCommandLine } from './program';

function parse(argv: string[]) {
  let stderr = '';
  const line = parseCommandLine(argv, { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } });
  return { line, stderr };
}

describe('parseSiteSpec', () => {
  it('takes CLUSTER@HOST:PORT and CLUSTER@HOST:PORT,HOST:PORT', () => {
    expect(parseSiteSpec('prod@10.0.1.5:50051')).toEqual({ cluster: 'prod', controlPlanes: ['10.0.1.5:50051'], given: 'prod@10.0.1.5:50051' });
    expect(parseSiteSpec(' prod@[::1]:50051, b.example:50052 ').controlPlanes).toEqual(['[::1]:50051', 'b.example:50052']);
  });

  it('refuses a value without @, without a cluster or with a bad address, saying what is wrong', () => {
    expect(() => parseSiteSpec('10.0.1.5:50051')).toThrow(/Give CLUSTER@HOST:PORT/);
    expect(() => parseSiteSpec('@10.0.1.5:50051')).toThrow(/cluster before '@' is missing/);
    expect(() => parseSiteSpec('prod@10.0.1.5')).toThrow(/entry "10.0.1.5" is not HOST:PORT/);
    expect(() => parseSiteSpec('prod@10.0.1.5:50051,')).toThrow(/empty entry/);
    expect(() => parseSiteSpec('prod@10.0.1.5:99999')).toThrow(/not 1-65535/);
  });
});

describe('pairSites', () => {
  const a = parseSiteSpec('prod@10.0.1.5:50051');
  const b = parseSiteSpec('prod@10.0.2.5:50051');

  it('pairs each --site with its token file and CA by position', () => {
    expect(pairSites([a, b], ['a.token', 'b.token'], [])).toEqual([
      { ...a, tokenFile: 'a.token', caFile: undefined },
      { ...b, tokenFile: 'b.token', caFile: undefined },
    ]);
    expect(pairSites([a, b], ['a.token', 'b.token'], ['a.pem', 'b.pem']).map((s) => s.caFile)).toEqual(['a.pem', 'b.pem']);
    expect(pairSites([], [], [])).toEqual([]);
  });

  it('refuses mismatched counts, naming the flags and the values', () => {
    expect(() => pairSites([a, b], ['a.token'], [])).toThrow(UsageError);
    expect(() => pairSites([a, b], ['a.token'], [])).toThrow(
      'give one --site-token-file per --site, in the same order: 2 --site (--site prod@10.0.1.5:50051, --site prod@10.0.2.5:50051) but 1 --site-token-file (a.token).',
    );
    expect(() => pairSites([a], [], [])).toThrow(/1 --site \(--site prod@10.0.1.5:50051\) but 0 --site-token-file\./);
    expect(() => pairSites([a, b], ['a.token', 'b.token'], ['a.pem'])).toThrow(/--site-ca once per --site.*2 --site .* but 1 --site-ca \(a.pem\)/);
    expect(() => pairSites([], ['a.token'], [])).toThrow(/--site-token-file goes with --site/);
    expect(() => pairSites([], [], ['a.pem'])).toThrow(/--site-ca goes with --site/);
  });
});

describe('laneway lb haproxy --site (command line)', () => {
  it('collects repeated --site, --site-token-file and --site-ca in order', () => {
    const { line, stderr } = parse([
      'lb', 'haproxy', 'default',
      '--site', 'prod@10.0.1.5:50051', '--site-token-file', 'b.token', '--site-ca', 'b.pem',
      '--site', 'prod@10.0.2.5:50051,10.0.2.6:50051', '--site-token-file', 'c.token', '--site-ca', 'c.pem',
    ]);
    expect(stderr).toBe('');
    if (line.kind !== 'command') throw new Error('expected a command');
    expect(line.command.args).toMatchObject({
      clusters: ['default'],
      sites: [
        { cluster: 'prod', controlPlanes: ['10.0.1.5:50051'], tokenFile: 'b.token', caFile: 'b.pem' },
        { cluster: 'prod', controlPlanes: ['10.0.2.5:50051', '10.0.2.6:50051'], tokenFile: 'c.token', caFile: 'c.pem' },
      ],
    });
  });

  it('refuses a bad --site naming the flag and the value, and a --site without its token file (exit 2)', () => {
    const bad = parse(['lb', 'haproxy', '--site', 'prod:10.0.1.5:50051', '--site-token-file', 'b.token']);
    expect(bad.line).toEqual({ kind: 'exit', code: 2 });
    expect(bad.stderr).toContain("option '--site <CLUSTER@ADDR>' argument 'prod:10.0.1.5:50051' is invalid");
    const missing = parse(['lb', 'haproxy', '--site', 'prod@10.0.1.5:50051']);
    expect(missing.line).toEqual({ kind: 'exit', code: 2 });
    expect(missing.stderr).toContain('give one --site-token-file per --site');
  });
});

describe('site token and CA files', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lw-sites-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const site = (tokenFile: string, caFile?: string) => ({ ...parseSiteSpec('prod@10.0.1.5:50051'), tokenFile, caFile });

  it('reads the token trimmed, and names the flag, the file and the site when it is missing or empty', async () => {
    writeFileSync(path.join(dir, 'b.token'), 'secret-b\n');
    writeFileSync(path.join(dir, 'empty.token'), '\n');
    await expect(readSiteTokenFile(site('b.token'), dir)).resolves.toBe('secret-b');
    await expect(readSiteTokenFile(site('nope.token'), dir)).rejects.toThrow(/^cannot read --site-token-file 'nope.token' \(for --site prod@10.0.1.5:50051\)/);
    await expect(readSiteTokenFile(site('empty.token'), dir)).rejects.toThrow(/--site-token-file 'empty.token' \(for --site prod@10.0.1.5:50051\) is empty/);
    await expect(readSiteCaFile(site('b.token', 'nope.pem'), dir)).rejects.toThrow(/^cannot read --site-ca 'nope.pem'/);
    await expect(readSiteCaFile(site('b.token'), dir)).resolves.toBeUndefined();
  });
});

/** A control plane whose answers the test sets, or that cannot be reached. */
class FakeSite implements SiteApi {
  servers: { name: string; httpAddress: string; drained?: boolean }[] = [];
  failWith: Error | undefined;
  async listServers(): Promise<ListServersResponse> {
    if (this.failWith) throw this.failWith;
    return {
      revision: 5,
      servers: this.servers.map((s) => ({ name: s.name, httpAddress: s.httpAddress, connected: true, drained: s.drained ?? false })),
    } as unknown as ListServersResponse;
  }
  async listChannels(): Promise<ListChannelsResponse> {
    if (this.failWith) throw this.failWith;
    return { channels: [{ timeoutMs: 0 }] } as unknown as ListChannelsResponse;
  }
}

const unreachable = (): CliError => new CliError('UNAVAILABLE: cannot reach the control plane at 10.0.2.5:50051', { code: 'UNAVAILABLE' });

describe('SiteStates and the configuration of two sites', () => {
  const setup = () => {
    const a = new FakeSite();
    const b = new FakeSite();
    a.servers = [{ name: 's1', httpAddress: '10.0.1.11:8080' }, { name: 's2', httpAddress: '10.0.1.12:8080', drained: true }];
    b.servers = [{ name: 's1', httpAddress: '10.0.2.11:8080' }];
    const log: string[] = [];
    const clusters: SiteCluster[] = [
      { site: '10.0.1.5:50051', cluster: 'prod', described: 'cluster prod at --control-plane 10.0.1.5:50051', api: a },
      { site: '10.0.2.5:50051', cluster: 'prod', described: '--site prod@10.0.2.5:50051', api: b },
    ];
    const states = new SiteStates(clusters, true, (l) => log.push(l));
    const config = async () =>
      haproxyConfig({ clusters: await states.read(), bind: ':80', stateFile: '/tmp/state', statsSocket: '/tmp/sock' });
    return { a, b, log, states, config };
  };
  const serverLines = (text: string) => text.split('\n').filter((l) => l.trim().startsWith('server '));

  it('puts the servers of both sites in the one backend, named SITE:CLUSTER:SERVER, drained ones disabled', async () => {
    const { config } = setup();
    const text = await config();
    expect(serverLines(text)).toEqual([
      '    server 10.0.1.5:50051:prod:s1 10.0.1.11:8080',
      '    server 10.0.1.5:50051:prod:s2 10.0.1.12:8080 disabled  # drained',
      '    server 10.0.2.5:50051:prod:s1 10.0.2.11:8080',
    ]);
    expect(text).toContain('clusters prod (revision 5 at 10.0.1.5:50051), prod (revision 5 at 10.0.2.5:50051)');
  });

  it('keeps the last known servers of a site whose control plane cannot be reached, warns once, and says when it is back', async () => {
    const { b, log, config } = setup();
    const before = await config();
    b.failWith = unreachable();
    expect(await config()).toBe(before);
    expect(await config()).toBe(before);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^warning: --site prod@10.0.2.5:50051: UNAVAILABLE: cannot reach .*keeping its 1 last known server\(s\)/);
    // Back, with a new server: it joins.
    b.failWith = undefined;
    b.servers.push({ name: 's2', httpAddress: '10.0.2.12:8080' });
    expect(serverLines(await config())).toContain('    server 10.0.2.5:50051:prod:s2 10.0.2.12:8080');
    expect(log[1]).toBe('--site prod@10.0.2.5:50051: the control plane answers again');
  });

  it('fails (naming the site, keeping the status) when a site was never heard from or refuses', async () => {
    const first = setup();
    first.b.failWith = unreachable();
    const error = await first.config().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('UNAVAILABLE');
    expect((error as CliError).message).toMatch(/^--site prod@10.0.2.5:50051: UNAVAILABLE/);

    const refused = setup();
    await refused.config();
    refused.b.failWith = new CliError('UNAUTHENTICATED: bad token', { code: 'UNAUTHENTICATED' });
    await expect(refused.config()).rejects.toThrow(/^--site prod@10.0.2.5:50051: UNAUTHENTICATED: bad token/);
  });

  it('with one site, names servers as before and passes errors through unchanged', async () => {
    const a = new FakeSite();
    a.servers = [{ name: 's1', httpAddress: '10.0.1.11:8080' }];
    const states = new SiteStates([{ site: '10.0.1.5:50051', cluster: 'prod', described: 'x', api: a }], false, () => undefined);
    const text = haproxyConfig({ clusters: await states.read(), bind: ':80', stateFile: '/tmp/state', statsSocket: '/tmp/sock' });
    expect(serverLines(text)).toEqual(['    server s1 10.0.1.11:8080']);
    const failure = unreachable();
    a.failWith = failure;
    await expect(states.read()).rejects.toBe(failure);
  });
});
