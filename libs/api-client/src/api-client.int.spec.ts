/**
 * ApiClient with a list of control planes, against real grpc-js servers on 127.0.0.1 (and ports
 * nothing listens on): a call that cannot connect moves on to the next address; a call a control
 * plane received is never made again elsewhere, whatever it answered.
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { ClusterServiceService } from '@laneway/proto';
import type { Cluster, CreateClusterRequest, ListClustersRequest, ListClustersResponse } from '@laneway/proto';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client';
import { UnavailableError, type ApiError } from './api-error';

/** What each in-test control plane received, by its address. */
const calls: { address: string; method: string }[] = [];
const servers: Server[] = [];
const clients: ApiClient[] = [];

/** A ClusterService that names itself in ListClusters and answers CreateCluster with UNAVAILABLE (as for Redis down). */
async function controlPlane(): Promise<string> {
  const server = new Server();
  let address = '';
  server.addService(ClusterServiceService, {
    listClusters: (_call: ServerUnaryCall<ListClustersRequest, ListClustersResponse>, callback: sendUnaryData<ListClustersResponse>) => {
      calls.push({ address, method: 'listClusters' });
      callback(null, { clusters: [{ name: address, revision: 1, createdAt: '', serviceCount: 0 }] });
    },
    createCluster: (_call: ServerUnaryCall<CreateClusterRequest, Cluster>, callback: sendUnaryData<Cluster>) => {
      calls.push({ address, method: 'createCluster' });
      callback({ code: status.UNAVAILABLE, details: 'the store is unavailable' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  servers.push(server);
  address = `127.0.0.1:${port}`;
  return address;
}

/** An address nothing listens on: connection refused. */
async function deadAddress(): Promise<string> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as { port: number };
      srv.close(() => resolve(p));
    });
  });
  return `127.0.0.1:${port}`;
}

function api(controlPlanes: string[]): ApiClient {
  const client = new ApiClient({ controlPlanes, deadlineMs: 5000, hints: { address: 'set LANEWAY_CONTROL_PLANE' } });
  clients.push(client);
  return client;
}

describe('ApiClient with a list of control planes', () => {
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) server.forceShutdown();
    calls.length = 0;
  });

  it('makes a call that cannot connect again on the next address, and keeps the one that answered', async () => {
    const [dead, first, second] = [await deadAddress(), await controlPlane(), await controlPlane()];
    const client = api([dead, first, second]);
    expect((await client.listClusters()).clusters[0]?.name).toBe(first);
    expect(client.controlPlane).toBe(first);
    expect((await client.listClusters()).clusters[0]?.name).toBe(first);
    expect(calls).toEqual([
      { address: first, method: 'listClusters' },
      { address: first, method: 'listClusters' },
    ]);
  });

  it('never makes a call again elsewhere once a control plane received it, even when it answered UNAVAILABLE', async () => {
    const [first, second] = [await controlPlane(), await controlPlane()];
    const client = api([first, second]);
    const error = await client.createCluster('c1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as ApiError).message).toBe('UNAVAILABLE: the store is unavailable');
    expect(calls).toEqual([{ address: first, method: 'createCluster' }]);
    expect(client.controlPlane).toBe(first);
  });

  it('moves on when the control plane it kept goes away, and names every address it tried when none can be reached', async () => {
    const [first, second] = [await controlPlane(), await controlPlane()];
    const client = api([first, second]);
    await client.listClusters();
    servers[0]!.forceShutdown();
    // Let the client see its connection close: a call sent on a dying connection may have reached it, and is not made again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await client.listClusters()).clusters[0]?.name).toBe(second);
    expect(client.controlPlane).toBe(second);

    const dead = [await deadAddress(), await deadAddress()];
    const error = await api(dead).listClusters().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as ApiError).message).toBe(
      `UNAVAILABLE: cannot reach the control plane at any of ${dead[0]}, ${dead[1]}: is it running? (set LANEWAY_CONTROL_PLANE)`,
    );
  });
});
