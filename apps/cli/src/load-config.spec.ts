import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from './errors';
import { adminTokenPath, applyOverrides, loadConfig, readAdminTokenFile, readTlsCa } from './load-config';

describe('loadConfig', () => {
  it('defaults to the local control plane and the default cluster, without a token', () => {
    expect(loadConfig({})).toEqual({ controlPlanes: ['127.0.0.1:50051'], cluster: 'default', token: undefined });
  });

  it('reads LANEWAY_CONTROL_PLANE, LANEWAY_CLUSTER and LANEWAY_TOKEN; empty counts as unset', () => {
    expect(
      loadConfig({
        LANEWAY_CONTROL_PLANE: 'cp.internal:9000',
        LANEWAY_CLUSTER: 'prod',
        LANEWAY_TOKEN: 't0k',
      }),
    ).toEqual({ controlPlanes: ['cp.internal:9000'], cluster: 'prod', token: 't0k' });
    expect(loadConfig({ LANEWAY_CONTROL_PLANE: '', LANEWAY_CLUSTER: ' ', LANEWAY_TOKEN: '' })).toEqual(
      loadConfig({}),
    );
  });

  it('is frozen, and flags override it into a new frozen config', () => {
    const config = loadConfig({ LANEWAY_CLUSTER: 'prod', LANEWAY_TOKEN: 't0k' });
    expect(Object.isFrozen(config)).toBe(true);
    const overridden = applyOverrides(config, { cluster: 'staging', controlPlane: undefined });
    expect(overridden).toEqual({ controlPlanes: ['127.0.0.1:50051'], cluster: 'staging', token: 't0k' });
    expect(Object.isFrozen(overridden)).toBe(true);
    expect(config.cluster).toBe('prod');
  });

  it('reads LANEWAY_CONTROL_PLANE and --control-plane as comma-separated lists of HOST:PORT, in order', () => {
    const config = loadConfig({ LANEWAY_CONTROL_PLANE: ' cp1:50051, 10.0.0.2:50051 ,[::1]:7000' });
    expect(config.controlPlanes).toEqual(['cp1:50051', '10.0.0.2:50051', '[::1]:7000']);
    expect(Object.isFrozen(config.controlPlanes)).toBe(true);
    expect(applyOverrides(config, { controlPlane: 'cp9:1,cp8:2' }).controlPlanes).toEqual(['cp9:1', 'cp8:2']);
  });

  it('refuses a bad entry, naming the variable or the flag, the value and the entry', () => {
    const bad: [string, string][] = [
      ['cp1:50051,cp2', 'entry "cp2" is not HOST:PORT (e.g. 127.0.0.1:50051)'],
      ['cp1:50051,,cp2:50051', 'an empty entry (two commas in a row, or a comma at an end): give HOST:PORT[,HOST:PORT...]'],
      ['cp1:99999', 'entry "cp1:99999" has port 99999, not 1-65535'],
      ['cp1:1,cp1:1', 'entry "cp1:1" is listed twice'],
    ];
    for (const [value, problem] of bad) {
      const fromEnv = (): unknown => loadConfig({ LANEWAY_CONTROL_PLANE: value });
      expect(fromEnv).toThrow(CliError);
      expect(fromEnv).toThrow(`LANEWAY_CONTROL_PLANE=${value}: ${problem}`);
      expect(() => applyOverrides(loadConfig({}), { controlPlane: value })).toThrow(`--control-plane ${value}: ${problem}`);
    }
  });

  it('takes a token found elsewhere only when the environment has none', () => {
    expect(applyOverrides(loadConfig({}), { token: 'from-file' }).token).toBe('from-file');
    expect(applyOverrides(loadConfig({ LANEWAY_TOKEN: 't0k' }), { token: 'from-file' }).token).toBe('t0k');
  });
});

describe('readAdminTokenFile', () => {
  let cwd = '';

  beforeEach(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'laneway-cli-token-'));
  });

  afterEach(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  async function writeToken(dir: string, content: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'admin-token'), content, { mode: 0o600 });
  }

  it('reads ./.laneway/admin-token relative to cwd by default, trimmed', async () => {
    expect(adminTokenPath({}, cwd)).toBe(path.join(cwd, '.laneway', 'admin-token'));
    expect(await readAdminTokenFile({}, cwd)).toBeUndefined();

    await writeToken(path.join(cwd, '.laneway'), 'lwa_generated\n');
    expect(await readAdminTokenFile({}, cwd)).toBe('lwa_generated');
    expect(await readAdminTokenFile({ LANEWAY_DATA_DIR: ' ' }, cwd)).toBe('lwa_generated');
  });

  it('follows LANEWAY_DATA_DIR, relative to cwd or absolute', async () => {
    await writeToken(path.join(cwd, 'state'), 'lwa_relative\n');
    const absolute = path.join(cwd, 'elsewhere', 'data');
    await writeToken(absolute, '  lwa_absolute  \r\n');

    expect(await readAdminTokenFile({ LANEWAY_DATA_DIR: 'state' }, cwd)).toBe('lwa_relative');
    expect(await readAdminTokenFile({ LANEWAY_DATA_DIR: absolute }, path.join(cwd, 'state'))).toBe(
      'lwa_absolute',
    );
    expect(await readAdminTokenFile({ LANEWAY_DATA_DIR: 'nope' }, cwd)).toBeUndefined();
  });

  it('ignores an empty file and a data dir that is not a directory', async () => {
    await writeToken(path.join(cwd, '.laneway'), '\n');
    expect(await readAdminTokenFile({}, cwd)).toBeUndefined();

    await writeFile(path.join(cwd, 'plain-file'), 'x');
    expect(await readAdminTokenFile({ LANEWAY_DATA_DIR: 'plain-file' }, cwd)).toBeUndefined();
  });

  it('fails with a CliError when the file exists but cannot be read', async () => {
    await mkdir(path.join(cwd, 'broken', 'admin-token'), { recursive: true });

    const error: unknown = await readAdminTokenFile({ LANEWAY_DATA_DIR: 'broken' }, cwd).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      `cannot read the admin token in '${path.join(cwd, 'broken', 'admin-token')}' (EISDIR): set LANEWAY_TOKEN`,
    );
  });
});

describe('readTlsCa', () => {
  let cwd = '';

  beforeEach(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'laneway-cli-ca-'));
  });

  afterEach(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('is plaintext (undefined) when neither LANEWAY_TLS_CA nor a published CA exists', async () => {
    expect(await readTlsCa(loadConfig({}), {}, cwd)).toBeUndefined();
  });

  it('finds the CA a control plane published in its data directory (LANEWAY_DATA_DIR followed)', async () => {
    await mkdir(path.join(cwd, 'state'));
    await writeFile(path.join(cwd, 'state', 'ca.pem'), 'CA PEM');
    const env = { LANEWAY_DATA_DIR: 'state' };
    expect(await readTlsCa(loadConfig(env), env, cwd)).toEqual({
      ca: Buffer.from('CA PEM'),
      file: path.join(cwd, 'state', 'ca.pem'),
      source: 'data-dir',
    });
  });

  it('prefers LANEWAY_TLS_CA, relative to cwd, and fails naming it when it cannot be read', async () => {
    await mkdir(path.join(cwd, '.laneway'));
    await writeFile(path.join(cwd, '.laneway', 'ca.pem'), 'published');
    await writeFile(path.join(cwd, 'mine.pem'), 'mine');
    const env = { LANEWAY_TLS_CA: 'mine.pem' };
    expect(await readTlsCa(loadConfig(env), env, cwd)).toEqual({ ca: Buffer.from('mine'), file: path.join(cwd, 'mine.pem'), source: 'LANEWAY_TLS_CA' });

    const missing = { LANEWAY_TLS_CA: 'nope.pem' };
    const error = await readTlsCa(loadConfig(missing), missing, cwd).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(`LANEWAY_TLS_CA=nope.pem: cannot read the CA file '${path.join(cwd, 'nope.pem')}' (ENOENT)`);
  });
});
