import { status, type Metadata } from '@grpc/grpc-js';
import { ServiceInvocationError } from '@laneway/sdk';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError } from '../errors';
import { toGrpcError, wireMessage } from './grpc-errors';

const log = pino({ level: 'silent' });

describe('wireMessage', () => {
  it('leaves a short, well-formed message as it is', () => {
    expect(wireMessage("cluster 'prod' does not exist 😀")).toBe("cluster 'prod' does not exist 😀");
  });

  it('replaces unpaired surrogates, which encodeURI (and so grpc-js) cannot send', () => {
    const message = wireMessage(`Unexpected token '\ud83d', "\ud83d\ude00\ud83d" and \ude00`);

    expect(message).toBe(`Unexpected token '\ufffd', "😀\ufffd" and \ufffd`);
    expect(() => encodeURI(message)).not.toThrow();
  });

  it('cuts a message past 4 KiB of UTF-8 and says how long it was, never inside a character', () => {
    const ascii = wireMessage(`a.ts: loading failed: ${'x'.repeat(100_000)} is not defined`);
    const wide = wireMessage('é'.repeat(3000));

    expect(ascii).toMatch(/^a\.ts: loading failed: x+\.\.\. \(cut: the message has 100037 characters\)$/);
    expect(Buffer.byteLength(ascii.split('...')[0]!)).toBe(4096);
    expect(wide).toBe(`${'é'.repeat(2048)}... (cut: the message has 3000 characters)`);
    expect(wireMessage(`${'x'.repeat(4095)}😀`)).toBe(
      `${'x'.repeat(4095)}... (cut: the message has 4097 characters)`,
    );
  });
});

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
