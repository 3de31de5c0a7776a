/**
 * The key file of `--key-file F`: its bytes are the key a bundle's `${enc:...}` secrets are
 * encrypted under (sent as `secrets_key`; the control plane derives the key from them). Export makes
 * one when F does not exist.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from './collect-files';
import { CliError } from './errors';

/** Bytes of a generated key, before base64. */
const GENERATED_KEY_BYTES = 32;

/** The key file's bytes; refused when it cannot be read or is empty (an empty key means none). */
export async function readKeyFile(file: string, cwd: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(path.resolve(cwd, file));
  } catch (error) {
    throw new CliError(`cannot read --key-file '${file}': ${describeFsError(error)}`, { cause: error });
  }
  if (key.length === 0) throw new CliError(`--key-file '${file}' is empty: it holds no key`);
  return key;
}

/**
 * The key file's bytes; when it does not exist, first made: 32 random bytes, base64, readable by
 * its owner only (mode 0600). `created` says which.
 */
export async function readOrCreateKeyFile(
  file: string,
  cwd: string,
): Promise<{ key: Buffer; created: boolean }> {
  const absolute = path.resolve(cwd, file);
  try {
    await writeFile(absolute, randomBytes(GENERATED_KEY_BYTES).toString('base64'), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST')
      return { key: await readKeyFile(file, cwd), created: false };
    throw new CliError(`cannot create --key-file '${file}': ${describeFsError(error)}`, { cause: error });
  }
  return { key: await readKeyFile(file, cwd), created: true };
}
