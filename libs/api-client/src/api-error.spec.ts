import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ApiError, NotFoundError, PermissionDeniedError, UnavailableError, statusName, toApiError } from './api-error';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), { code, details, metadata: new Metadata() });
}

describe('toApiError', () => {
  it('maps a status to its typed error, keeping the numeric code, the name and the details', () => {
    const error = toApiError(serviceError(status.NOT_FOUND, "cluster 'x' does not exist"), { controlPlane: 'cp:1', connected: true });
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: status.NOT_FOUND, status: 'NOT_FOUND', details: "cluster 'x' does not exist", message: "NOT_FOUND: cluster 'x' does not exist" });
    expect(toApiError(serviceError(status.PERMISSION_DENIED, 'viewer'), { controlPlane: 'cp:1', connected: true })).toBeInstanceOf(PermissionDeniedError);
    const other = toApiError(serviceError(status.DATA_LOSS, ''), { controlPlane: 'cp:1', connected: true }) as ApiError;
    expect(other.constructor).toBe(ApiError);
    expect(other.message).toBe('DATA_LOSS: no details');
  });

  it('says the control plane could not be reached, with the caller hint, only when the call never got a connection', () => {
    const refused = serviceError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:9');
    const unreached = toApiError(refused, { controlPlane: 'cp:9', connected: false, hints: { address: 'set X' } }) as ApiError;
    expect(unreached).toBeInstanceOf(UnavailableError);
    expect(unreached.unreached).toBe('unreachable');
    expect(unreached.message).toBe('UNAVAILABLE: cannot reach the control plane at cp:9: is it running? (set X)');
    // The same status from a control plane that answered is its own words.
    const answered = toApiError(serviceError(status.UNAVAILABLE, 'the store is unavailable'), { controlPlane: 'cp:9', connected: true }) as ApiError;
    expect(answered.unreached).toBeUndefined();
    expect(answered.message).toBe('UNAVAILABLE: the store is unavailable');
  });

  it('returns anything that is not a grpc-js error unchanged', () => {
    const plain = new Error('boom');
    expect(toApiError(plain, { controlPlane: 'cp:1' })).toBe(plain);
  });
});
