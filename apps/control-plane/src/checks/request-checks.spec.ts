import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError } from '../errors';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { RequestChecks } from './request-checks';

const limits: Limits = {
  ...DEFAULT_LIMITS,
  maxNameLength: 10,
  maxInvokeInputBytes: 40,
  maxInvokeInputDepth: 3,
  maxTimeoutMs: 1000,
  maxListLimit: 50,
};
const check = new RequestChecks(limits);

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the check to throw');
}

describe('RequestChecks', () => {
  it('passes values within the limits through', () => {
    expect(check.name('cluster', 'default')).toBe('default');
    expect(check.optionalName('service', '')).toBe('');
    expect(check.timeoutMs('timeout_ms', 1000)).toBe(1000);
    expect(check.listLimit('limit', 0)).toBe(0);
    expect(check.inputJson('input_json', '[[["]]]]]]]]"]]]')).toBe('[[["]]]]]]]]"]]]');
  });

  it('refuses an empty required name, with the hint', () => {
    const err = thrown(() => check.name('service', '', 'give the name of the service to invoke'));

    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe('service is empty: give the name of the service to invoke');
  });

  it('refuses a name over LANEWAY_MAX_NAME_LENGTH', () => {
    const err = thrown(() => check.name('server', 'replica-one-b'));

    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toMatchObject({ field: 'server', limit: 'LANEWAY_MAX_NAME_LENGTH', max: 10, actual: 13 });
    expect(err.message).toBe(
      "server 'replica-one-b' is 13 characters; the limit is LANEWAY_MAX_NAME_LENGTH=10: use a shorter one, or raise LANEWAY_MAX_NAME_LENGTH on the control plane",
    );
  });

  it('cuts a very long value to 64 characters and its length, never inside a surrogate pair', () => {
    const err = thrown(() => check.name('cluster', `${'c'.repeat(63)}😀${'x'.repeat(100_000)}`));

    expect(err.message).toMatch(
      /^cluster '(c{63})\.\.\.' \(100065 characters\) is too long; the limit is LANEWAY_MAX_NAME_LENGTH=10/,
    );
  });

  it.each([
    ['a\u0000b', 'U+0000', 1, "'a\\u0000b'"],
    ['\u001b[31m', 'U+001B', 0, "'\\u001b[31m'"],
    ['x\u007f', 'U+007F', 1, "'x\\u007f'"],
    ['x\u0085', 'U+0085', 1, "'x\\u0085'"],
  ])('refuses the control character in %j with INVALID_ARGUMENT, escaped', (value, code, offset, shown) => {
    const err = thrown(() => check.name('cluster', value));

    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe(
      `cluster ${shown} contains the control character ${code} at offset ${offset}: use printable characters only`,
    );
  });

  it('refuses timeout_ms over LANEWAY_MAX_TIMEOUT_MS and limit over LANEWAY_MAX_LIST_LIMIT', () => {
    expect(thrown(() => check.timeoutMs('timeout_ms', 4294967295)).message).toBe(
      'timeout_ms is 4294967295 ms; the limit is LANEWAY_MAX_TIMEOUT_MS=1000: wait less (0 means the default), or raise LANEWAY_MAX_TIMEOUT_MS on the control plane',
    );
    expect(thrown(() => check.listLimit('limit', 51))).toMatchObject({
      field: 'limit',
      limit: 'LANEWAY_MAX_LIST_LIMIT',
      max: 50,
      actual: 51,
      message:
        'limit asks for 51 items; the limit is LANEWAY_MAX_LIST_LIMIT=50: ask for fewer, or raise LANEWAY_MAX_LIST_LIMIT on the control plane',
    });
  });

  it('refuses input_json over LANEWAY_MAX_INVOKE_INPUT_BYTES, counting UTF-8 bytes', () => {
    const err = thrown(() => check.inputJson('input_json', JSON.stringify('é'.repeat(20))));

    expect(err).toMatchObject({
      field: 'input_json',
      limit: 'LANEWAY_MAX_INVOKE_INPUT_BYTES',
      max: 40,
      actual: 42,
    });
    expect(err.message).toBe(
      'input_json is 42 bytes; the limit is LANEWAY_MAX_INVOKE_INPUT_BYTES=40: send a smaller input (pass large data by reference), or raise LANEWAY_MAX_INVOKE_INPUT_BYTES on the control plane',
    );
  });

  it('refuses input_json nested deeper than LANEWAY_MAX_INVOKE_INPUT_DEPTH; brackets in strings do not count', () => {
    expect(check.inputJson('input_json', '{"a":[{"b":"[[[[\\"[[[["}]}')).toBeTruthy();

    const err = thrown(() => check.inputJson('input_json', '{"a":[{"b":[1]}]}'));

    expect(err).toMatchObject({
      field: 'input_json',
      limit: 'LANEWAY_MAX_INVOKE_INPUT_DEPTH',
      max: 3,
      actual: 4,
    });
    expect(err.message).toBe(
      'input_json nests arrays and objects more than 3 levels deep; the limit is LANEWAY_MAX_INVOKE_INPUT_DEPTH=3: flatten the input, or raise LANEWAY_MAX_INVOKE_INPUT_DEPTH on the control plane',
    );
  });
});
