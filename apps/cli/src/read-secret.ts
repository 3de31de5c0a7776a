/**
 * How the CLI reads a secret (an API key, a password, an HS256 secret) without it showing: at a
 * prompt with echo off when stdin is a terminal, else as the first line of stdin. Never from argv,
 * where `ps` and the shell history would see it (the commands' `--secret-from-argument` is the
 * explicit exception).
 */
import { StringDecoder } from 'node:string_decoder';
import { CliError } from './errors';

/** process.stdin, or a test's stream: a readable that may be a terminal. */
export interface SecretInput {
  readonly isTTY?: boolean;
  readonly isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  /** A socket's (a pipe, a terminal): lets the process exit while the writer keeps it open. */
  unref?(): unknown;
}

/** Where the prompt goes (stderr, so that stdout stays the command's output). */
export interface PromptOutput {
  write(chunk: string): unknown;
}

/** Exit code of a prompt ended with Ctrl-C, as a shell reports SIGINT. */
export const CANCELLED_EXIT_CODE = 130;

/**
 * The secret, without its line ending: typed at `prompt` (printed on `output`) with echo off when
 * `input` is a terminal, else the first line of `input` (up to the first newline, or all of it when
 * there is none; a trailing `\r\n` or `\n` is dropped). '' when nothing was given. Stops reading
 * `input` once it has the line.
 */
export function readSecret(input: SecretInput, output: PromptOutput, prompt: string): Promise<string> {
  if (input.isTTY === true && typeof input.setRawMode === 'function') {
    return readFromTerminal(input, output, prompt);
  }
  return readFirstLine(input);
}

/**
 * Done with `input`: paused, and unreferenced, since a paused pipe would still keep the process
 * alive until its writer closes it (`(echo KEY; sleep 60) | laneway …`).
 */
function stopReading(input: SecretInput): void {
  input.pause();
  input.unref?.();
}

/** The first line of a stream that is not a terminal. */
function readFirstLine(input: SecretInput): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const finish = (error?: Error): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('close', onEnd);
      input.removeListener('error', onError);
      stopReading(input);
      if (error) {
        reject(new CliError(`cannot read the secret from stdin: ${error.message}`, { cause: error }));
        return;
      }
      // Decoded once, so that a character split across chunks stays whole.
      const text = Buffer.concat(chunks).toString('utf8');
      const newline = text.indexOf('\n');
      const line = newline === -1 ? text : text.slice(0, newline + 1);
      resolve(line.replace(/\r?\n$/, ''));
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      chunks.push(bytes);
      if (bytes.includes(0x0a)) finish();
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void => finish(error);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('close', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

// Escape sequences a terminal sends for keys (arrows, Home, F1…): CSI, SS3, or ESC and one character.
// eslint-disable-next-line no-control-regex -- finding them is the point
const ESCAPE_SEQUENCE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|O.|.?)/gu;

/**
 * Typed with the terminal in raw mode: nothing is echoed, Enter (or Ctrl-D) ends it, Backspace and
 * Ctrl-U edit it, Ctrl-C cancels (exit 130). The terminal's mode is restored either way.
 */
function readFromTerminal(input: SecretInput, output: PromptOutput, prompt: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    const wasRaw = input.isRaw === true;
    let typed: string[] = [];
    const finish = (error?: CliError): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('close', onEnd);
      input.removeListener('error', onError);
      input.setRawMode?.(wasRaw);
      stopReading(input);
      // The Enter the user typed was not echoed either: end the prompt's line.
      output.write('\n');
      if (error) reject(error);
      else resolve(typed.join(''));
    };
    const onData = (chunk: Buffer | string): void => {
      const text = (typeof chunk === 'string' ? chunk : decoder.write(chunk)).replace(ESCAPE_SEQUENCE, '');
      for (const char of text) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') {
          return finish(new CliError('cancelled', { exitCode: CANCELLED_EXIT_CODE }));
        }
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (char === '\u0015') typed = [];
        else if (char >= ' ') typed.push(char);
      }
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void =>
      finish(new CliError(`cannot read the secret from the terminal: ${error.message}`, { cause: error }));
    // Echo off first: what is typed once the prompt shows is never echoed.
    input.setRawMode?.(true);
    output.write(prompt);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('close', onEnd);
    input.on('error', onError);
    input.resume();
  });
}
