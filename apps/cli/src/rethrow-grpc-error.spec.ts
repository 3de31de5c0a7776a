import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CliError } from './errors';
import { grpcErrorToCliError, rethrowGrpcError, statusName } from './rethrow-grpc-error';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

const context = { controlPlane: 'cp:50051' };

describe('rethrowGrpcError', () => {
  it('turns a ServiceError into CliError "<STATUS_NAME>: <details>"', () => {
    const error = serviceError(status.NOT_FOUND, "cluster 'x' does not exist");
    expect(() => rethrowGrpcError(error, { ...context, connected: true })).toThrow(
      new CliError("NOT_FOUND: cluster 'x' does not exist", { code: 'NOT_FOUND', detail: "cluster 'x' does not exist" }),
    );
    const converted = grpcErrorToCliError(error, context);
    expect(converted).toBeInstanceOf(CliError);
    expect((converted as CliError).cause).toBe(error);
    expect((converted as CliError).exitCode).toBe(1);
    // What --json reports: the status name and the details apart.
    expect(converted).toMatchObject({ code: 'NOT_FOUND', detail: "cluster 'x' does not exist" });
  });

  it('adds the hint when the control plane cannot be reached', () => {
    const hint =
      'UNAVAILABLE: cannot reach the control plane at cp:50051: is it running? (set LANEWAY_CONTROL_PLANE)';
    const refused = serviceError(
      status.UNAVAILABLE,
      'No connection established. Last error: connect ECONNREFUSED',
    );
    expect((grpcErrorToCliError(refused, context) as Error).message).toBe(hint);
    expect((grpcErrorToCliError(refused, { ...context, connected: false }) as Error).message).toBe(hint);
    const timedOut = serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.001s');
    expect((grpcErrorToCliError(timedOut, { ...context, connected: false }) as Error).message).toBe(
      'DEADLINE_EXCEEDED: cannot reach the control plane at cp:50051: is it running? (set LANEWAY_CONTROL_PLANE)',
    );
  });

  it('says when a TLS handshake failed, naming the CA file', () => {
    const untrusted = serviceError(
      status.UNAVAILABLE,
      'No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ',
    );
    expect((grpcErrorToCliError(untrusted, { ...context, connected: false, caFile: '/ca.pem' }) as Error).message).toBe(
      'UNAVAILABLE: TLS connection to the control plane at cp:50051 failed (unable to verify the first certificate): ' +
        'does /ca.pem hold the CA that signed its certificate for this address, and does it serve TLS? (set LANEWAY_TLS_CA)',
    );
    // With TLS, a control plane that is down is still "cannot reach".
    const refused = serviceError(status.UNAVAILABLE, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.');
    expect((grpcErrorToCliError(refused, { ...context, connected: false, caFile: '/ca.pem' }) as Error).message).toBe(
      'UNAVAILABLE: cannot reach the control plane at cp:50051: is it running? (set LANEWAY_CONTROL_PLANE)',
    );
  });

  it('hints at LANEWAY_TLS_CA when a plaintext call got no answer from a listening control plane', () => {
    const noAnswer = serviceError(status.UNAVAILABLE, 'No connection established. Last error: Failed to connect (2026-12-02T00:06:52.067Z). Resolution note: ');
    expect((grpcErrorToCliError(noAnswer, { ...context, connected: false }) as Error).message).toBe(
      'UNAVAILABLE: cannot reach the control plane at cp:50051: is it running? If it serves TLS, set LANEWAY_TLS_CA to its CA file (set LANEWAY_CONTROL_PLANE)',
    );
  });

  it('keeps an UNAVAILABLE the control plane itself sent', () => {
    const error = serviceError(status.UNAVAILABLE, 'redis is down');
    expect((grpcErrorToCliError(error, { ...context, connected: true }) as Error).message).toBe(
      'UNAVAILABLE: redis is down',
    );
    expect((grpcErrorToCliError(error, context) as Error).message).toBe('UNAVAILABLE: redis is down');
  });

  it('leaves other errors alone', () => {
    const plain = new Error('disk full');
    expect(grpcErrorToCliError(plain, context)).toBe(plain);
    expect(statusName(99)).toBe('UNKNOWN_STATUS_99');
  });
});
