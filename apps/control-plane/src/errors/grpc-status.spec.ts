import { describe, expect, it } from 'vitest';
import { wireMessage } from './grpc-status';

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
