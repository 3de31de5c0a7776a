import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readKeyFile, readOrCreateKeyFile } from './key-file';

describe('key files', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-key-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('makes a missing key file: 32 random bytes as base64, mode 0600; then reads it as it is', async () => {
    const made = await readOrCreateKeyFile('prod.key', root);
    expect(made.created).toBe(true);
    const text = await readFile(path.join(root, 'prod.key'), 'utf8');
    expect(Buffer.from(text, 'base64')).toHaveLength(32);
    expect(made.key.equals(Buffer.from(text))).toBe(true);
    expect((await stat(path.join(root, 'prod.key'))).mode & 0o777).toBe(0o600);
    const again = await readOrCreateKeyFile(path.join(root, 'prod.key'), '/');
    expect(again).toEqual({ key: made.key, created: false });
    expect((await readKeyFile('prod.key', root)).equals(made.key)).toBe(true);
  });

  it('refuses a key file that is missing (to read), empty, or in a missing directory (to make)', async () => {
    await expect(readKeyFile('none.key', root)).rejects.toThrow(
      "cannot read --key-file 'none.key': no such file or directory",
    );
    await writeFile(path.join(root, 'empty.key'), '');
    await expect(readKeyFile('empty.key', root)).rejects.toThrow("--key-file 'empty.key' is empty");
    await expect(readOrCreateKeyFile('no/dir.key', root)).rejects.toThrow(
      "cannot create --key-file 'no/dir.key': no such file or directory",
    );
  });
});
