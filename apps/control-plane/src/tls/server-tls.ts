import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ensureGeneratedCertificates } from './generated-certificates';
import { isWildcardAddress, listenHost } from './listen-address';
import type { TlsSettings } from './tls-settings';

/** What the gRPC server binds with, and the fields that say so in the "listening" log line. */
export interface ServerTls {
  credentials: ServerCredentials;
  /** Log fields: the mode and the files (never a key's content). */
  describe: Record<string, unknown>;
}

/** The CA clients of this control plane trust, published beside the admin token when it is generated. */
export function publishedCaFile(dataDir: string): string {
  return path.join(dataDir, 'ca.pem');
}

/**
 * Server credentials for the settings: none, the operator's files, or the generated CA and server
 * certificate under `<data dir>/tls/` (made or renewed as needed). With generated certificates the
 * CA certificate is also copied to `<data dir>/ca.pem`, where the CLI finds it; in the other modes
 * that copy is removed, so a CLI on this host does not try TLS against a plaintext control plane.
 */
export async function serverTls(
  settings: TlsSettings | undefined,
  address: string,
  dataDir: string,
  logger: Logger,
): Promise<ServerTls> {
  const published = publishedCaFile(dataDir);
  if (settings?.mode !== 'generated') unpublish(published, dataDir);
  if (settings === undefined || settings.mode === 'plaintext') {
    if (settings?.insecure) {
      logger.warn(
        { address },
        'LANEWAY_INSECURE=true: serving gRPC in plaintext on a non-loopback address; tokens and secrets cross the network unencrypted',
      );
    }
    return { credentials: ServerCredentials.createInsecure(), describe: { tls: 'off' } };
  }
  if (settings.mode === 'files') {
    const cert = readOrThrow('LANEWAY_TLS_CERT', settings.certFile);
    const key = readOrThrow('LANEWAY_TLS_KEY', settings.keyFile);
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch (err) {
      throw new Error(
        `LANEWAY_TLS_CERT=${settings.certFile}: not a PEM certificate (${(err as Error).message})`,
        { cause: err },
      );
    }
    try {
      if (!leaf.checkPrivateKey(createPrivateKey(key)))
        throw new Error('the key does not belong to the certificate');
    } catch (err) {
      throw new Error(
        `LANEWAY_TLS_KEY=${settings.keyFile}: not the private key of LANEWAY_TLS_CERT=${settings.certFile} (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
    return {
      credentials: ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false),
      describe: { tls: 'files', certFile: settings.certFile, notAfter: new Date(leaf.validTo).toISOString() },
    };
  }
  const generated = await ensureGeneratedCertificates({
    dir: path.join(dataDir, 'tls'),
    names: certificateNames(address, settings.extraNames),
  });
  if (generated.created.ca)
    logger.info({ caFile: generated.files.caCert }, 'generated a TLS certificate authority');
  if (generated.created.server) {
    logger.info(
      {
        certFile: generated.files.serverCert,
        names: generated.names,
        notAfter: generated.notAfter.toISOString(),
        reason: generated.reason,
      },
      'generated the TLS server certificate',
    );
  }
  writePublished(published, generated.caCertPem);
  return {
    credentials: ServerCredentials.createSsl(
      null,
      [
        {
          cert_chain: Buffer.from(generated.serverCertPem),
          private_key: Buffer.from(generated.serverKeyPem),
        },
      ],
      false,
    ),
    describe: {
      tls: 'generated',
      caFile: published,
      certFile: generated.files.serverCert,
      notAfter: generated.notAfter.toISOString(),
    },
  };
}

/**
 * localhost, 127.0.0.1, ::1, this host's name, the listen host, and on a wildcard address this host's
 * interface addresses (so servers can dial any of them); then LANEWAY_TLS_SANS.
 */
export function certificateNames(address: string, extraNames: readonly string[]): string[] {
  const names = ['localhost', '127.0.0.1', '::1', os.hostname()];
  const host = listenHost(address);
  if (isWildcardAddress(address)) {
    for (const entries of Object.values(os.networkInterfaces())) {
      for (const entry of entries ?? []) {
        if (!entry.internal && !entry.address.startsWith('fe80:')) names.push(entry.address);
      }
    }
  } else if (host) {
    names.push(host);
  }
  return [...names, ...extraNames];
}

function readOrThrow(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(
      `${variable}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { cause: err },
    );
  }
}

function writePublished(file: string, pem: string): void {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === pem) return;
  // Written aside and renamed: a CLI reading it never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Removes `<data dir>/ca.pem` only when it is the copy of the generated CA (never an operator's file). */
function unpublish(file: string, dataDir: string): void {
  try {
    const published = readFileSync(file, 'utf8');
    const generated = readFileSync(path.join(dataDir, 'tls', 'ca-cert.pem'), 'utf8');
    if (published === generated) rmSync(file, { force: true });
  } catch {
    // Nothing published, or nothing generated: leave it.
  }
}
