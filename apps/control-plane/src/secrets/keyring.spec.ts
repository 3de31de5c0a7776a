import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEYRING_FILE, Keyring, loadKeyring, parseSecretKey, secretKeyId } from './keyring';
import { SecretBox } from './secret-box';

describe('keyring: LANEWAY_SECRET_KEY, or a key file generated in the data directory', () => {
  const dirs: string[] = [];
  const dataDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'laneway-keys-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('generates a key file with mode 0600 on first start and loads the same key later', () => {
    const dir = dataDir();
    const first = loadKeyring({ dataDir: dir });
    expect(first.source).toBe('generated');
    expect(first.file).toBe(join(dir, KEYRING_FILE));
    expect(statSync(first.file!).mode & 0o777).toBe(0o600);
    const sealed = new SecretBox(first.keyring).seal('kept across restarts', 'c/security/n/f');
    const second = loadKeyring({ dataDir: dir });
    expect(second.source).toBe('file');
    expect(second.keyring.current!.id).toBe(first.keyring.current!.id);
    expect(new SecretBox(second.keyring).open(sealed, 'c/security/n/f')).toBe('kept across restarts');
  });

  it('saves an added key (mode 0600 still) and loads it as current after makeCurrent', () => {
    const dir = dataDir();
    const loaded = loadKeyring({ dataDir: dir });
    const old = loaded.keyring.current!.id;
    const next = parseSecretKey(randomBytes(32).toString('base64'), 'test');
    loaded.keyring.add(next);
    loaded.keyring.makeCurrent(next.id);
    loaded.save!(loaded.keyring);
    expect(statSync(loaded.file!).mode & 0o777).toBe(0o600);
    const again = loadKeyring({ dataDir: dir });
    expect(again.keyring.current!.id).toBe(next.id);
    expect(again.keyring.ids()).toEqual([next.id, old]);
  });

  it('does not copy LANEWAY_SECRET_KEY_PREVIOUS keys into the key file', () => {
    const dir = dataDir();
    const previous = randomBytes(32);
    const loaded = loadKeyring({ dataDir: dir, previousSecretKeys: previous.toString('base64') });
    expect(loaded.keyring.key(secretKeyId(previous))).toEqual(previous);
    loaded.save!(loaded.keyring);
    expect(loadKeyring({ dataDir: dir }).keyring.ids()).toEqual([loaded.keyring.current!.id]);
  });

  it('refuses a key file others can read', () => {
    const dir = dataDir();
    const { file } = loadKeyring({ dataDir: dir });
    chmodSync(file!, 0o644);
    expect(() => loadKeyring({ dataDir: dir })).toThrow(/readable by others than its owner: chmod 600/);
  });

  it('takes LANEWAY_SECRET_KEY (no file written), its previous keys, and the keys of an existing file', () => {
    const key = randomBytes(32);
    const previous = randomBytes(32);
    const dir = dataDir();
    const loaded = loadKeyring({ dataDir: dir, secretKey: key.toString('base64'), previousSecretKeys: ` ${previous.toString('base64url')} ` });
    expect(loaded.source).toBe('env');
    expect(loaded.save).toBeUndefined();
    expect(() => statSync(join(dir, KEYRING_FILE))).toThrow(/ENOENT/);
    expect(loaded.keyring.current!.id).toBe(secretKeyId(key));
    expect(loaded.keyring.ids()).toEqual([secretKeyId(key), secretKeyId(previous)]);

    const fileKeys = loadKeyring({ dataDir: dir }).keyring;
    const withFile = loadKeyring({ dataDir: dir, secretKey: key.toString('base64') });
    expect(withFile.keyring.key(fileKeys.current!.id)).toEqual(fileKeys.key(fileKeys.current!.id));
    expect(withFile.keyring.current!.id).toBe(secretKeyId(key));
  });

  it('names the variable and what is wrong when a key is malformed, never the value', () => {
    const short = randomBytes(16).toString('base64');
    const attempt = (opts: { secretKey?: string; previousSecretKeys?: string }): string => {
      try {
        loadKeyring({ dataDir: dataDir(), ...opts });
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    const tooShort = attempt({ secretKey: short });
    expect(tooShort).toBe("LANEWAY_SECRET_KEY decodes to 16 bytes; an AES-256 key is 32 bytes: generate one with 'openssl rand -base64 32'");
    expect(tooShort).not.toContain(short);
    expect(attempt({ secretKey: 'not base64 at all!' })).toMatch(/^LANEWAY_SECRET_KEY is not base64/);
    const prev = attempt({ secretKey: randomBytes(32).toString('base64'), previousSecretKeys: `${randomBytes(32).toString('base64')},${short}` });
    expect(prev).toMatch(/^LANEWAY_SECRET_KEY_PREVIOUS \(key 2 of 2\) decodes to 16 bytes/);
    expect(prev).not.toContain(short);
  });

  it('derives the key id from the key, so every control plane given one key names it alike', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString('base64'), 'a').id).toBe(parseSecretKey(key.toString('base64url'), 'b').id);
    expect(secretKeyId(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(new Keyring().current).toBeUndefined();
  });
});
