import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The CA the server trusts for the control plane's certificate (LANEWAY_TLS_CA). */
export interface ControlPlaneTls {
  ca: Buffer;
  caFile: string;
}

/** Reads and checks LANEWAY_TLS_CA; throws naming the variable, the file and what is wrong with it. */
export function readControlPlaneCa(caFile: string): ControlPlaneTls {
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new Error(
      `LANEWAY_TLS_CA=${caFile}: cannot read the CA file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { cause: err },
    );
  }
  try {
    // Only the first certificate of a bundle is parsed here; TLS itself reads all of them.
    new X509Certificate(ca);
  } catch (err) {
    throw new Error(`LANEWAY_TLS_CA=${caFile}: not a PEM certificate (${(err as Error).message})`, {
      cause: err,
    });
  }
  return { ca, caFile };
}

// What grpc-js reports when the TLS handshake fails: an untrusted or mismatching certificate, or a
// control plane that does not speak TLS (no TLS record comes back).
const TLS_FAILURE =
  /certificate|self[- ]signed|unable to verify|altnames|ERR_SSL|SSL routines|wrong version number|handshake|socket disconnected before secure/i;

/**
 * True when a connection failure's details look like a TLS mismatch rather than a control plane that
 * is down: with TLS, a failed handshake; without, TCP connected but the HTTP/2 preface got no answer
 * (what a TLS control plane does to a plaintext client), with no socket error code.
 */
export function looksLikeTlsMismatch(details: string | undefined, usingTls: boolean): boolean {
  if (details === undefined) return false;
  if (usingTls) return TLS_FAILURE.test(details);
  return /Failed to connect/.test(details) && !/\bE[A-Z]{4,}\b/.test(details);
}

let warningFiltered = false;

/**
 * grpc-js sets the TLS servername to the target's host, so an IP address as LANEWAY_CONTROL_PLANE makes
 * Node print DEP0123 (an IP as SNI is not allowed by RFC 6066) on stderr. The control plane ignores that
 * SNI and the certificate is still checked against the address; only that warning is dropped.
 */
export function ignoreIpServernameWarning(): void {
  if (warningFiltered) return;
  warningFiltered = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const warningCode =
      typeof typeOrOptions === 'object' && typeOrOptions !== null
        ? (typeOrOptions as { code?: unknown }).code
        : code;
    if (warningCode === 'DEP0123') return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}
