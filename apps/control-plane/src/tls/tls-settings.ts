import { isLoopbackAddress } from './listen-address';

/**
 * How the control plane's gRPC API is served, decided from the configuration alone:
 * - `plaintext`: no TLS (a loopback address, or `LANEWAY_INSECURE=true`, which sets `insecure`);
 * - `files`: the operator's certificate chain and key (`LANEWAY_TLS_CERT`, `LANEWAY_TLS_KEY`);
 * - `generated`: a CA and a server certificate the control plane makes and keeps in its data directory.
 */
export type TlsSettings =
  | { readonly mode: 'plaintext'; readonly insecure: boolean }
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly mode: 'generated'; readonly extraNames: readonly string[] };

export interface TlsVariables {
  /** LANEWAY_GRPC_ADDR */
  address: string;
  /** LANEWAY_TLS: undefined is automatic (TLS unless the address is loopback). */
  tls: 'on' | 'off' | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** LANEWAY_INSECURE=true */
  insecure: boolean;
  /** LANEWAY_TLS_SANS: names and addresses the generated certificate also covers. */
  extraNames: readonly string[];
}

/** Throws, naming the variables, when they contradict each other or would expose plaintext. */
export function decideTls(v: TlsVariables): TlsSettings {
  if ((v.certFile === undefined) !== (v.keyFile === undefined)) {
    throw new Error(
      `LANEWAY_TLS_CERT and LANEWAY_TLS_KEY go together: ${v.certFile === undefined ? 'LANEWAY_TLS_CERT' : 'LANEWAY_TLS_KEY'} is missing`,
    );
  }
  if (v.certFile !== undefined && v.keyFile !== undefined) {
    if (v.tls === 'off')
      throw new Error(
        'LANEWAY_TLS=off contradicts LANEWAY_TLS_CERT and LANEWAY_TLS_KEY: unset one or the other',
      );
    return { mode: 'files', certFile: v.certFile, keyFile: v.keyFile };
  }
  if (v.tls === 'on') return { mode: 'generated', extraNames: v.extraNames };
  if (isLoopbackAddress(v.address)) return { mode: 'plaintext', insecure: false };
  if (v.insecure) return { mode: 'plaintext', insecure: true };
  if (v.tls === 'off') {
    throw new Error(
      `LANEWAY_GRPC_ADDR=${v.address} is not a loopback address and LANEWAY_TLS=off: refusing to serve tokens and secrets ` +
        'in plaintext. Unset LANEWAY_TLS (a generated certificate), set LANEWAY_TLS_CERT and LANEWAY_TLS_KEY, ' +
        'listen on 127.0.0.1, or set LANEWAY_INSECURE=true to serve plaintext anyway',
    );
  }
  return { mode: 'generated', extraNames: v.extraNames };
}
