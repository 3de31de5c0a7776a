import { status, type Metadata } from '@grpc/grpc-js';
import { ServiceInvocationError } from '@laneway/sdk';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError } from '../errors';
import { toGrpcError } from './grpc-errors';

const log = pino({ level: 'silent' });

describe('toGrpcError', () => {
  it('answers a LimitExceededError with RESOURCE_EXHAUSTED and the LIMIT_EXCEEDED code', () => {
    const err = toGrpcError(
      new LimitExceededError('files', 'LANEWAY_MAX_DEPLOY_FILES', 3, 4, 'too many files'),
      log,
      'Deploy',
    );

    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('too many files');
    expect((err.metadata as Metadata).get('laneway-error-code')).toEqual(['LIMIT_EXCEEDED']);
  });

  it('bounds the messages of our errors and of failed invocations', () => {
    const ours = toGrpcError(
      new InvalidArgumentError('files', `b.js: loading failed: ${'y'.repeat(70_000)}`),
      log,
      'Deploy',
    );
    const thrown = toGrpcError(
      new ServiceInvocationError('SERVICE_FAILED', `\ud800${'z'.repeat(70_000)}`, 'svc'),
      log,
      'Invoke',
    );

    expect(ours.code).toBe(status.INVALID_ARGUMENT);
    expect(ours.details!.length).toBeLessThan(4200);
    expect(thrown.code).toBe(status.UNKNOWN);
    expect(thrown.details).toMatch(/^\ufffdz+\.\.\. \(cut: the message has 70001 characters\)$/);
  });

  it('answers anything else with INTERNAL and no detail', () => {
    const err = toGrpcError(
      new TypeError('Cannot read properties of undefined (/work/main/x.ts:1:2)'),
      log,
      'GetJob',
    );

    expect(err).toEqual({
      code: status.INTERNAL,
      details: 'internal error in GetJob; see the control-plane log',
    });
  });
});
