import http from 'node:http';
import type { Logger } from 'pino';
import type { ControlPlaneMetrics } from '../metrics/control-plane-metrics';
import type { WebAdmin } from '../web-admin/web-admin';

export interface HttpListenerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  metrics: ControlPlaneMetrics;
  /** What `/healthz` reports: true while the store answers. */
  healthy: () => Promise<boolean>;
  logger: Logger;
  /** Everything but /metrics and /healthz goes to the web admin, when there is one. */
  webAdmin?: WebAdmin | undefined;
}

export interface RunningHttpListener {
  /** The bound port (the one the OS picked when given 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** The paths this listener serves: anything else is `unmatched` in http_route (never the raw URL). */
const ROUTES = new Set(['/metrics', '/healthz']);

/**
 * The control plane's own HTTP listener (LANEWAY_HTTP_ADDR): `GET /metrics` (Prometheus text) and
 * `GET /healthz` (200 while the store answers, else 503). No token: neither says anything of a
 * cluster beyond names and revisions, and the default address is loopback. Every other path goes to
 * the web admin (web-admin/), which signs users in and calls the gRPC API with their tokens.
 */
export async function startHttpListener(options: HttpListenerOptions): Promise<RunningHttpListener> {
  const { metrics, logger } = options;
  const log = logger.child({ component: 'http' });
  const server = http.createServer((req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = ROUTES.has(path) ? path : options.webAdmin ? 'web-admin' : 'unmatched';
    res.on('finish', () => {
      const method = req.method === 'GET' || req.method === 'HEAD' ? req.method : '_OTHER';
      metrics.httpDuration.observe(
        { http_route: route, http_request_method: method, http_response_status_code: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (route === 'web-admin') {
      options.webAdmin!.handle(req, res).catch((err: unknown) => {
        log.warn({ err, path }, 'web admin request failed');
        if (!res.headersSent) send(500, 'text/plain; charset=utf-8', 'internal error');
        else res.destroy();
      });
      return;
    }
    if (route === 'unmatched') return send(404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: 'this listener serves GET /metrics and GET /healthz' } }));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, 'application/json', JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `${path} accepts GET and HEAD` } }));
    }
    const answer = route === '/metrics'
      ? metrics.text().then((text) => send(200, metrics.contentType, text))
      : options.healthy().then((ok) => send(ok ? 200 : 503, 'application/json', JSON.stringify({ status: ok ? 'serving' : 'not-serving' })));
    answer.catch((err: unknown) => {
      log.warn({ err, path }, 'HTTP request failed');
      if (!res.headersSent) send(500, 'application/json', JSON.stringify({ error: { code: 'INTERNAL', message: (err as Error).message } }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
