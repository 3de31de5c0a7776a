// One peer server of the HTTP benchmark, in a process of its own (forked by ./main.ts with an IPC
// channel): `GET /customers/:id` answering `{ id, name: 'Ada', tier: 'gold' }` as JSON.
//   argv: bare | fastify | moleculer, then the port. Sends { ready: true } once it listens; exits when
//   its parent goes away (the IPC channel closes) or on SIGTERM.
import Fastify from 'fastify';
import { ServiceBroker } from 'moleculer';
import ApiGateway from 'moleculer-web';
import http from 'node:http';

const kind = process.argv[2];
const port = Number(process.argv[3]);
const HOST = '127.0.0.1';

const customer = (id: string): { id: string; name: string; tier: string } => ({ id, name: 'Ada', tier: 'gold' });

async function bare(): Promise<() => Promise<void>> {
  const path = /^\/customers\/([^/?]+)(?:\?|$)/;
  const server = http.createServer((req, res) => {
    const match = req.method === 'GET' ? path.exec(req.url ?? '') : null;
    if (!match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const body = JSON.stringify(customer(decodeURIComponent(match[1]!)));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

async function fastify(): Promise<() => Promise<void>> {
  const app = Fastify({ logger: false });
  app.get<{ Params: { id: string } }>('/customers/:id', async (request) => customer(request.params.id));
  await app.listen({ host: HOST, port });
  return () => app.close();
}

async function moleculer(): Promise<() => Promise<void>> {
  const broker = new ServiceBroker({ nodeID: 'bench-http', logger: false, transporter: null, metrics: false, tracing: false });
  broker.createService({
    name: 'customers',
    actions: { get: (ctx: { params: { id: string } }) => customer(ctx.params.id) },
  });
  broker.createService({
    name: 'api',
    mixins: [ApiGateway],
    settings: {
      ip: HOST,
      port,
      logRequest: null,
      logResponse: null,
      routes: [{ path: '/', mappingPolicy: 'restrict', aliases: { 'GET customers/:id': 'customers.get' } }],
    },
  });
  await broker.start();
  return () => broker.stop();
}

async function main(): Promise<void> {
  const starters: Record<string, () => Promise<() => Promise<void>>> = { bare, fastify, moleculer };
  const starter = kind ? starters[kind] : undefined;
  if (!starter || !Number.isInteger(port)) throw new Error(`usage: peer.ts bare|fastify|moleculer PORT (got ${kind} ${process.argv[3]})`);
  const stop = await starter();
  const exit = (): void => {
    const timer = setTimeout(() => process.exit(0), 2000);
    void stop().finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.once('SIGTERM', exit);
  process.once('disconnect', exit);
  process.send?.({ ready: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
