/**
 * What `laneway lb haproxy --watch` does to a running HAProxy: save its server states over the
 * runtime API (so drain, maintenance and down states survive the reload) and run the reload command.
 */
import { spawn } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Long enough for `show servers state` of thousands of servers; short enough not to hold a reload up. */
const STATS_SOCKET_TIMEOUT_MS = 2_000;

/** The socket's whole answer to `command` (HAProxy closes the connection after one command). */
export function statsCommand(
  socketPath: string,
  command: string,
  timeoutMs = STATS_SOCKET_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection({ path: socketPath });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * `show servers state` over the stats socket into `stateFile` (through a temporary file beside it,
 * so HAProxy never loads half a state file). Rejects when the socket cannot be reached or answers
 * something else than a state dump.
 */
export async function saveServerState(socketPath: string, stateFile: string): Promise<void> {
  const state = await statsCommand(socketPath, 'show servers state');
  // The dump starts with its format version ("1") and a "# be_id ..." header line.
  if (!/^\d+\n#/.test(state))
    throw new Error(`unexpected answer to show servers state: ${JSON.stringify(state.slice(0, 200))}`);
  const temporary = path.join(path.dirname(stateFile), `.${path.basename(stateFile)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, state, { mode: 0o644 });
    renameSync(temporary, stateFile);
  } finally {
    rmSync(temporary, { force: true });
  }
}

export interface ReloadResult {
  /** The exit code; null when a signal ended it (`signal`) or it could not start (`error`). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its stderr, trimmed, at most the last 2,000 characters. */
  readonly stderr: string;
  readonly error?: string;
}

/** Runs `command` with `sh -c`, `$LANEWAY_LB_FILE` set to `file`; its stderr is kept for the report, its stdout dropped. */
export function runReloadCommand(
  command: string,
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<ReloadResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      env: { ...env, LANEWAY_LB_FILE: file },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2_000);
    });
    child.on('error', (err) =>
      resolve({ code: null, signal: null, stderr: stderr.trim(), error: err.message }),
    );
    child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
  });
}
