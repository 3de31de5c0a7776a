import http from 'node:http';
import type { Logger } from 'pino';

export interface DebugServerOptions {
  host: string;
  port: number;
  logger: Logger;
}

export interface RunningDebugServer {
  /** The port listened on (the one picked by the OS when given 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The operator's debugging endpoints, on a listener of their own (LANEWAY_DEBUG_ADDR), never on the
 * public channel listener: `GET /debug/memory` is the process's `memoryUsage()` (with `?gc=1`, after
 * two full collections when node runs with `--expose-gc`).
 */
export async function startDebugServer(options: DebugServerOptions): Promise<RunningDebugServer> {
  const log = options.logger.child({ component: 'debug-http' });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://debug');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
    };
    if (url.pathname !== '/debug/memory') {
      return send(404, { error: { code: 'NOT_FOUND', message: `no debug endpoint has path ${JSON.stringify(url.pathname)}; this listener serves GET /debug/memory`, field: 'path' } });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, { error: { code: 'METHOD_NOT_ALLOWED', message: `/debug/memory accepts GET, not ${req.method}`, field: 'method' } }, { allow: 'GET, HEAD' });
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (url.searchParams.get('gc') === '1' && gc) {
      gc();
      gc();
    }
    send(200, { ...process.memoryUsage(), gc: Boolean(gc) });
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(new Error(`cannot listen on LANEWAY_DEBUG_ADDR ${options.host}:${options.port}: ${err.message}`, { cause: err }));
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, 'debug listener started');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
