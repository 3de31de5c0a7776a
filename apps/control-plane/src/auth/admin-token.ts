import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The admin token: LANEWAY_ADMIN_TOKEN when set, otherwise the one kept in the data directory
 * (created on first start, readable by the owner only).
 */
export function resolveAdminToken(configured: string | undefined, dataDir: string): { token: string; source: 'env' | 'file' | 'generated'; file?: string } {
  if (configured) return { token: configured, source: 'env' };
  const file = path.join(dataDir, 'admin-token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return { token, source: 'file', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const token = `lwa_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated', file };
}
