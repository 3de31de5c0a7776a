import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { publishedCaFile } from '../tls/server-tls';
import { isLoopbackAddress, isWildcardAddress, listenHost } from '../tls/listen-address';
import type { TlsSettings } from '../tls/tls-settings';

export interface ApiTarget {
  /** The control plane's own gRPC address, as a client dials it. */
  readonly address: string;
  /** Set when the gRPC listener serves TLS: the CA to verify it with. */
  readonly tls?: { readonly ca: Buffer; readonly caFile: string };
}

/**
 * Where the web admin calls the control plane's own gRPC API: loopback when the listener is on a
 * wildcard or loopback address, else its listen host; with TLS when the listener serves it (the
 * generated CA, or for the operator's certificate the certificate's own chain plus the system CAs).
 */
export function apiTarget(grpcAddress: string, port: number, tls: TlsSettings | undefined, dataDir: string): ApiTarget {
  if (/^unix(-abstract)?:/i.test(grpcAddress.trim())) return { address: grpcAddress.trim(), ...tlsOf(tls, dataDir) };
  const host = listenHost(grpcAddress) ?? '';
  let dial = isWildcardAddress(grpcAddress) || host === '' || isLoopbackAddress(grpcAddress) ? '127.0.0.1' : host;
  if (tls?.mode === 'files') {
    // The operator's certificate may not name 127.0.0.1: dial a name it has, preferring the listen host.
    const names = certificateNames(readFileSync(tls.certFile));
    if (!names.includes(dial)) dial = names.includes('localhost') ? 'localhost' : names.includes(host) ? host : (names[0] ?? dial);
  }
  const address = dial.includes(':') ? `[${dial}]:${port}` : `${dial}:${port}`;
  return { address, ...tlsOf(tls, dataDir) };
}

function tlsOf(tls: TlsSettings | undefined, dataDir: string): { tls?: ApiTarget['tls'] } {
  if (!tls || tls.mode === 'plaintext') return {};
  if (tls.mode === 'generated') {
    const caFile = publishedCaFile(dataDir);
    return { tls: { ca: readFileSync(caFile), caFile } };
  }
  // The chain file (a self-signed certificate is its own root) and the system's CAs (a public one).
  const chain = readFileSync(tls.certFile, 'utf8');
  return { tls: { ca: Buffer.from([chain, ...rootCertificates].join('\n')), caFile: tls.certFile } };
}

/** The DNS names and IP addresses a PEM certificate (the first of the chain) is for. */
function certificateNames(pem: Buffer): string[] {
  try {
    const cert = new X509Certificate(pem);
    return (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .map((s) => s.replace(/^(DNS|IP Address):/, ''))
      .filter((s) => s !== '' && !s.includes('*'));
  } catch {
    return [];
  }
}
