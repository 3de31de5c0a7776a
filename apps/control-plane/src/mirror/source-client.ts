import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { MirrorServiceClient } from '@laneway/proto';
import { isLoopbackAddress } from '../tls/listen-address';

/** Where a source is and how to reach it: the mirror token, and the CA of its certificate (empty: see clientFor). */
export interface SourceTarget {
  address: string;
  token: string;
  caPem: string;
}

/**
 * A gRPC client for another site's MirrorService. With a CA, TLS verified against it; without one,
 * plaintext to a loopback address, TLS against the system's roots anywhere else. Pings every 5 s so a
 * dead source shows as disconnected within about 10 s even when no TCP reset arrives.
 */
export function sourceClient(target: SourceTarget): { client: MirrorServiceClient; metadata: () => Metadata } {
  const creds = target.caPem
    ? credentials.createSsl(Buffer.from(target.caPem))
    : isLoopbackAddress(target.address)
      ? credentials.createInsecure()
      : credentials.createSsl();
  const client = new MirrorServiceClient(target.address, creds, {
    'grpc.keepalive_time_ms': 5000,
    'grpc.keepalive_timeout_ms': 5000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 512 * 1024 * 1024,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2000,
  });
  return {
    client,
    metadata: () => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${target.token}`);
      return md;
    },
  };
}

/** The message of a call to the source, naming it: what status and last_error show. */
export function describeSourceError(address: string, err: unknown): { code: status; message: string } {
  const e = err as Partial<ServiceError>;
  const code = typeof e.code === 'number' ? e.code : status.UNKNOWN;
  const details = e.details || e.message || String(err);
  if (code === status.UNAVAILABLE) return { code, message: `the source at ${address} is unreachable: ${details}` };
  if (code === status.UNAUTHENTICATED) return { code, message: `the source at ${address} refused the mirror token: ${details}` };
  return { code, message: `the source at ${address} answered ${status[code] ?? code}: ${details}` };
}

/**
 * Checks, before anything is stored, that the source answers a pull of `sourceCluster` with this
 * token: the first push arrives, or the source's refusal comes back as a clear error.
 */
export async function probeSource(target: SourceTarget, sourceCluster: string, followerId: string, followerCluster: string, epoch: number, timeoutMs = 5000): Promise<{ revision: number; epoch: number }> {
  const { client, metadata } = sourceClient(target);
  try {
    return await new Promise((resolve, reject) => {
      const call = client.pull(metadata(), { deadline: Date.now() + timeoutMs });
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        call.cancel();
        fn();
      };
      call.on('data', (response: { revision: number; epoch: number }) => finish(() => resolve({ revision: response.revision, epoch: response.epoch })));
      call.on('error', (err) =>
        finish(() => {
          const { code, message } = describeSourceError(target.address, err);
          reject(Object.assign(new Error(message), { code }));
        }),
      );
      call.on('end', () => finish(() => reject(Object.assign(new Error(`the source at ${target.address} ended the stream without an answer`), { code: status.UNAVAILABLE }))));
      call.write({ hello: { cluster: sourceCluster, followerId, followerCluster, appliedRevision: 0, epoch } });
    });
  } finally {
    client.close();
  }
}
