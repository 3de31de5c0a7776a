// The HTTP API both REST sides call, in a process of its own (forked by ./main.ts), so that neither
// side shares an event loop with it: `GET /items/N` answers `{"path": "/items/N"}` as JSON. Sends
// { port } over IPC once it listens; exits when its parent goes away.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({ path: request.url }));
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.once('disconnect', () => process.exit(0));
