/**
 * The password of `laneway user create` and `set-password`: from `--password-file FILE` (its first
 * line) or typed at a prompt with echo off (else the first line of stdin). Never a command-line value.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from './collect-files';
import type { CommandContext } from './commands/command';
import { CliError } from './errors';

/** The control plane's minimum; checked here too so a typo at the prompt is caught before the call. */
export const MIN_PASSWORD_CHARACTERS = 8;

/** The first line of `text`, without its line ending. */
export function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return (newline === -1 ? text : text.slice(0, newline)).replace(/\r$/, '');
}

export async function readPassword(file: string | undefined, context: Pick<CommandContext, 'cwd' | 'readSecret'>, prompt: string): Promise<string> {
  let password: string;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(path.resolve(context.cwd, file), 'utf8');
    } catch (error) {
      throw new CliError(`cannot read --password-file '${file}': ${describeFsError(error)}`, { cause: error });
    }
    password = firstLine(text);
  } else {
    password = await context.readSecret(prompt);
  }
  if (password === '') throw new CliError(`no password given${file !== undefined ? ` (--password-file '${file}' is empty)` : ''}`, { exitCode: 2 });
  if (password.length < MIN_PASSWORD_CHARACTERS) throw new CliError(`the password is shorter than ${MIN_PASSWORD_CHARACTERS} characters`, { exitCode: 2 });
  return password;
}
