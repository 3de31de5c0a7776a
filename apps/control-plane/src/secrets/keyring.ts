import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

const KEY_BYTES = 32;

/** One AES-256 key and its id (derived from the key, so every control plane given it names it alike). */
export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The keys this control plane can open secrets with, and the one it seals new ones with. */
export class Keyring {
  private readonly keys = new Map<string, Buffer>();
  private currentId: string | undefined;

  constructor(current?: SecretKey, others: readonly SecretKey[] = []) {
    for (const k of others) this.keys.set(k.id, k.key);
    if (current) {
      this.keys.set(current.id, current.key);
      this.currentId = current.id;
    }
  }

  get current(): SecretKey | undefined {
    const key = this.currentId === undefined ? undefined : this.keys.get(this.currentId);
    return key && { id: this.currentId!, key };
  }

  key(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  /** Every key id held, the current one first. */
  ids(): string[] {
    return [...this.keys.keys()].sort((a, b) => Number(b === this.currentId) - Number(a === this.currentId));
  }

  add(key: SecretKey): void {
    this.keys.set(key.id, key.key);
  }

  remove(id: string): void {
    if (id === this.currentId) throw new Error(`cannot remove the current secret key '${id}'`);
    this.keys.delete(id);
  }

  makeCurrent(id: string): void {
    if (!this.keys.has(id)) throw new Error(`secret key '${id}' is not in the keyring`);
    this.currentId = id;
  }
}

/** The id of a key: 16 hex digits of an HMAC under it (reveals nothing of the key). */
export function secretKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('laneway secret key id').digest('hex').slice(0, 16);
}

export function generateSecretKey(): SecretKey {
  const key = randomBytes(KEY_BYTES);
  return { id: secretKeyId(key), key };
}

/**
 * Parses a key given as base64 (or base64url) of 32 bytes. The error names `source` (a variable, a
 * file) and what is wrong, never the value.
 */
export function parseSecretKey(value: string, source: string): SecretKey {
  const text = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw new Error(`${source} is not base64: give 32 random bytes in base64, e.g. the output of 'openssl rand -base64 32'`);
  }
  const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(`${source} decodes to ${key.length} bytes; an AES-256 key is ${KEY_BYTES} bytes: generate one with 'openssl rand -base64 32'`);
  }
  return { id: secretKeyId(key), key };
}

/** Several keys, separated by commas or white space (LANEWAY_SECRET_KEY_PREVIOUS). */
export function parseSecretKeys(value: string | undefined, source: string): SecretKey[] {
  const items = (value ?? '').split(/[\s,]+/).filter(Boolean);
  return items.map((item, i) => parseSecretKey(item, items.length > 1 ? `${source} (key ${i + 1} of ${items.length})` : source));
}

export interface KeyringOptions {
  /** LANEWAY_SECRET_KEY: base64 of 32 bytes; every value is sealed with it. */
  secretKey?: string | undefined;
  /** LANEWAY_SECRET_KEY_PREVIOUS: retired keys that still open what they sealed, until a rotation. */
  previousSecretKeys?: string | undefined;
  /** The data directory, where the keyring file is kept when no key comes from the environment. */
  dataDir: string;
}

export interface LoadedKeyring {
  keyring: Keyring;
  /** 'env': LANEWAY_SECRET_KEY; 'file': the keyring file; 'generated': the file, created by this start. */
  source: 'env' | 'file' | 'generated';
  /** The keyring file: the one in use, or (source 'env') one found there whose keys still open old values. */
  file?: string;
  /** Saves the keyring to its file (sources 'file' and 'generated'). */
  save?: (keyring: Keyring) => void;
}

export const KEYRING_FILE = 'secret-keys.json';

interface KeyringFileJson {
  current: string;
  keys: { id: string; key: string }[];
}

/**
 * The keyring: from LANEWAY_SECRET_KEY (and LANEWAY_SECRET_KEY_PREVIOUS) when set, else the keyring
 * file in the data directory (created on first start, readable by the owner only). With the variable
 * set, the keys of an existing file still open what they sealed, so moving from the file to the
 * variable is: set it, restart, `laneway secrets rotate-key`.
 */
export function loadKeyring(options: KeyringOptions): LoadedKeyring {
  const file = path.join(options.dataDir, KEYRING_FILE);
  const previous = parseSecretKeys(options.previousSecretKeys, 'LANEWAY_SECRET_KEY_PREVIOUS');
  const stored = readKeyringFile(file);
  if (options.secretKey?.trim()) {
    const current = parseSecretKey(options.secretKey, 'LANEWAY_SECRET_KEY');
    return { keyring: new Keyring(current, [...previous, ...(stored?.keys ?? [])]), source: 'env', ...(stored && { file }) };
  }
  // Keys given in LANEWAY_SECRET_KEY_PREVIOUS open values, but are not copied into the file.
  const fromEnv = new Set(previous.map((k) => k.id));
  const save = (keyring: Keyring): void => writeKeyringFile(file, keyring, 'w', fromEnv);
  if (stored) {
    const current = stored.keys.find((k) => k.id === stored.current);
    if (!current) throw new Error(`${file}: its current key '${stored.current}' is not among its keys`);
    return { keyring: new Keyring(current, [...previous, ...stored.keys]), source: 'file', file, save };
  }
  const keyring = new Keyring(generateSecretKey(), previous);
  mkdirSync(options.dataDir, { recursive: true });
  writeKeyringFile(file, keyring, 'wx', fromEnv);
  return { keyring, source: 'generated', file, save };
}

function readKeyringFile(file: string): { current: string; keys: SecretKey[] } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new Error(`${file} is readable by others than its owner: chmod 600 it (it holds the keys of the stored secrets)`);
  }
  let json: KeyringFileJson;
  try {
    json = JSON.parse(text) as KeyringFileJson;
  } catch {
    throw new Error(`${file} is not JSON: restore it from a backup (it holds the keys of the stored secrets)`);
  }
  if (typeof json.current !== 'string' || !Array.isArray(json.keys)) throw new Error(`${file} holds no { current, keys }: restore it from a backup`);
  const keys = json.keys.map((k, i) => {
    const parsed = parseSecretKey(String(k.key), `${file}: key ${i + 1}`);
    if (parsed.id !== k.id) throw new Error(`${file}: key ${i + 1} is named '${k.id}' but its id is '${parsed.id}'`);
    return parsed;
  });
  return { current: json.current, keys };
}

/**
 * Writes the whole file anew beside the old one, flushed to disk, and renames it over: a crash leaves
 * one or the other, and a key is on disk before any value sealed with it is committed.
 */
function writeKeyringFile(file: string, keyring: Keyring, flag: 'w' | 'wx', exclude: ReadonlySet<string>): void {
  const json: KeyringFileJson = {
    current: keyring.current!.id,
    keys: keyring
      .ids()
      .filter((id) => id === keyring.current!.id || !exclude.has(id))
      .map((id) => ({ id, key: keyring.key(id)!.toString('base64') })),
  };
  const target = flag === 'wx' ? file : `${file}.${process.pid}.tmp`;
  const fd = openSync(target, flag, 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${JSON.stringify(json, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (target !== file) renameSync(target, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
