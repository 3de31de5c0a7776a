/**
 * The files `laneway mirror follow` and `promote` read: the mirror token (`--token-file`, as `laneway
 * mirror token CLUSTER > FILE` wrote it) and a CA certificate (`--ca`). Errors name the flag and the file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError } from './collect-files';
import { CliError } from './errors';

/** The token in `--token-file F`, trimmed (the newline `mirror token > F` wrote); refused when unreadable or blank. */
export async function readMirrorTokenFile(file: string, cwd: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --token-file '${file}': ${describeFsError(error)}`, { cause: error });
  }
  const token = text.trim();
  if (token === '') {
    throw new CliError(
      `--token-file '${file}' is empty: it holds no token (write one with 'laneway mirror token CLUSTER > ${file}' against the source)`,
    );
  }
  return token;
}

/** The PEM in `--ca F`; refused when unreadable or blank. */
export async function readCaFile(file: string, cwd: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --ca '${file}': ${describeFsError(error)}`, { cause: error });
  }
  if (pem.trim() === '') throw new CliError(`--ca '${file}' is empty: give the PEM of the CA certificate`);
  return pem;
}
