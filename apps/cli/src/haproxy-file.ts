/**
 * Writing an HAProxy configuration so that a reload never reads a broken one: a temporary file
 * beside the target, checked with `haproxy -c`, renamed over the target (atomic on one file system)
 * only when the check passes.
 */
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What checking a configuration file found. */
export type CheckResult =
  | { readonly kind: 'ok' }
  /** haproxy is not installed here: nothing could check the file. */
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'refused'; readonly output: string };

/** Checks the configuration in `file`, e.g. with `haproxy -c`. */
export type ConfigChecker = (file: string) => CheckResult;

/** `haproxy -c -f FILE`: its exit code decides; its output says why when it refuses. */
export function haproxyCheck(file: string): CheckResult {
  const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
  if (check.error && (check.error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'unavailable' };
  if (check.error || check.status !== 0) {
    const output = `${check.stdout ?? ''}${check.stderr ?? ''}`.trim();
    return { kind: 'refused', output: output || String(check.error ?? `exit ${check.status}`) };
  }
  return { kind: 'ok' };
}

/** 'written' (checked), 'unchecked' (written: no checker here), or refused with the checker's output (the file untouched). */
export type WriteResult =
  | { readonly kind: 'written' }
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'refused'; readonly output: string };

/**
 * Writes `text` to a temporary file beside `file`, checks it with `check`, and renames it over `file`
 * only when it passes (or nothing can check it). No temporary file is left either way. Throws the
 * file system's error when the temporary file cannot be written.
 */
export function writeChecked(file: string, text: string, check: ConfigChecker = haproxyCheck): WriteResult {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o644 });
    const result = check(temporary);
    if (result.kind === 'refused') return result;
    renameSync(temporary, file);
    return { kind: result.kind === 'ok' ? 'written' : 'unchecked' };
  } finally {
    rmSync(temporary, { force: true });
  }
}
