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

/**
 * What the first start tells its operator about the token it generated: on a terminal the token
 * itself (to copy); otherwise (stderr piped into a log collector) only where it is kept. Written to
 * stderr as plain text, apart from the JSON log on stdout, which never carries it.
 */
export function adminTokenNotice(token: string, file: string, terminal: boolean): string {
  if (terminal) return `Generated the admin token, kept in ${file} (the CLI reads it there; elsewhere set LANEWAY_TOKEN):\n\n  ${token}\n\n`;
  return `Generated the admin token, kept in ${file} (the CLI reads it there; elsewhere set LANEWAY_TOKEN to its content). It is shown only on a terminal, never in the log.\n`;
}
