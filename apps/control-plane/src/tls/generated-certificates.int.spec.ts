import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureGeneratedCertificates, subjectAltNames } from './generated-certificates';

const isIp = (host: string): boolean => net.isIP(host) !== 0;
const NAMES = ['localhost', '127.0.0.1', '::1', os.hostname()];

/** A real TLS handshake: a node:tls server with the certificate, a client trusting only the CA. */
async function handshake(certPem: string, keyPem: string, caPem: string, host: string): Promise<boolean> {
  const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: caPem,
        servername: isIp(host) ? undefined : host,
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert),
      });
      socket.once('secureConnect', () => {
        resolve(socket.authorized);
        socket.destroy();
      });
      socket.once('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

describe('ensureGeneratedCertificates', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'laneway-tls-')), 'tls');
    dirs.push(path.dirname(dir));
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('makes a CA and a server certificate it signed, covering the names, keys mode 0600', async () => {
    const dir = tempDir();
    const made = await ensureGeneratedCertificates({
      dir,
      names: [...NAMES, '10.1.2.3', 'cp.example.internal'],
    });

    expect(made.created).toEqual({ ca: true, server: true });
    const ca = new X509Certificate(readFileSync(made.files.caCert));
    const cert = new X509Certificate(readFileSync(made.files.serverCert));
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(subjectAltNames(cert).sort()).toEqual(
      [...new Set([...NAMES, '10.1.2.3', 'cp.example.internal'].map((n) => n.toLowerCase()))].sort(),
    );
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBeDefined();
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(statSync(made.files.caKey).mode & 0o777).toBe(0o600);
    expect(statSync(made.files.serverKey).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
    // The key on disk is the certificate's.
    expect(
      cert.checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(readFileSync(made.files.serverKey)),
      ),
    ).toBe(true);

    expect(await handshake(made.serverCertPem, made.serverKeyPem, made.caCertPem, '127.0.0.1')).toBe(true);
    expect(await handshake(made.serverCertPem, made.serverKeyPem, made.caCertPem, 'localhost')).toBe(true);
    // A name the certificate does not cover fails the client's check.
    expect(await handshake(made.serverCertPem, made.serverKeyPem, made.caCertPem, 'elsewhere.example')).toBe(
      false,
    );
  });

  it('reuses both on a second start', async () => {
    const dir = tempDir();
    const first = await ensureGeneratedCertificates({ dir, names: NAMES });
    const second = await ensureGeneratedCertificates({ dir, names: NAMES });

    expect(second.created).toEqual({ ca: false, server: false });
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(second.serverCertPem).toBe(first.serverCertPem);
    expect(second.serverKeyPem).toBe(first.serverKeyPem);
  });

  it('keeps the CA and replaces the server certificate when a name is not covered or it nears expiry', async () => {
    const dir = tempDir();
    const first = await ensureGeneratedCertificates({ dir, names: NAMES });

    const wider = await ensureGeneratedCertificates({ dir, names: [...NAMES, '192.0.2.7'] });
    expect(wider.created).toEqual({ ca: false, server: true });
    expect(wider.reason).toBe('does not cover 192.0.2.7');
    expect(wider.caCertPem).toBe(first.caCertPem);
    expect(new X509Certificate(wider.serverCertPem).checkIP('192.0.2.7')).toBe('192.0.2.7');
    expect(await handshake(wider.serverCertPem, wider.serverKeyPem, first.caCertPem, '192.0.2.7')).toBe(true);

    // 800 days on, the 825-day certificate has less than 30 days left (the CA has years).
    const later = await ensureGeneratedCertificates({
      dir,
      names: NAMES,
      now: new Date(Date.now() + 800 * 24 * 3600_000),
    });
    expect(later.created).toEqual({ ca: false, server: true });
    expect(later.reason).toBe('near expiry');
    expect(later.caCertPem).toBe(first.caCertPem);
  });

  it('makes a new CA and server certificate when the CA key does not match its certificate', async () => {
    const dir = tempDir();
    const first = await ensureGeneratedCertificates({ dir, names: NAMES });
    writeFileSync(first.files.caKey, readFileSync(first.files.serverKey));

    const again = await ensureGeneratedCertificates({ dir, names: NAMES });
    expect(again.created).toEqual({ ca: true, server: true });
    expect(again.caCertPem).not.toBe(first.caCertPem);
    expect(new X509Certificate(again.serverCertPem).checkIssued(new X509Certificate(again.caCertPem))).toBe(
      true,
    );
  });
});
