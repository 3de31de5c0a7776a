import http from 'node:http';

export interface HealthState {
  /** True while the server takes jobs. */
  serving(): boolean;
  details(): Record<string, unknown>;
}

/**
 * `GET /healthz`: 200 while serving, 503 otherwise, for load balancers.
 * `GET /debug/memory`: process memory; `?gc=1` collects garbage first when node runs with --expose-gc.
 */
export function startHealthServer(state: HealthState, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/debug/memory')) {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (req.url.includes('gc=1') && gc) {
        gc();
        gc();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...process.memoryUsage(), gc: Boolean(gc) }));
      return;
    }
    if (req.method !== 'GET' || req.url !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const ok = state.serving();
    res
      .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: ok ? 'serving' : 'not-serving', ...state.details() }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
