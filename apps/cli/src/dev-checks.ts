import net from 'node:net';
import { CliError } from './errors';

/** A port `laneway dev` will listen on, and the flag that sets it. */
export interface DevPort {
  readonly port: number;
  readonly flag: string;
  /** What listens there: `channels`. */
  readonly what: string;
}

/**
 * Fails fast, before anything is started, when two flags name one port or a port is taken: the
 * message names the port, what it is for and the flag that changes it. Port 0 (any free port) is
 * never checked.
 */
export async function checkPortsFree(host: string, ports: readonly DevPort[]): Promise<void> {
  const fixed = ports.filter((p) => p.port !== 0);
  for (const [i, a] of fixed.entries()) {
    const b = fixed.slice(i + 1).find((other) => other.port === a.port);
    if (b)
      throw new CliError(`${a.flag} and ${b.flag} are both ${a.port}: give each its own port`, {
        exitCode: 2,
        code: 'USAGE',
      });
  }
  for (const p of fixed) {
    const problem = await bindProblem(host, p.port);
    if (problem === undefined) continue;
    const suggestion = p.port < 65535 ? `, e.g. ${p.flag} ${p.port + 1}` : '';
    throw new CliError(
      problem === 'EADDRINUSE'
        ? `port ${p.port} (${p.what}) is already in use on ${host}: stop what listens there, or give another port with ${p.flag}${suggestion}`
        : `cannot listen on ${host}:${p.port} (${p.what}): ${problem}; give another port with ${p.flag}${suggestion}`,
    );
  }
}

/** Undefined when `host:port` can be bound (and is released at once), else the error's code. */
function bindProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * Fails fast when nothing answers on REDIS_URL's host and port (the server would otherwise start and
 * retry forever). A TCP connect only: a rediss:// URL or a password is the server's to use.
 */
export async function checkRedisReachable(redisUrl: string, timeoutMs = 3000): Promise<void> {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new CliError(
      `REDIS_URL=${redisUrl}: not a URL; give redis://HOST:PORT, e.g. redis://127.0.0.1:6379`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(url.port || 6379);
  const problem = await new Promise<string | undefined>((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
  if (problem !== undefined) {
    throw new CliError(
      `cannot reach Redis at ${redisUrl} (${problem}): laneway dev needs Redis 6.2+ for the lanes; start one (e.g. redis-server), or point REDIS_URL at one`,
    );
  }
}
