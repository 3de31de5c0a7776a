import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';
import { installReflectMetadataShim } from './reflect-metadata-shim';

const DAY_MS = 24 * 3600_000;
const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 825;
/** A server certificate with less left than this is replaced at start (the CA is kept). */
export const SERVER_RENEW_BEFORE_DAYS = 30;
/** A CA with less left than this is replaced at start, and every certificate it signed with it. */
const CA_RENEW_BEFORE_DAYS = 90;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** The files of the generated CA and server certificate, under `<data dir>/tls/`. */
export interface GeneratedCertificateFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export interface GeneratedCertificates {
  files: GeneratedCertificateFiles;
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** Names and addresses the server certificate covers. */
  names: string[];
  notAfter: Date;
  /** What this call had to create (nothing on a start that reuses both). */
  created: { ca: boolean; server: boolean };
  /** Why the server certificate was (re)made, when it was. */
  reason?: string;
}

export function generatedCertificateFiles(dir: string): GeneratedCertificateFiles {
  return {
    caCert: path.join(dir, 'ca-cert.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    serverCert: path.join(dir, 'server-cert.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
  };
}

/**
 * Makes sure `dir` holds a CA and a server certificate it signed that covers `names` (DNS names and
 * IP addresses) for at least SERVER_RENEW_BEFORE_DAYS more. Reuses what is there; replaces the server
 * certificate when it is near expiry, does not cover a name or was not signed by the CA; replaces the
 * CA only when it is missing, unreadable or near its own expiry. Keys are written mode 0600.
 */
export async function ensureGeneratedCertificates(options: {
  dir: string;
  names: readonly string[];
  now?: Date;
}): Promise<GeneratedCertificates> {
  const now = options.now ?? new Date();
  const names = [...new Set(options.names.map((n) => normaliseIp(n.trim().toLowerCase())).filter(Boolean))];
  const files = generatedCertificateFiles(options.dir);
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const x509 = await loadX509();

  let ca = readCa(files, now);
  const created = { ca: false, server: false };
  if (!ca) {
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=Laneway control-plane CA ${randomBytes(4).toString('hex')}`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyPem = await privateKeyPem(keys.privateKey);
    writeSecret(files.caKey, keyPem);
    writePublic(files.caCert, cert.toString('pem'));
    ca = { cert: new X509Certificate(cert.toString('pem')), pem: cert.toString('pem'), keyPem };
    created.ca = true;
  } else {
    chmodSync(files.caKey, 0o600);
  }

  const existing = created.ca ? undefined : readServer(files, ca.cert);
  let reason = created.ca
    ? 'new CA'
    : existing === undefined
      ? 'missing or unreadable'
      : checkServer(existing, names, now);
  if (existing && reason === undefined) {
    chmodSync(files.serverKey, 0o600);
    return {
      files,
      caCertPem: ca.pem,
      serverCertPem: existing.pem,
      serverKeyPem: existing.keyPem,
      names: existing.names,
      notAfter: new Date(existing.cert.validTo),
      created,
    };
  }
  reason ??= 'unknown';

  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(ca.keyPem).export({ format: 'der', type: 'pkcs8' }),
    ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await generateKeys();
  const notAfter = new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS);
  const caCert = new x509.X509Certificate(ca.pem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.find((n) => !net.isIP(n)) ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: net.isIP(n) ? 'ip' : 'dns', value: n })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const serverKeyPem = await privateKeyPem(keys.privateKey);
  writeSecret(files.serverKey, serverKeyPem);
  writePublic(files.serverCert, cert.toString('pem'));
  created.server = true;
  return {
    files,
    caCertPem: ca.pem,
    serverCertPem: cert.toString('pem'),
    serverKeyPem,
    names,
    notAfter,
    created,
    reason,
  };
}

let x509Module: Promise<typeof X509> | undefined;

/** @peculiar/x509 loads tsyringe, which throws at load without a Reflect metadata polyfill. */
function loadX509(): Promise<typeof X509> {
  installReflectMetadataShim();
  x509Module ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    return m;
  });
  return x509Module;
}

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ]) as Promise<webcrypto.CryptoKeyPair>;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

/** A positive 128-bit serial number, as hex. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function readCa(
  files: GeneratedCertificateFiles,
  now: Date,
): { cert: X509Certificate; pem: string; keyPem: string } | undefined {
  try {
    const pem = readFileSync(files.caCert, 'utf8');
    const keyPem = readFileSync(files.caKey, 'utf8');
    const cert = new X509Certificate(pem);
    if (!cert.ca || !sameKey(cert, keyPem)) return undefined;
    if (new Date(cert.validTo).getTime() - now.getTime() < CA_RENEW_BEFORE_DAYS * DAY_MS) return undefined;
    return { cert, pem, keyPem };
  } catch {
    return undefined;
  }
}

interface ExistingServer {
  cert: X509Certificate;
  pem: string;
  keyPem: string;
  names: string[];
}

function readServer(files: GeneratedCertificateFiles, ca: X509Certificate): ExistingServer | undefined {
  try {
    const pem = readFileSync(files.serverCert, 'utf8');
    const keyPem = readFileSync(files.serverKey, 'utf8');
    const cert = new X509Certificate(pem);
    if (!sameKey(cert, keyPem) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return undefined;
    return { cert, pem, keyPem, names: subjectAltNames(cert) };
  } catch {
    return undefined;
  }
}

/** Why the certificate must be replaced, or undefined when it will do. */
function checkServer(server: ExistingServer, names: readonly string[], now: Date): string | undefined {
  if (new Date(server.cert.validTo).getTime() - now.getTime() < SERVER_RENEW_BEFORE_DAYS * DAY_MS)
    return 'near expiry';
  const missing = names.filter((n) => !server.names.includes(n));
  return missing.length ? `does not cover ${missing.join(', ')}` : undefined;
}

/** `DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1` -> normalised names. */
export function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .flatMap((entry) => {
      if (entry.startsWith('DNS:')) return [entry.slice(4).toLowerCase()];
      if (entry.startsWith('IP Address:')) return [normaliseIp(entry.slice(11))];
      return [];
    });
}

function normaliseIp(ip: string): string {
  if (!net.isIPv6(ip)) return ip;
  // Node prints IPv6 SANs expanded; compare them in the form the caller wrote (net.SocketAddress canonicalises).
  return new net.SocketAddress({ address: ip, family: 'ipv6' }).address;
}

function sameKey(cert: X509Certificate, keyPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ format: 'der', type: 'spki' });
  return fromKey.equals(cert.publicKey.export({ format: 'der', type: 'spki' }));
}

function writeSecret(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function writePublic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, file);
}
