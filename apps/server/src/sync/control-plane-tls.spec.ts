import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { looksLikeTlsMismatch, readControlPlaneCa } from './control-plane-tls';

describe('readControlPlaneCa', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-server-ca-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A good CA file is read in e2e/src/tls.e2e.spec.ts (the control plane generates it).
  it('names the variable and the file when it is missing or not a certificate', () => {
    const missing = path.join(dir, 'missing.pem');
    expect(() => readControlPlaneCa(missing)).toThrow(
      `LANEWAY_TLS_CA=${missing}: cannot read the CA file (ENOENT)`,
    );
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    expect(() => readControlPlaneCa(garbage)).toThrow(`LANEWAY_TLS_CA=${garbage}: not a PEM certificate`);
  });
});

describe('looksLikeTlsMismatch', () => {
  it('with TLS: a failed handshake, not a control plane that is down', () => {
    expect(
      looksLikeTlsMismatch(
        'No connection established. Last error: Error: unable to verify the first certificate.',
        true,
      ),
    ).toBe(true);
    expect(
      looksLikeTlsMismatch(
        'Last error: Error: 80EC...:SSL routines:ssl3_get_record:wrong version number',
        true,
      ),
    ).toBe(true);
    expect(
      looksLikeTlsMismatch(
        'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.',
        true,
      ),
    ).toBe(false);
  });

  it('without TLS: connected, but no HTTP/2 answer, and no socket error', () => {
    expect(
      looksLikeTlsMismatch(
        'No connection established. Last error: Failed to connect (2026-12-02T00:06:52.067Z).',
        false,
      ),
    ).toBe(true);
    expect(
      looksLikeTlsMismatch(
        'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.',
        false,
      ),
    ).toBe(false);
    expect(looksLikeTlsMismatch(undefined, false)).toBe(false);
  });
});
