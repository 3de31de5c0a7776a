// saveServerState against a real unix socket that answers as HAProxy's runtime API does (one command,
// then the connection closes), and runReloadCommand with the real sh.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReloadCommand, saveServerState } from './haproxy-runtime';

const dir = mkdtempSync(path.join(os.tmpdir(), 'laneway-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATE =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state\n3 laneway_servers 1 s1 127.0.0.1 2\n\n';

/** A socket that answers `show servers state` with `answer`, recording what it was sent. */
async function statsSocket(
  name: string,
  answer: string,
): Promise<{ socket: string; received: string[]; close(): Promise<void> }> {
  const socket = path.join(dir, name);
  const received: string[] = [];
  const server = net.createServer((connection) => {
    let text = '';
    connection.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.endsWith('\n')) {
        received.push(text);
        connection.end(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('saveServerState', () => {
  it('writes the answer to show servers state into the state file', async () => {
    const haproxy = await statsSocket('admin.sock', STATE);
    const stateFile = path.join(dir, 'server-state');
    await saveServerState(haproxy.socket, stateFile);
    await haproxy.close();
    expect(haproxy.received).toEqual(['show servers state\n']);
    expect(readFileSync(stateFile, 'utf8')).toBe(STATE);
  });

  it('rejects, leaving the state file alone, when nothing listens or the answer is not a state dump', async () => {
    const stateFile = path.join(dir, 'other-state');
    await expect(saveServerState(path.join(dir, 'none.sock'), stateFile)).rejects.toThrow(/ENOENT/);
    const user = await statsSocket('user.sock', 'Permission denied\n');
    await expect(saveServerState(user.socket, stateFile)).rejects.toThrow(
      /unexpected answer to show servers state: "Permission denied/,
    );
    await user.close();
    expect(readdirSync(dir).filter((f) => f.includes('other-state'))).toEqual([]);
  });
});

describe('runReloadCommand', () => {
  it('runs the command with sh -c and the file in $LANEWAY_LB_FILE, reporting its exit code and stderr', async () => {
    const ok = await runReloadCommand(
      'test "$LANEWAY_LB_FILE" = /etc/haproxy/haproxy.cfg && echo out',
      '/etc/haproxy/haproxy.cfg',
      { PATH: process.env['PATH'] },
    );
    expect(ok).toEqual({ code: 0, signal: null, stderr: '' });
    const failed = await runReloadCommand('echo "no such unit" >&2; exit 3', '/x.cfg', {
      PATH: process.env['PATH'],
    });
    expect(failed).toEqual({ code: 3, signal: null, stderr: 'no such unit' });
  });
});
