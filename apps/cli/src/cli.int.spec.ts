/**
 * The CLI end to end against a real grpc-js server on 127.0.0.1: the in-test services record what
 * they receive and answer with fixed responses or gRPC errors; `run` executes in-process.
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { Metadata, sendUnaryData } from '@grpc/grpc-js';
import {
  ApplyOutcome,
  ChannelServiceService,
  ClusterServiceService,
  DeployServiceService,
  InvokeServiceService,
  JobState,
  Lane,
  SecurityServiceService,
  ServerServiceService,
  WaitFor,
} from '@laneway/proto';
import type {
  Channel,
  ChannelChangeResponse,
  ChannelServiceServer,
  ClusterServiceServer,
  DeployRequest,
  DeployResponse,
  DeployServiceServer,
  InvokeRequest,
  InvokeServiceServer,
  JobInfo,
  PutSecurityDefinitionRequest,
  RollbackRequest,
  RollbackResponse,
  SecurityChangeResponse,
  SecurityDefinition,
  SecurityServiceServer,
  ServerInfo,
  ServerServiceServer,
  ServicePolicy,
} from '@laneway/proto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from './cli';
import type { SecretInput } from './read-secret';

const VERSION = '0123456789abcdef0123456789abcdef';
const OLD_VERSION = 'abcdef0123456789abcdef0123456789';
const POLICY: ServicePolicy = { timeoutMs: 5000, attempts: 3, concurrency: 0 };
const NO_POLICY: ServicePolicy = { timeoutMs: 0, attempts: 0, concurrency: 0 };

interface Received<T> {
  readonly request: T;
  readonly authorization: readonly string[];
}

const received = {
  deploy: [] as Received<DeployRequest>[],
  invoke: [] as Received<InvokeRequest>[],
  invokeAsync: [] as Received<InvokeRequest>[],
  calls: [] as string[],
  /** Every call to the RPCs that record through `record`, in order. */
  requests: [] as (Received<unknown> & { readonly method: string })[],
};

/** Notes the call (method, request, authorization) and returns its request. */
function record<T>(method: string, call: { readonly request: T; readonly metadata: Metadata }): T {
  received.calls.push(method);
  received.requests.push({
    method,
    request: call.request,
    authorization: call.metadata.get('authorization').map(String),
  });
  return call.request;
}

/** The requests `method` received, in order. */
function requestsTo(method: string): unknown[] {
  return received.requests.filter((r) => r.method === method).map((r) => r.request);
}

/** The one Deploy call the test made. */
function onlyDeploy(): Received<DeployRequest> {
  const [first, ...rest] = received.deploy;
  if (!first || rest.length > 0) throw new Error(`expected one Deploy call, got ${received.deploy.length}`);
  return first;
}

function notFound(callback: sendUnaryData<never>, details: string): void {
  callback({ code: status.NOT_FOUND, details });
}

function missingCluster(cluster: string): string {
  return `cluster '${cluster}' does not exist: create it with 'laneway cluster create ${cluster}'`;
}

function deployResponse(request: DeployRequest): DeployResponse {
  const servers =
    request.waitFor === WaitFor.WAIT_FOR_NONE
      ? []
      : request.cluster === 'flaky'
        ? [
            { server: 'srv-a', httpAddress: '127.0.0.1:8080', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 7, errors: [] },
            {
              server: 'srv-b',
              httpAddress: '127.0.0.1:8080',
              outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
              appliedRevision: 6,
              errors: [{ service: 'hello', kind: '', message: 'cannot load: boom' }],
            },
            {
              server: 'srv-c',
              httpAddress: '127.0.0.1:8080',
              outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT,
              appliedRevision: 5,
              errors: [],
            },
          ]
        : [{ server: 'srv-a', httpAddress: '127.0.0.1:8080', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 7, errors: [] }];
  return {
    revision: 7,
    services: [
      {
        name: 'hello',
        version: VERSION,
        lane: Lane.LANE_NETWORK,
        path: 'services/hello.ts',
        changed: true,
        policy: POLICY,
      },
      {
        name: 'resize',
        version: `fedcba9876543210${VERSION}`,
        lane: Lane.LANE_CPU,
        path: 'services/img/resize.ts',
        changed: false,
        policy: NO_POLICY,
      },
    ],
    servers,
  };
}

const deployService: DeployServiceServer = {
  deploy(call, callback) {
    received.calls.push('deploy');
    received.deploy.push({
      request: call.request,
      authorization: call.metadata.get('authorization').map(String),
    });
    if (call.request.cluster === 'missing') return notFound(callback, missingCluster('missing'));
    callback(null, deployResponse(call.request));
  },
  listServices(call, callback) {
    received.calls.push('listServices');
    callback(null, {
      revision: 7,
      services: [
        {
          name: 'hello',
          version: VERSION,
          lane: Lane.LANE_NETWORK,
          path: 'services/hello.ts',
          revision: 7,
          updatedAt: '2025-01-02T03:04:05.000Z',
          policy: POLICY,
          inputSchema: '',
        },
      ],
      nextPageToken: '',
    });
  },
  undeploy(call, callback) {
    received.calls.push('undeploy');
    if (call.request.name !== 'hello')
      return notFound(callback, `service '${call.request.name}' is not deployed`);
    callback(null, {
      revision: 8,
      servers: [
        { server: 'srv-a', httpAddress: '127.0.0.1:8080', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 8, errors: [] },
      ],
    });
  },
  rollback(call, callback) {
    const request = record('rollback', call);
    if (request.service !== 'hello') {
      return notFound(
        callback,
        `service '${request.service}' is not deployed in cluster '${request.cluster}'`,
      );
    }
    callback(null, rollbackResponse(request));
  },
  listServiceVersions(call, callback) {
    const { cluster, service } = record('listServiceVersions', call);
    if (service !== 'hello') {
      return notFound(callback, `service '${service}' is not deployed in cluster '${cluster}'`);
    }
    callback(null, {
      versions: [
        {
          version: VERSION,
          lane: Lane.LANE_NETWORK,
          path: 'services/hello.ts',
          createdAt: '2025-01-02T03:04:05.000Z',
          current: false,
        },
        {
          version: OLD_VERSION,
          lane: Lane.LANE_CPU,
          path: 'services/hello-old.ts',
          createdAt: '2025-01-01T00:00:00.000Z',
          current: true,
        },
      ],
    });
  },
  getDeploymentStatus(call, callback) {
    const { cluster } = record('getDeploymentStatus', call);
    if (cluster === 'missing') return notFound(callback, missingCluster('missing'));
    const behind = cluster === 'behind';
    callback(null, {
      cluster,
      desiredRevision: 7,
      servers: [
        {
          server: 'srv-a',
          connected: true,
          drained: false,
          appliedRevision: behind ? 6 : 7,
          converged: !behind,
          lastSeen: '2025-01-02T03:04:05.000Z',
          lastNack: behind ? [{ service: 'hello', kind: '', message: 'cannot load: boom' }] : [],
        },
        {
          // Disconnected and behind: never a reason to fail.
          server: 'srv-b',
          connected: false,
          drained: true,
          appliedRevision: 5,
          converged: false,
          lastSeen: '2025-01-02T03:00:00.000Z',
          lastNack: [],
        },
      ],
    });
  },
};

function rollbackResponse(request: RollbackRequest): RollbackResponse {
  const acked = {
    server: 'srv-a',
    httpAddress: '127.0.0.1:8080',
    outcome: ApplyOutcome.APPLY_OUTCOME_ACKED,
    appliedRevision: 9,
    errors: [],
  };
  return {
    revision: 9,
    service: {
      name: 'hello',
      version: OLD_VERSION,
      lane: Lane.LANE_CPU,
      path: 'services/hello-old.ts',
      changed: true,
      policy: POLICY,
    },
    servers:
      request.waitFor === WaitFor.WAIT_FOR_NONE
        ? []
        : request.cluster === 'flaky'
          ? [
              acked,
              {
                server: 'srv-b',
                httpAddress: '127.0.0.1:8080',
                outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
                appliedRevision: 8,
                errors: [{ service: 'hello', kind: '', message: 'cannot load: boom' }],
              },
            ]
          : [acked],
  };
}

const COMPLETED_JOB: JobInfo = {
  jobId: 'job-42',
  service: 'hello',
  state: JobState.JOB_STATE_COMPLETED,
  attemptsMade: 1,
  inputJson: '{"name":"ada"}',
  outputJson: '{"greeting":"hello, ada"}',
  failedReason: '',
  createdAt: '2025-01-02T03:04:05.000Z',
  finishedAt: '2025-01-02T03:04:06.000Z',
};

const FAILED_JOB: JobInfo = {
  jobId: 'job-7',
  service: 'resize',
  state: JobState.JOB_STATE_FAILED,
  attemptsMade: 3,
  inputJson: '{"width":-1}',
  outputJson: '',
  failedReason: 'Error: negative width\n    at resize (services/img/resize.ts:3:9)',
  createdAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:00:09.000Z',
};

/** FAILED_JOB as --json prints it: the state by name, the input as JSON, no output yet (null). */
const FAILED_JOB_JSON = {
  jobId: 'job-7',
  service: 'resize',
  state: 'FAILED',
  attemptsMade: 3,
  input: { width: -1 },
  output: null,
  failedReason: FAILED_JOB.failedReason,
  createdAt: FAILED_JOB.createdAt,
  finishedAt: FAILED_JOB.finishedAt,
};

const invokeService: InvokeServiceServer = {
  invoke(call, callback) {
    received.calls.push('invoke');
    received.invoke.push({
      request: call.request,
      authorization: call.metadata.get('authorization').map(String),
    });
    if (call.request.service === 'slow') return; // never answers: the client's deadline must end it
    if (call.request.service !== 'hello') {
      return notFound(
        callback,
        `service '${call.request.service}' is not deployed in cluster '${call.request.cluster}'`,
      );
    }
    callback(null, { outputJson: '{"greeting":"hello, ada","n":[1,2]}', server: 'srv-a', version: VERSION });
  },
  invokeAsync(call, callback) {
    received.calls.push('invokeAsync');
    received.invokeAsync.push({ request: call.request, authorization: [] });
    callback(null, { jobId: 'job-42' });
  },
  getJob(call, callback) {
    const { cluster, jobId } = record('getJob', call);
    const job = [COMPLETED_JOB, FAILED_JOB].find((j) => j.jobId === jobId);
    if (!job) return notFound(callback, `job '${jobId}' not found in cluster '${cluster}'`);
    callback(null, job);
  },
  listFailedJobs(call, callback) {
    const { service } = record('listFailedJobs', call);
    callback(null, { jobs: service === '' || service === FAILED_JOB.service ? [FAILED_JOB] : [], nextPageToken: '' });
  },
  retryJob(call, callback) {
    const { jobId } = record('retryJob', call);
    if (jobId !== FAILED_JOB.jobId) {
      return callback({ code: status.FAILED_PRECONDITION, details: `job '${jobId}' has not failed` });
    }
    callback(null, {
      ...FAILED_JOB,
      state: JobState.JOB_STATE_WAITING,
      attemptsMade: 0,
      failedReason: '',
      finishedAt: '',
    });
  },
};

const clusterService: ClusterServiceServer = {
  createCluster(call, callback) {
    received.calls.push('createCluster');
    callback(null, {
      name: call.request.name,
      revision: 0,
      createdAt: '2025-01-02T03:04:05.000Z',
      serviceCount: 0,
    });
  },
  getCluster(call, callback) {
    const { name } = record('getCluster', call);
    if (name !== 'default') return notFound(callback, missingCluster(name));
    callback(null, { name, revision: 7, createdAt: '2025-01-01T00:00:00.000Z', serviceCount: 2 });
  },
  listClusters(_call, callback) {
    received.calls.push('listClusters');
    callback(null, {
      clusters: [
        { name: 'default', revision: 7, createdAt: '2025-01-01T00:00:00.000Z', serviceCount: 2 },
        { name: 'staging', revision: 12, createdAt: '2025-01-03T00:00:00.000Z', serviceCount: 10 },
      ],
    });
  },
  deleteCluster(call, callback) {
    received.calls.push('deleteCluster');
    if (call.request.name !== 'staging') return notFound(callback, missingCluster(call.request.name));
    callback(null, {});
  },
  getJoinToken(call, callback) {
    const { name } = record('getJoinToken', call);
    if (name !== 'default') return notFound(callback, missingCluster(name));
    callback(null, { cluster: name, token: 'lwj_current-join-token' });
  },
  rotateJoinToken(call, callback) {
    const { name } = record('rotateJoinToken', call);
    if (name !== 'default') return notFound(callback, missingCluster(name));
    callback(null, { cluster: name, token: 'lwj_rotated-join-token' });
  },
};

const SERVERS: readonly ServerInfo[] = [
  {
    name: 'srv-a',
    host: 'host-a',
    pid: 100,
    lanes: [Lane.LANE_NETWORK, Lane.LANE_CPU],
    connected: true,
    appliedRevision: 7,
    lastSeen: '2025-01-02T03:04:05.000Z',
    lastNack: [],
    drained: false,
    httpAddress: '127.0.0.1:8080',
    controlPlaneId: '',
  },
  {
    name: 'srv-b',
    host: 'host-b',
    pid: 200,
    lanes: [Lane.LANE_NETWORK],
    connected: false,
    appliedRevision: 6,
    lastSeen: '2025-01-02T03:00:00.000Z',
    lastNack: [{ service: 'hello', kind: '', message: 'cannot load: boom' }],
    drained: true,
    httpAddress: '',
    controlPlaneId: '',
  },
];

/** DrainServer / ResumeServer: the server with its new drained state. */
function setDrained(
  request: { cluster: string; server: string },
  drained: boolean,
  callback: sendUnaryData<ServerInfo>,
): void {
  const server = SERVERS.find((s) => s.name === request.server);
  if (!server) {
    return notFound(callback, `server '${request.server}' has never joined cluster '${request.cluster}'`);
  }
  callback(null, { ...server, drained });
}

const serverService: ServerServiceServer = {
  listServers(_call, callback) {
    received.calls.push('listServers');
    callback(null, { revision: 7, servers: [...SERVERS] });
  },
  drainServer(call, callback) {
    setDrained(record('drainServer', call), true, callback);
  },
  resumeServer(call, callback) {
    setDrained(record('resumeServer', call), false, callback);
  },
  removeServer(call, callback) {
    const request = record('removeServer', call);
    const server = SERVERS.find((s) => s.name === request.server);
    if (!server) return notFound(callback, `server '${request.server}' has never joined cluster '${request.cluster}'`);
    if (server.connected) {
      return callback({ code: status.FAILED_PRECONDITION, details: `server '${server.name}' is connected to cluster '${request.cluster}': stop it first` });
    }
    callback(null, {});
  },
  getTraffic(_call, callback) {
    callback(null, { times: [], routes: [], lanes: [], serversScraped: 0, serversFailed: [] });
  },
};

const CUSTOMER_CHANNEL: Channel = {
  name: 'customer',
  method: 'GET',
  path: '/customers/:id',
  service: 'hello',
  security: '',
  timeoutMs: 0,
  async: false,
  rateLimitPerSecond: 0,
  revision: 10,
  updatedAt: '2025-01-02T03:04:05.000Z',
};

const ORDERS_CHANNEL: Channel = {
  name: 'orders',
  method: 'POST',
  path: '/orders',
  service: 'resize',
  security: 'partner-key',
  timeoutMs: 5000,
  async: false,
  rateLimitPerSecond: 20,
  revision: 11,
  updatedAt: '2025-01-03T00:00:00.000Z',
};

/** What the servers did with a channel change at `revision`: per wait_for and the cluster, as Deploy. */
function channelServers(
  request: { cluster: string; name: string; waitFor: WaitFor },
  revision: number,
): ChannelChangeResponse['servers'] {
  if (request.waitFor === WaitFor.WAIT_FOR_NONE) return [];
  const acked = {
    server: 'srv-a',
    httpAddress: '127.0.0.1:8080',
    outcome: ApplyOutcome.APPLY_OUTCOME_ACKED,
    appliedRevision: revision,
    errors: [],
  };
  if (request.cluster !== 'flaky') return [acked];
  return [
    acked,
    {
      server: 'srv-b',
      httpAddress: '127.0.0.1:8080',
      outcome: ApplyOutcome.APPLY_OUTCOME_NACKED,
      appliedRevision: revision - 1,
      errors: [
        {
          kind: 'channel',
          service: request.name,
          message: "route GET /customers/:id: service 'hello' is not loaded",
        },
      ],
    },
    {
      server: 'srv-c',
      httpAddress: '127.0.0.1:8080',
      outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT,
      appliedRevision: revision - 2,
      errors: [],
    },
  ];
}

/** Create and update: the service must be 'hello' or 'resize' (deployed); the channel as asked. */
function changeChannel(
  request: Parameters<ChannelServiceServer['createChannel']>[0]['request'],
  callback: sendUnaryData<ChannelChangeResponse>,
): void {
  if (!['hello', 'resize'].includes(request.service)) {
    return callback({
      code: status.INVALID_ARGUMENT,
      details: `channel '${request.name}': service '${request.service}' is not deployed in cluster '${request.cluster}': deploy it first`,
    });
  }
  const { cluster: _cluster, waitFor: _waitFor, waitTimeoutMs: _waitTimeoutMs, ...fields } = request;
  callback(null, {
    revision: 12,
    channel: { ...fields, revision: 12, updatedAt: '2025-01-04T00:00:00.000Z' },
    servers: channelServers(request, 12),
  });
}

function missingChannel(callback: sendUnaryData<never>, name: string, cluster: string): void {
  notFound(callback, `channel '${name}' does not exist in cluster '${cluster}'`);
}

const channelService: ChannelServiceServer = {
  createChannel(call, callback) {
    const request = record('createChannel', call);
    if (request.name === 'customer') {
      return callback({
        code: status.ALREADY_EXISTS,
        details: `channel 'customer' already exists in cluster '${request.cluster}'`,
      });
    }
    // As the control plane words it: the request's field, not the flag.
    if (request.path.includes('//')) {
      return callback({ code: status.INVALID_ARGUMENT, details: `path '${request.path}' is invalid: segment 2 is empty` });
    }
    if (request.rateLimitPerSecond > 100_000) {
      return callback({
        code: status.INVALID_ARGUMENT,
        details: `rate_limit_per_second ${request.rateLimitPerSecond} is over 100000`,
      });
    }
    changeChannel(request, callback);
  },
  updateChannel(call, callback) {
    const request = record('updateChannel', call);
    if (request.name !== 'customer') return missingChannel(callback, request.name, request.cluster);
    changeChannel(request, callback);
  },
  describeChannel(call, callback) {
    const { cluster, name } = record('describeChannel', call);
    const channel = [CUSTOMER_CHANNEL, ORDERS_CHANNEL].find((c) => c.name === name);
    if (!channel) return missingChannel(callback, name, cluster);
    callback(null, channel);
  },
  listChannels(call, callback) {
    const { cluster } = record('listChannels', call);
    callback(null, { revision: 11, channels: cluster === 'empty' ? [] : [CUSTOMER_CHANNEL, ORDERS_CHANNEL] });
  },
  deleteChannel(call, callback) {
    const request = record('deleteChannel', call);
    if (request.name !== 'customer') return missingChannel(callback, request.name, request.cluster);
    callback(null, { revision: 13, channel: undefined, servers: channelServers(request, 13) });
  },
};

const PARTNER_KEY: SecurityDefinition = {
  name: 'partner-key',
  apiKey: { header: 'x-api-key', key: '', keySet: true },
  revision: 20,
  updatedAt: '2025-01-05T00:00:00.000Z',
};

const OPS_BASIC: SecurityDefinition = {
  name: 'ops',
  basicAuth: { username: 'ada', password: '', passwordSet: true },
  revision: 21,
  updatedAt: '2025-01-05T00:00:01.000Z',
};

const SSO_JWT: SecurityDefinition = {
  name: 'sso',
  jwt: {
    hs256Secret: '',
    publicKeyPem: '',
    issuer: 'https://id.example.com',
    audience: 'laneway',
    secretSet: true,
  },
  revision: 22,
  updatedAt: '2025-01-05T00:00:02.000Z',
};

const ISSUER_PEM =
  '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';

const PARTNER_JWT: SecurityDefinition = {
  name: 'partner-jwt',
  jwt: { hs256Secret: '', publicKeyPem: ISSUER_PEM, issuer: '', audience: '', secretSet: false },
  revision: 23,
  updatedAt: '2025-01-05T00:00:03.000Z',
};

const SECURITY_DEFINITIONS = [PARTNER_KEY, OPS_BASIC, SSO_JWT, PARTNER_JWT];

/** As the control plane answers: the request's fields, secrets blanked, whether one is stored. */
function definitionOf(
  request: PutSecurityDefinitionRequest,
  revision: number,
  stored?: SecurityDefinition,
): SecurityDefinition {
  const base = { name: request.name, revision, updatedAt: '2025-01-06T00:00:00.000Z' };
  if (request.apiKey) {
    const keySet = request.apiKey.key !== '' || stored?.apiKey?.keySet === true;
    return { ...base, apiKey: { header: request.apiKey.header, key: '', keySet } };
  }
  if (request.basicAuth) {
    const passwordSet = request.basicAuth.password !== '' || stored?.basicAuth?.passwordSet === true;
    return { ...base, basicAuth: { username: request.basicAuth.username, password: '', passwordSet } };
  }
  const jwt = request.jwt ?? {
    hs256Secret: '',
    publicKeyPem: '',
    issuer: '',
    audience: '',
    secretSet: false,
  };
  const secretSet = jwt.publicKeyPem === '' && (jwt.hs256Secret !== '' || stored?.jwt?.secretSet === true);
  return { ...base, jwt: { ...jwt, hs256Secret: '', secretSet } };
}

function missingSecurity(callback: sendUnaryData<never>, name: string, cluster: string): void {
  notFound(callback, `security definition '${name}' does not exist in cluster '${cluster}'`);
}

/** The control plane's check of an API key's length (its message names the length, never the key). */
function refuseShortKey(
  request: PutSecurityDefinitionRequest,
  callback: sendUnaryData<SecurityChangeResponse>,
): boolean {
  const key = request.apiKey?.key ?? '';
  if (request.apiKey === undefined || key === '' || key.length >= 16) return false;
  callback({
    code: status.INVALID_ARGUMENT,
    details: `api_key.key has ${key.length} characters; use at least 16 (a random key)`,
  });
  return true;
}

const securityService: SecurityServiceServer = {
  createSecurityDefinition(call, callback) {
    const request = record('createSecurityDefinition', call);
    if (SECURITY_DEFINITIONS.some((d) => d.name === request.name)) {
      return callback({
        code: status.ALREADY_EXISTS,
        details: `security definition '${request.name}' already exists in cluster '${request.cluster}'`,
      });
    }
    if (refuseShortKey(request, callback)) return;
    callback(null, {
      revision: 30,
      definition: definitionOf(request, 30),
      servers: channelServers(request, 30),
    });
  },
  updateSecurityDefinition(call, callback) {
    const request = record('updateSecurityDefinition', call);
    const stored = SECURITY_DEFINITIONS.find((d) => d.name === request.name);
    if (!stored) return missingSecurity(callback, request.name, request.cluster);
    if (refuseShortKey(request, callback)) return;
    callback(null, {
      revision: 31,
      definition: definitionOf(request, 31, stored),
      servers: channelServers(request, 31),
    });
  },
  getSecurityDefinition(call, callback) {
    const { cluster, name } = record('getSecurityDefinition', call);
    const definition = SECURITY_DEFINITIONS.find((d) => d.name === name);
    if (!definition) return missingSecurity(callback, name, cluster);
    callback(null, definition);
  },
  listSecurityDefinitions(call, callback) {
    const { cluster } = record('listSecurityDefinitions', call);
    callback(null, { revision: 23, definitions: cluster === 'empty' ? [] : [...SECURITY_DEFINITIONS] });
  },
  deleteSecurityDefinition(call, callback) {
    const request = record('deleteSecurityDefinition', call);
    if (request.name === 'partner-key') {
      return callback({
        code: status.FAILED_PRECONDITION,
        details: `security definition 'partner-key' is used by channel(s) 'orders' in cluster '${request.cluster}': change or delete them first`,
      });
    }
    if (!SECURITY_DEFINITIONS.some((d) => d.name === request.name)) {
      return missingSecurity(callback, request.name, request.cluster);
    }
    callback(null, { revision: 32, definition: undefined, servers: channelServers(request, 32) });
  },
};

/** stdin as a terminal would be: raw mode recorded, the keys typed fed in as chunks. */
class FakeTerminal extends PassThrough implements SecretInput {
  readonly isTTY = true;
  isRaw = false;
  readonly rawModes: boolean[] = [];

  constructor(keys: readonly string[]) {
    super();
    for (const key of keys) this.write(key);
  }

  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.rawModes.push(mode);
    return this;
  }
}

describe('laneway CLI against a real gRPC server', () => {
  const server = new Server();
  let address = '';
  let root = '';

  beforeAll(async () => {
    server.addService(DeployServiceService, deployService);
    server.addService(InvokeServiceService, invokeService);
    server.addService(ClusterServiceService, clusterService);
    server.addService(ServerServiceService, serverService);
    server.addService(ChannelServiceService, channelService);
    server.addService(SecurityServiceService, securityService);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    address = `127.0.0.1:${port}`;

    root = await mkdtemp(path.join(tmpdir(), 'laneway-cli-int-'));
    const files: Record<string, string> = {
      'services/hello.ts': "export default { name: 'hello' }; // ünïcödé\n",
      'services/img/resize.ts': 'export const resize = 1;\n',
      'services/img/resize.spec.ts': 'test file, never sent\n',
      'services/node_modules/dep/index.js': 'dependency, never sent\n',
      'services/types.d.ts': 'declare const x: number;\n',
      'extra.mjs': 'export const extra = true;\n',
      // Admin tokens as a control plane started in `host/` (default data dir) or with
      // LANEWAY_DATA_DIR=state would have written them.
      'host/.laneway/admin-token': 'lwa_token-in-default-data-dir\n',
      'state/admin-token': 'lwa_token-in-state\n',
      'keys/issuer.pem': ISSUER_PEM,
    };
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), content);
    }
  });

  afterAll(async () => {
    server.forceShutdown();
    await rm(root, { recursive: true, force: true });
  });

  beforeEach(() => {
    received.deploy.length = 0;
    received.invoke.length = 0;
    received.invokeAsync.length = 0;
    received.calls.length = 0;
    received.requests.length = 0;
  });

  /** Runs the CLI in-process; stdin is empty (never the test runner's) unless given. */
  async function cli(
    argv: string[],
    env: NodeJS.ProcessEnv = {},
    cwd = root,
    stdin: SecretInput = Readable.from([]),
  ) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      env: { LANEWAY_CONTROL_PLANE: address, ...env },
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
      stdin,
      cwd,
    });
    return { code, stdout, stderr };
  }

  describe('deploy', () => {
    it('sends every file in one call, with paths relative to the working directory', async () => {
      const result = await cli(['deploy', 'services', 'extra.mjs', '--timeout', '2500'], {
        LANEWAY_TOKEN: 's3cret',
      });

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(received.deploy).toHaveLength(1);
      const { request, authorization } = onlyDeploy();
      expect(authorization).toEqual(['Bearer s3cret']);
      expect(request.cluster).toBe('default');
      expect(request.waitFor).toBe(WaitFor.WAIT_FOR_ALL_SERVERS);
      expect(request.timeoutMs).toBe(2500);
      expect(request.files).toEqual([
        { path: 'extra.mjs', content: 'export const extra = true;\n' },
        { path: 'services/hello.ts', content: "export default { name: 'hello' }; // ünïcödé\n" },
        { path: 'services/img/resize.ts', content: 'export const resize = 1;\n' },
      ]);
      expect(result.stdout).toBe(
        [
          'revision 7',
          'services:',
          '  hello   0123456789ab  network  changed',
          '  resize  fedcba987654  cpu      unchanged',
          'servers:',
          '  srv-a  ACKED  applied revision 7',
          '',
        ].join('\n'),
      );
    });

    it('--no-wait sets wait_for NONE; --cluster overrides LANEWAY_CLUSTER; no token, no authorization', async () => {
      const result = await cli(['--cluster', 'prod', 'deploy', '--no-wait', 'services/hello.ts'], {
        LANEWAY_CLUSTER: 'ignored',
      });

      expect(result.code).toBe(0);
      const { request, authorization } = onlyDeploy();
      expect(authorization).toEqual([]);
      expect(request.cluster).toBe('prod');
      expect(request.waitFor).toBe(WaitFor.WAIT_FOR_NONE);
      expect(request.timeoutMs).toBe(0);
      expect(request.files.map((f) => f.path)).toEqual(['services/hello.ts']);
      expect(result.stdout).toContain('servers: not waited for (--no-wait)');
    });

    it('exits 1 when a server NACKs or times out, printing each result and the errors', async () => {
      const result = await cli(['deploy', 'services'], { LANEWAY_CLUSTER: 'flaky' });

      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        [
          'servers:',
          '  srv-a  ACKED      applied revision 7',
          '  srv-b  NACKED     applied revision 6',
          '    hello: cannot load: boom',
          '  srv-c  TIMED_OUT  applied revision 5',
        ].join('\n'),
      );
      expect(result.stderr).toBe(
        'error: revision 7 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );
    });

    it('--json prints the response, enum values by name', async () => {
      const result = await cli(['deploy', 'services', '--json']);

      expect(result.code).toBe(0);
      const response = deployResponse(onlyDeploy().request);
      expect(JSON.parse(result.stdout)).toEqual({
        ...response,
        services: response.services.map((s, n) => ({ ...s, lane: ['NETWORK', 'CPU'][n] })),
        servers: [{ ...response.servers[0], outcome: 'ACKED' }],
      });
    });

    it('--json reports an error as one JSON object on stderr, the status apart', async () => {
      const result = await cli(['deploy', 'services', '--cluster', 'missing', '--json']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(JSON.parse(result.stderr)).toEqual({
        error: {
          code: 'NOT_FOUND',
          message: "cluster 'missing' does not exist: create it with 'laneway cluster create missing'",
        },
      });
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      const local = await cli(['deploy', 'nope', '--json']);
      expect(local.code).toBe(1);
      expect(JSON.parse(local.stderr)).toEqual({ error: { code: 'ERROR', message: "cannot read 'nope': no such file or directory" } });
    });

    it('reports the control plane error as STATUS: details with exit 1', async () => {
      const result = await cli(['deploy', 'services', '--cluster', 'missing']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        "error: NOT_FOUND: cluster 'missing' does not exist: create it with 'laneway cluster create missing'\n",
      );
    });

    it('fails before calling anything when a path does not exist', async () => {
      const result = await cli(['deploy', 'nope']);

      expect(result.code).toBe(1);
      expect(result.stderr).toBe("error: cannot read 'nope': no such file or directory\n");
      expect(received.calls).toEqual([]);
    });
  });

  describe('invoke', () => {
    it('sends the input and prints the output pretty-printed, and the server on stderr', async () => {
      const result = await cli(['invoke', 'hello', '--data', '{"name":"ada"}', '--timeout', '1000']);

      expect(result.code).toBe(0);
      expect(received.invoke.map((r) => r.request)).toEqual([
        { cluster: 'default', service: 'hello', inputJson: '{"name":"ada"}', timeoutMs: 1000 },
      ]);
      expect(result.stdout).toBe('{\n  "greeting": "hello, ada",\n  "n": [\n    1,\n    2\n  ]\n}\n');
      expect(result.stderr).toBe('served by srv-a\n');
    });

    it('--async prints the job id', async () => {
      const result = await cli(['invoke', 'hello', '--async']);

      expect(result.code).toBe(0);
      expect(received.invokeAsync.map((r) => r.request)).toEqual([
        { cluster: 'default', service: 'hello', inputJson: '', timeoutMs: 0 },
      ]);
      expect(result.stdout).toBe('job job-42\n');
    });

    it("--json prints the response with the service's output as JSON, not as a string", async () => {
      const result = await cli(['--json', 'invoke', 'hello']);

      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        output: { greeting: 'hello, ada', n: [1, 2] },
        server: 'srv-a',
        version: VERSION,
      });
      expect(result.stderr).toBe('');
    });

    it('reports NOT_FOUND with exit 1', async () => {
      const result = await cli(['invoke', 'nope']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe("error: NOT_FOUND: service 'nope' is not deployed in cluster 'default'\n");
    });

    it('rejects --data that is not JSON without calling the control plane (exit 2, usage)', async () => {
      const result = await cli(['invoke', 'hello', '--data', '{oops}']);

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: option '--data <JSON>' argument '\{oops\}' is invalid\. It is not valid JSON \(.+\): give JSON/,
      );
      expect(result.stderr).toContain(
        "\n\nUsage: laneway invoke NAME [--data <JSON>] [--async] [--timeout <MS>]\nRun 'laneway invoke --help' for more.\n",
      );
      expect(result.stdout).toBe('');
      expect(received.calls).toEqual([]);
    });

    it('ends a call that gets no answer at the deadline', async () => {
      const started = Date.now();
      const result = await cli(['invoke', 'slow', '--deadline', '300']);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
      expect(result.stderr).not.toContain('cannot reach');
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('listing and cluster commands', () => {
    it('services prints a table', async () => {
      const result = await cli(['services']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        [
          'NAME   VERSION       LANE     REVISION  UPDATED                   PATH',
          'hello  0123456789ab  network  7         2025-01-02T03:04:05.000Z  services/hello.ts',
          '',
        ].join('\n'),
      );
    });

    it('servers prints connection, drained, revision, lanes, last seen and last nack', async () => {
      const result = await cli(['servers']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        [
          'NAME   CONNECTED  DRAINED  CHANNELS AT     APPLIED REVISION  LANES        LAST SEEN                 LAST NACK',
          'srv-a  yes        no       127.0.0.1:8080  7                 network,cpu  2025-01-02T03:04:05.000Z  -',
          'srv-b  no         yes      -               6                 network      2025-01-02T03:00:00.000Z  hello: cannot load: boom',
          '',
        ].join('\n'),
      );
    });

    it('server remove forgets a stopped server and is refused for a connected one', async () => {
      const removed = await cli(['server', 'remove', 'srv-b']);
      expect(removed).toEqual({ code: 0, stdout: 'removed server srv-b from cluster default\n', stderr: '' });
      expect(requestsTo('removeServer')).toEqual([{ cluster: 'default', server: 'srv-b' }]);

      const refused = await cli(['server', 'remove', 'srv-a']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("server 'srv-a' is connected to cluster 'default': stop it first");

      const list = await cli(['server', 'list']);
      expect(list.stdout).toContain('srv-a  yes');
    });

    it('clusters, cluster create and cluster delete', async () => {
      const list = await cli(['clusters']);
      expect(list.code).toBe(0);
      expect(list.stdout).toBe(
        [
          'NAME     REVISION  SERVICES  CREATED',
          'default  7         2         2025-01-01T00:00:00.000Z',
          'staging  12        10        2025-01-03T00:00:00.000Z',
          '',
        ].join('\n'),
      );

      const created = await cli(['cluster', 'create', 'prod']);
      expect(created).toEqual({ code: 0, stdout: 'created cluster prod\n', stderr: '' });

      const deleted = await cli(['cluster', 'delete', 'staging']);
      expect(deleted).toEqual({ code: 0, stdout: 'deleted cluster staging\n', stderr: '' });

      const missing = await cli(['cluster', 'delete', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        "error: NOT_FOUND: cluster 'nope' does not exist: create it with 'laneway cluster create nope'\n",
      );
      expect(received.calls).toEqual(['listClusters', 'createCluster', 'deleteCluster', 'deleteCluster']);
    });

    it('cluster list and cluster show, as every resource kind has them', async () => {
      expect(await cli(['cluster', 'list'])).toEqual(await cli(['clusters']));
      const shown = await cli(['cluster', 'show', 'default']);
      expect(shown).toEqual({
        code: 0,
        stdout: 'cluster   default\nrevision  7\nservices  2\ncreated   2025-01-01T00:00:00.000Z\n',
        stderr: '',
      });
      expect(requestsTo('getCluster')).toEqual([{ name: 'default' }]);
      const missing = await cli(['cluster', 'show', 'nope', '--json']);
      expect(missing.code).toBe(1);
      expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } });
      expect((await cli(['channel', 'list'])).stdout).toBe((await cli(['channels'])).stdout);
    });

    it('undeploy prints the revision and the servers', async () => {
      const result = await cli(['undeploy', 'hello']);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        'undeployed hello: revision 8\nservers:\n  srv-a  ACKED  applied revision 8\n',
      );
    });
  });

  describe('status', () => {
    it('prints the desired revision and where each server stands; a disconnected server behind is fine', async () => {
      const result = await cli(['status']);

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(requestsTo('getDeploymentStatus')).toEqual([{ cluster: 'default' }]);
      expect(result.stdout).toBe(
        [
          'cluster default: desired revision 7',
          'SERVER  CONNECTED  DRAINED  APPLIED REVISION  CONVERGED  LAST NACK',
          'srv-a   yes        no       7                 yes        -',
          'srv-b   no         yes      5                 no         -',
          '',
        ].join('\n'),
      );
    });

    it('exits 1 when a connected server is not converged, after printing the status', async () => {
      const result = await cli(['status', '--cluster', 'behind']);

      expect(result.code).toBe(1);
      expect(requestsTo('getDeploymentStatus')).toEqual([{ cluster: 'behind' }]);
      expect(result.stdout).toContain(
        'srv-a   yes        no       6                 no         hello: cannot load: boom',
      );
      expect(result.stderr).toBe('error: 1 of 1 connected server not converged on revision 7 (srv-a at 6)\n');
    });

    it('--json prints the raw status (and still exits 1 when behind)', async () => {
      const result = await cli(['status', '--json'], { LANEWAY_CLUSTER: 'behind' });

      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({
        cluster: 'behind',
        desiredRevision: 7,
        servers: [
          { server: 'srv-a', converged: false },
          { server: 'srv-b', drained: true },
        ],
      });
    });

    it('reports a missing cluster', async () => {
      const result = await cli(['status', '--cluster', 'missing']);

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: NOT_FOUND: cluster 'missing' does not exist/);
    });
  });

  describe('drain and resume', () => {
    it('drain sends the cluster and server and prints the server as servers does', async () => {
      const result = await cli(['drain', 'srv-a']);

      expect(result).toEqual({
        code: 0,
        stdout: [
          'NAME   CONNECTED  DRAINED  CHANNELS AT     APPLIED REVISION  LANES        LAST SEEN                 LAST NACK',
          'srv-a  yes        yes      127.0.0.1:8080  7                 network,cpu  2025-01-02T03:04:05.000Z  -',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect(requestsTo('drainServer')).toEqual([{ cluster: 'default', server: 'srv-a' }]);
    });

    it('resume of a disconnected server says it applies when the server reconnects', async () => {
      const result = await cli(['--cluster', 'prod', 'resume', 'srv-b']);

      expect(result.code).toBe(0);
      expect(requestsTo('resumeServer')).toEqual([{ cluster: 'prod', server: 'srv-b' }]);
      expect(result.stdout).toContain('\nsrv-b  no         no       -            6 ');
      expect(result.stderr).toBe('srv-b is not connected: it will be resumed when it reconnects\n');
    });

    it('--json prints the raw ServerInfo; an unknown server is NOT_FOUND', async () => {
      const json = await cli(['drain', 'srv-b', '--json']);
      expect(json.code).toBe(0);
      expect(json.stderr).toBe('');
      expect(JSON.parse(json.stdout)).toEqual({ ...SERVERS[1], lanes: ['NETWORK'], drained: true });

      const missing = await cli(['resume', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("error: NOT_FOUND: server 'nope' has never joined cluster 'default'\n");
    });
  });

  describe('versions and rollback', () => {
    it('versions lists every version, newest first, marking the current one', async () => {
      const result = await cli(['versions', 'hello']);

      expect(result.code).toBe(0);
      expect(requestsTo('listServiceVersions')).toEqual([{ cluster: 'default', service: 'hello' }]);
      expect(result.stdout).toBe(
        [
          'VERSION       LANE     PATH                   CREATED                   CURRENT',
          '0123456789ab  network  services/hello.ts      2025-01-02T03:04:05.000Z',
          'abcdef012345  cpu      services/hello-old.ts  2025-01-01T00:00:00.000Z  *',
          '',
        ].join('\n'),
      );
    });

    it('versions --json prints the raw response; an unknown service is NOT_FOUND', async () => {
      const json = await cli(['versions', 'hello', '--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        versions: [
          { version: VERSION, current: false },
          { version: OLD_VERSION, current: true },
        ],
      });

      const missing = await cli(['versions', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("error: NOT_FOUND: service 'nope' is not deployed in cluster 'default'\n");
    });

    it('rollback sends the version and waits; prints the revision, the service and the servers', async () => {
      const result = await cli(['rollback', 'hello', 'abcdef01', '--timeout', '2500'], {
        LANEWAY_TOKEN: 's3cret',
      });

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(received.requests).toEqual([
        {
          method: 'rollback',
          request: {
            cluster: 'default',
            service: 'hello',
            version: 'abcdef01',
            waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
            timeoutMs: 2500,
          },
          authorization: ['Bearer s3cret'],
        },
      ]);
      expect(result.stdout).toBe(
        [
          'revision 9',
          'service:',
          '  hello  abcdef012345  cpu  changed',
          'servers:',
          '  srv-a  ACKED  applied revision 9',
          '',
        ].join('\n'),
      );
    });

    it('rollback --no-wait sets wait_for NONE', async () => {
      const result = await cli(['rollback', '--no-wait', 'hello', 'abcdef01']);

      expect(result.code).toBe(0);
      expect(requestsTo('rollback')).toMatchObject([{ waitFor: WaitFor.WAIT_FOR_NONE, timeoutMs: 0 }]);
      expect(result.stdout).toContain('servers: not waited for (--no-wait)');
    });

    it('rollback without a version asks for the versions and says when none is older than the current one', async () => {
      const result = await cli(['rollback', 'hello']);

      expect(result.code).toBe(1);
      expect(requestsTo('listServiceVersions')).toEqual([{ cluster: 'default', service: 'hello' }]);
      expect(requestsTo('rollback')).toEqual([]);
      expect(result.stderr).toBe("error: service 'hello' has no version older than the current one: nothing to roll back to (see 'laneway versions hello')\n");
    });

    it('rollback exits 1 when a server NACKs', async () => {
      const result = await cli(['rollback', 'hello', 'abcdef01'], { LANEWAY_CLUSTER: 'flaky' });

      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        [
          'servers:',
          '  srv-a  ACKED   applied revision 9',
          '  srv-b  NACKED  applied revision 8',
          '    hello: cannot load: boom',
        ].join('\n'),
      );
      expect(result.stderr).toBe('error: revision 9 was not applied by 1 of 2 servers (srv-b NACKED)\n');
    });

    it('rollback --json prints the raw response', async () => {
      const result = await cli(['rollback', 'hello', 'abcdef01', '--json']);

      expect(result.code).toBe(0);
      const response = rollbackResponse(requestsTo('rollback')[0] as RollbackRequest);
      expect(JSON.parse(result.stdout)).toEqual({
        ...response,
        service: { ...response.service, lane: 'CPU' },
        servers: response.servers.map((s) => ({ ...s, outcome: 'ACKED' })),
      });
    });
  });

  describe('jobs', () => {
    it('jobs failed sends the filter and prints one line per job', async () => {
      const result = await cli(['jobs', 'failed', '--service', 'resize', '--limit', '5']);

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(requestsTo('listFailedJobs')).toEqual([{ cluster: 'default', service: 'resize', limit: 5, pageSize: 0, pageToken: '' }]);
      expect(result.stdout).toBe(
        [
          'ID     SERVICE  ATTEMPTS  FAILED REASON          FINISHED',
          'job-7  resize   3         Error: negative width  2025-01-01T00:00:09.000Z',
          '',
        ].join('\n'),
      );
    });

    it('jobs failed without flags asks for every service at the default limit; says when none', async () => {
      const all = await cli(['jobs', 'failed', '--json']);
      expect(all.code).toBe(0);
      expect(JSON.parse(all.stdout)).toEqual({ jobs: [FAILED_JOB_JSON] });

      const none = await cli(['jobs', 'failed', '--service', 'hello']);
      expect(none).toEqual({
        code: 0,
        stdout: "no failed jobs of service 'hello' in cluster 'default'\n",
        stderr: '',
      });
      expect(requestsTo('listFailedJobs')).toEqual([
        { cluster: 'default', service: '', limit: 0, pageSize: 0, pageToken: '' },
        { cluster: 'default', service: 'hello', limit: 0, pageSize: 0, pageToken: '' },
      ]);
    });

    it('jobs retry queues the job again; a job that has not failed is an error', async () => {
      const retried = await cli(['jobs', 'retry', 'job-7', '--cluster', 'prod']);
      expect(retried).toEqual({ code: 0, stdout: 'job job-7 (resize) queued again: waiting\n', stderr: '' });

      const json = await cli(['jobs', 'retry', 'job-7', '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ jobId: 'job-7', state: 'WAITING' });

      const notFailed = await cli(['jobs', 'retry', 'job-42']);
      expect(notFailed.code).toBe(1);
      expect(notFailed.stderr).toBe("error: FAILED_PRECONDITION: job 'job-42' has not failed\n");
      expect(requestsTo('retryJob')).toEqual([
        { cluster: 'prod', jobId: 'job-7' },
        { cluster: 'default', jobId: 'job-7' },
        { cluster: 'default', jobId: 'job-42' },
      ]);
    });

    it('job prints a completed job with its input and output', async () => {
      const result = await cli(['job', 'job-42']);

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(requestsTo('getJob')).toEqual([{ cluster: 'default', jobId: 'job-42' }]);
      expect(result.stdout).toBe(
        [
          'job       job-42',
          'service   hello',
          'state     completed',
          'attempts  1',
          'created   2025-01-02T03:04:05.000Z',
          'finished  2025-01-02T03:04:06.000Z',
          'input:',
          '  {',
          '    "name": "ada"',
          '  }',
          'output:',
          '  {',
          '    "greeting": "hello, ada"',
          '  }',
          '',
        ].join('\n'),
      );
    });

    it('job prints why a failed job failed; --json the raw JobInfo; an unknown job is NOT_FOUND', async () => {
      const failed = await cli(['job', 'job-7']);
      expect(failed.code).toBe(0);
      expect(failed.stdout).toContain('state     failed\nattempts  3\n');
      expect(failed.stdout).not.toContain('output:');
      expect(failed.stdout).toContain(
        'failed reason:\n  Error: negative width\n      at resize (services/img/resize.ts:3:9)\n',
      );

      const json = await cli(['job', 'job-7', '--json']);
      expect(JSON.parse(json.stdout)).toEqual(FAILED_JOB_JSON);
      const shown = await cli(['jobs', 'show', 'job-7', '--json']);
      expect(shown.stdout).toBe(json.stdout);

      const missing = await cli(['job', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("error: NOT_FOUND: job 'nope' not found in cluster 'default'\n");
    });
  });

  describe('channels', () => {
    const CREATE = ['--method', 'get', '--path', '/customers/:id', '--service', 'hello'];

    it('channels lists every channel of the cluster', async () => {
      const result = await cli(['channels']);

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(requestsTo('listChannels')).toEqual([{ cluster: 'default' }]);
      expect(result.stdout).toBe(
        [
          'NAME      METHOD  PATH            SERVICE  SECURITY     TIMEOUT  REVISION',
          'customer  GET     /customers/:id  hello    -            default  10',
          'orders    POST    /orders         resize   partner-key  5000ms   11',
          '',
        ].join('\n'),
      );
    });

    it('channels --json prints the raw response; says when the cluster has none', async () => {
      const json = await cli(['channels', '--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ revision: 11, channels: [CUSTOMER_CHANNEL, ORDERS_CHANNEL] });

      const none = await cli(['channels', '--cluster', 'empty']);
      expect(none).toEqual({ code: 0, stdout: "no channels in cluster 'empty' (revision 11)\n", stderr: '' });
    });

    it('channel create sends every field, waits for the servers and prints the change and each server', async () => {
      const result = await cli(['channel', 'create', 'lookup', ...CREATE, '--timeout', '3000'], {
        LANEWAY_TOKEN: 's3cret',
      });

      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(received.requests).toEqual([
        {
          method: 'createChannel',
          request: {
            cluster: 'default',
            name: 'lookup',
            method: 'GET',
            path: '/customers/:id',
            service: 'hello',
            security: '',
            timeoutMs: 3000,
            async: false,
            rateLimitPerSecond: 0,
            waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
            waitTimeoutMs: 0,
          },
          authorization: ['Bearer s3cret'],
        },
      ]);
      expect(result.stdout).toBe(
        [
          'created channel lookup (GET /customers/:id -> hello): revision 12',
          'servers:',
          '  srv-a  ACKED  applied revision 12',
          '',
        ].join('\n'),
      );
    });

    it('channel create --no-wait --wait-timeout sets wait_for NONE and the wait; --json prints the raw response', async () => {
      const result = await cli([
        '--cluster',
        'prod',
        'channel',
        'create',
        'lookup',
        ...CREATE,
        '--security',
        'partner-key',
        '--rate-limit',
        '7',
        '--no-wait',
        '--wait-timeout',
        '1500',
      ]);

      expect(result.code).toBe(0);
      expect(requestsTo('createChannel')).toMatchObject([
        {
          cluster: 'prod',
          security: 'partner-key',
          rateLimitPerSecond: 7,
          timeoutMs: 0,
          waitFor: WaitFor.WAIT_FOR_NONE,
          waitTimeoutMs: 1500,
        },
      ]);
      expect(result.stdout).toContain('servers: not waited for (--no-wait)');

      const json = await cli(['channel', 'create', 'lookup', ...CREATE, '--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        revision: 12,
        channel: { name: 'lookup', method: 'GET', path: '/customers/:id', service: 'hello' },
        servers: [{ server: 'srv-a', httpAddress: '127.0.0.1:8080', outcome: 'ACKED' }],
      });
    });

    it("names the flags in the control plane's INVALID_ARGUMENT, not the request's fields", async () => {
      const badPath = await cli(['channel', 'create', 'x', '--method', 'GET', '--path', '/a//b', '--service', 'hello']);
      expect(badPath.code).toBe(1);
      expect(badPath.stderr).toBe("error: INVALID_ARGUMENT: --path '/a//b' is invalid: segment 2 is empty\n");
      const tooMany = await cli(['channel', 'create', 'x', ...CREATE, '--rate-limit', '200000', '--json']);
      expect(JSON.parse(tooMany.stderr)).toEqual({
        error: { code: 'INVALID_ARGUMENT', message: '--rate-limit 200000 is over 100000' },
      });
    });

    it('channel update replaces every field and exits 1 when a server NACKs or times out', async () => {
      const result = await cli(
        [
          'channel',
          'update',
          'customer',
          '--method',
          'POST',
          '--path',
          '/v2/customers/:id',
          '--service',
          'resize',
        ],
        { LANEWAY_CLUSTER: 'flaky' },
      );

      expect(result.code).toBe(1);
      expect(requestsTo('updateChannel')).toEqual([
        {
          cluster: 'flaky',
          name: 'customer',
          method: 'POST',
          path: '/v2/customers/:id',
          service: 'resize',
          security: '',
          timeoutMs: 0,
          async: false,
          rateLimitPerSecond: 0,
          waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
          waitTimeoutMs: 0,
        },
      ]);
      expect(result.stdout).toBe(
        [
          'updated channel customer (POST /v2/customers/:id -> resize): revision 12',
          'servers:',
          '  srv-a  ACKED      applied revision 12',
          '  srv-b  NACKED     applied revision 11',
          "    channel customer: route GET /customers/:id: service 'hello' is not loaded",
          '  srv-c  TIMED_OUT  applied revision 10',
          '',
        ].join('\n'),
      );
      expect(result.stderr).toBe(
        'error: revision 12 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );
    });

    it('maps the control plane refusing a change to its gRPC status (exit 1)', async () => {
      const undeployed = await cli([
        'channel',
        'create',
        'lookup',
        '--method',
        'GET',
        '--path',
        '/x',
        '--service',
        'nope',
      ]);
      expect(undeployed).toEqual({
        code: 1,
        stdout: '',
        stderr:
          "error: INVALID_ARGUMENT: channel 'lookup': --service 'nope' is not deployed in cluster 'default': deploy it first\n",
      });

      const taken = await cli(['channel', 'create', 'customer', ...CREATE]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toBe(
        "error: ALREADY_EXISTS: channel 'customer' already exists in cluster 'default'\n",
      );

      const missing = await cli(['channel', 'update', 'nope', ...CREATE]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("error: NOT_FOUND: channel 'nope' does not exist in cluster 'default'\n");
    });

    it('channel show prints the fields; --json the raw Channel; an unknown channel is NOT_FOUND', async () => {
      const result = await cli(['channel', 'show', 'orders']);
      expect(result).toEqual({
        code: 0,
        stdout: [
          'channel     orders',
          'method      POST',
          'path        /orders',
          'service     resize',
          'security    partner-key',
          'timeout     5000ms',
          'rate limit  20/s per caller',
          'async       no',
          'revision    11',
          'updated     2025-01-03T00:00:00.000Z',
          '',
        ].join('\n'),
        stderr: '',
      });
      const defaults = await cli(['channel', 'show', 'customer']);
      expect(defaults.stdout).toContain(
        '\nsecurity    none (public)\ntimeout     default (30000ms)\nrate limit  unlimited\n',
      );

      const json = await cli(['channel', 'show', 'customer', '--json']);
      expect(JSON.parse(json.stdout)).toEqual(CUSTOMER_CHANNEL);

      const missing = await cli(['channel', 'show', 'nope', '--cluster', 'prod']);
      expect(missing).toEqual({
        code: 1,
        stdout: '',
        stderr: "error: NOT_FOUND: channel 'nope' does not exist in cluster 'prod'\n",
      });
      expect(requestsTo('describeChannel')).toEqual([
        { cluster: 'default', name: 'orders' },
        { cluster: 'default', name: 'customer' },
        { cluster: 'default', name: 'customer' },
        { cluster: 'prod', name: 'nope' },
      ]);
    });

    it('channel delete waits for the servers and prints the revision; exits 1 when one NACKs', async () => {
      const result = await cli(['channel', 'delete', 'customer', '--wait-timeout', '4000']);
      expect(result).toEqual({
        code: 0,
        stdout: 'deleted channel customer: revision 13\nservers:\n  srv-a  ACKED  applied revision 13\n',
        stderr: '',
      });

      const flaky = await cli(['channel', 'delete', 'customer', '--no-wait'], { LANEWAY_CLUSTER: 'flaky' });
      expect(flaky).toEqual({
        code: 0,
        stdout: 'deleted channel customer: revision 13\nservers: not waited for (--no-wait)\n',
        stderr: '',
      });

      const nacked = await cli(['channel', 'delete', 'customer'], { LANEWAY_CLUSTER: 'flaky' });
      expect(nacked.code).toBe(1);
      expect(nacked.stderr).toBe(
        'error: revision 13 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );
      expect(requestsTo('deleteChannel')).toEqual([
        { cluster: 'default', name: 'customer', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 4000 },
        { cluster: 'flaky', name: 'customer', waitFor: WaitFor.WAIT_FOR_NONE, waitTimeoutMs: 0 },
        { cluster: 'flaky', name: 'customer', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 0 },
      ]);
    });

    it('a bad --method or --path exits 2 naming the flag and the value, without calling the control plane', async () => {
      const method = await cli([
        'channel',
        'create',
        'x',
        '--method',
        'FETCH',
        '--path',
        '/a',
        '--service',
        'hello',
      ]);
      expect(method.code).toBe(2);
      expect(method.stdout).toBe('');
      expect(method.stderr).toMatch(/^error: option '--method <METHOD>' argument 'FETCH' is invalid\. /);

      const badPath = await cli([
        'channel',
        'update',
        'x',
        '--method',
        'GET',
        '--path',
        'a/b',
        '--service',
        'hello',
      ]);
      expect(badPath.code).toBe(2);
      expect(badPath.stderr).toMatch(/^error: option '--path <PATH>' argument 'a\/b' is invalid\. /);
      expect(badPath.stderr).toContain("Run 'laneway channel update --help' for more.");
      expect(received.calls).toEqual([]);
    });
  });

  describe('security', () => {
    const STDIN_KEY = 'key-from-stdin-0123456789';
    const lines = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
    /** The secret shows nowhere in what the CLI printed. */
    const hidden = (result: { stdout: string; stderr: string }, secret: string) => {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    };

    it('security (and security list) lists the definitions: kind, what each checks, whether the secret is set', async () => {
      const result = await cli(['security']);
      expect(result).toEqual({
        code: 0,
        stdout: [
          'NAME         KIND     CHECKS                                                  SECRET SET  REVISION',
          'partner-key  api-key  header x-api-key                                        yes         20',
          'ops          basic    username ada                                            yes         21',
          'sso          jwt      HS256, issuer https://id.example.com, audience laneway  yes         22',
          'partner-jwt  jwt      RS256/ES256 public key, issuer any, audience any        -           23',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect((await cli(['security', 'list'])).stdout).toBe(result.stdout);

      const json = await cli(['security', '--json']);
      expect(JSON.parse(json.stdout)).toEqual({ revision: 23, definitions: SECURITY_DEFINITIONS });
      const none = await cli(['--cluster', 'empty', 'security']);
      expect(none).toEqual({
        code: 0,
        stdout: "no security definitions in cluster 'empty' (revision 23)\n",
        stderr: '',
      });
      expect(requestsTo('listSecurityDefinitions')).toEqual([
        { cluster: 'default' },
        { cluster: 'default' },
        { cluster: 'default' },
        { cluster: 'empty' },
      ]);
    });

    it('create-api-key reads the key from stdin (its first line, newline stripped), sends it and never prints it', async () => {
      const result = await cli(
        ['security', 'create-api-key', 'mobile', '--header', 'X-Api-Key'],
        { LANEWAY_TOKEN: 's3cret' },
        root,
        lines('key-from-', 'stdin-0123456789\r\n', 'a second line, ignored\n'),
      );
      expect(result).toEqual({
        code: 0,
        stdout: [
          'created security definition mobile (api-key, header X-Api-Key): revision 30',
          'servers:',
          '  srv-a  ACKED  applied revision 30',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect(received.requests).toEqual([
        {
          method: 'createSecurityDefinition',
          request: {
            cluster: 'default',
            name: 'mobile',
            apiKey: { header: 'X-Api-Key', key: STDIN_KEY, keySet: false },
            waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
            waitTimeoutMs: 0,
          },
          authorization: ['Bearer s3cret'],
        },
      ]);

      // Without a newline at the end, all of stdin; --json prints the answer, which holds no secret.
      const json = await cli(
        ['security', 'create-api-key', 'mobile', '--header', 'x', '--json'],
        {},
        root,
        lines(STDIN_KEY),
      );
      expect(json.code).toBe(0);
      hidden(json, STDIN_KEY);
      expect(JSON.parse(json.stdout)).toMatchObject({
        revision: 30,
        definition: { apiKey: { key: '', keySet: true } },
      });
      expect(requestsTo('createSecurityDefinition').at(-1)).toMatchObject({ apiKey: { key: STDIN_KEY } });

      // A writer that keeps stdin open after the line: the line is enough, no need to wait for the end.
      const open = new PassThrough();
      open.write(`${STDIN_KEY}-open\n`);
      expect(
        (await cli(['security', 'create-api-key', 'mobile', '--header', 'x'], {}, root, open)).code,
      ).toBe(0);
      expect(requestsTo('createSecurityDefinition').at(-1)).toMatchObject({
        apiKey: { key: `${STDIN_KEY}-open` },
      });
      open.destroy();
    });

    it('--generate makes a random 32-byte base64url key, sends it and prints it once, first and alone on stdout', async () => {
      // stdin holds something else: it must not be read.
      const result = await cli(
        ['security', 'create-api-key', 'mobile', '--header', 'x-api-key', '--generate'],
        {},
        root,
        lines('never-read-0123456789\n'),
      );
      expect(result.code).toBe(0);
      const [sent] = requestsTo('createSecurityDefinition') as PutSecurityDefinitionRequest[];
      const key = sent?.apiKey?.key ?? '';
      expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key, 'base64url')).toHaveLength(32);
      expect(result.stdout).toBe(
        [
          key,
          'created security definition mobile (api-key, header x-api-key): revision 30',
          'servers:',
          '  srv-a  ACKED  applied revision 30',
          '',
        ].join('\n'),
      );
      expect(result.stdout.split(key)).toHaveLength(2);
      expect(result.stderr).toBe(
        "the first line above is the generated API key for 'mobile': keep it now, it is not shown again\n",
      );

      // --json: the key in the one JSON object, nowhere else; a new key each time.
      const json = await cli([
        'security',
        'update-api-key',
        'partner-key',
        '--header',
        'x-api-key',
        '--generate',
        '--json',
      ]);
      expect(json.code).toBe(0);
      expect(json.stderr).toBe('');
      const rotated =
        (requestsTo('updateSecurityDefinition')[0] as PutSecurityDefinitionRequest).apiKey?.key ?? '';
      expect(rotated).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(rotated).not.toBe(key);
      expect(JSON.parse(json.stdout)).toMatchObject({
        generatedKey: rotated,
        revision: 31,
        definition: { name: 'partner-key' },
      });
      expect(json.stdout.split(rotated)).toHaveLength(2);
    });

    it('create with no secret exits 2 saying how to give one, without calling the control plane', async () => {
      const apiKey = await cli(['security', 'create-api-key', 'mobile', '--header', 'x-api-key']);
      expect(apiKey).toEqual({
        code: 2,
        stdout: '',
        stderr:
          "error: no API key given for 'mobile': type it at the prompt (stdin a terminal) or give it as stdin's first line, " +
          `e.g. printf '%s\\n' "$KEY" | laneway security create-api-key mobile --header x-api-key, or --generate for a random key\n`,
      });
      const basic = await cli(
        ['security', 'create-basic', 'ops2', '--username', 'ada'],
        {},
        root,
        lines('\n', 'pw-on-line-2\n'),
      );
      expect(basic.code).toBe(2);
      expect(basic.stderr).toMatch(
        /^error: no password given for 'ops2': .*\| laneway security create-basic ops2 --username ada\n$/,
      );
      const jwt = await cli(['security', 'create-jwt', 'sso2', '--hs256', '--secret-from-argument', '']);
      expect(jwt.code).toBe(2);
      expect(jwt.stderr).toMatch(/^error: no HS256 secret given for 'sso2': /);
      expect(received.calls).toEqual([]);
    });

    it('update with an empty secret sends it empty: the control plane keeps the stored one', async () => {
      const result = await cli([
        'security',
        'update-basic',
        'ops',
        '--username',
        'grace',
        '--wait-timeout',
        '2000',
      ]);
      expect(result).toEqual({
        code: 0,
        stdout: [
          'updated security definition ops (basic, username grace): revision 31',
          'servers:',
          '  srv-a  ACKED  applied revision 31',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect(requestsTo('updateSecurityDefinition')).toEqual([
        {
          cluster: 'default',
          name: 'ops',
          basicAuth: { username: 'grace', password: '', passwordSet: false },
          waitFor: WaitFor.WAIT_FOR_ALL_SERVERS,
          waitTimeoutMs: 2000,
        },
      ]);

      const missing = await cli(
        ['security', 'update-api-key', 'nope', '--header', 'x'],
        {},
        root,
        lines(STDIN_KEY),
      );
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        "error: NOT_FOUND: security definition 'nope' does not exist in cluster 'default'\n",
      );
      hidden(missing, STDIN_KEY);
    });

    it('create-basic and create-jwt send the password or HS256 secret from stdin, --secret-from-argument, or the PEM file', async () => {
      const basic = await cli(
        ['security', 'create-basic', 'ops2', '--username', 'ada'],
        {},
        root,
        lines('correct horse\n'),
      );
      expect(basic.code).toBe(0);
      expect(basic.stdout).toMatch(
        /^created security definition ops2 \(basic, username ada\): revision 30\n/,
      );
      hidden(basic, 'correct horse');

      const hs256 = await cli(
        [
          'security',
          'create-jwt',
          'sso2',
          '--hs256',
          '--issuer',
          'https://id.example.com',
          '--audience',
          'laneway',
          '--no-wait',
        ],
        {},
        root,
        lines('an-hs256-secret-of-at-least-32-bytes\n'),
      );
      expect(hs256).toEqual({
        code: 0,
        stdout:
          'created security definition sso2 (jwt, HS256, issuer https://id.example.com, audience laneway): revision 30\n' +
          'servers: not waited for (--no-wait)\n',
        stderr: '',
      });

      const argument = await cli([
        'security',
        'update-jwt',
        'sso',
        '--hs256',
        '--secret-from-argument',
        'from-argv-secret',
      ]);
      expect(argument.code).toBe(0);
      hidden(argument, 'from-argv-secret');

      // Relative to the working directory; the PEM is public, so it is no secret to read.
      const pem = await cli(
        ['security', 'create-jwt', 'partner-jwt2', '--public-key', 'keys/issuer.pem'],
        {},
        root,
        lines('never-read\n'),
      );
      expect(pem.code).toBe(0);
      expect(pem.stdout).toMatch(
        /^created security definition partner-jwt2 \(jwt, RS256\/ES256 public key, issuer any, audience any\)/,
      );

      expect(requestsTo('createSecurityDefinition')).toMatchObject([
        { name: 'ops2', basicAuth: { username: 'ada', password: 'correct horse' } },
        {
          name: 'sso2',
          jwt: {
            hs256Secret: 'an-hs256-secret-of-at-least-32-bytes',
            publicKeyPem: '',
            issuer: 'https://id.example.com',
            audience: 'laneway',
          },
          waitFor: WaitFor.WAIT_FOR_NONE,
        },
        {
          name: 'partner-jwt2',
          jwt: { hs256Secret: '', publicKeyPem: ISSUER_PEM, issuer: '', audience: '' },
        },
      ]);
      expect(requestsTo('updateSecurityDefinition')).toMatchObject([
        { name: 'sso', jwt: { hs256Secret: 'from-argv-secret' } },
      ]);

      const unreadable = await cli(['security', 'create-jwt', 'x', '--public-key', 'keys/missing.pem']);
      expect(unreadable).toEqual({
        code: 1,
        stdout: '',
        stderr: "error: cannot read --public-key 'keys/missing.pem': no such file or directory\n",
      });
    });

    it('maps the control plane refusing a change to its gRPC status, without the secret in the message', async () => {
      const short = await cli(
        ['security', 'create-api-key', 'mobile', '--header', 'x'],
        {},
        root,
        lines('short-key\n'),
      );
      expect(short).toEqual({
        code: 1,
        stdout: '',
        stderr: 'error: INVALID_ARGUMENT: the API key (read from the prompt or stdin) has 9 characters; use at least 16 (a random key)\n',
      });
      const taken = await cli(['security', 'create-api-key', 'partner-key', '--header', 'x', '--generate']);
      expect(taken).toEqual({
        code: 1,
        stdout: '', // the generated key is shown only once it is stored
        stderr:
          "error: ALREADY_EXISTS: security definition 'partner-key' already exists in cluster 'default'\n",
      });
    });

    it('prompts with echo off when stdin is a terminal (Backspace, Ctrl-U and arrow keys edit; the mode is restored)', async () => {
      const terminal = new FakeTerminal([
        'pa',
        'x\u007f',
        'ss-\u001b[D',
        'typed-0123456789',
        '\r',
        'after-enter\n',
      ]);
      const result = await cli(['security', 'create-api-key', 'mobile', '--header', 'x'], {}, root, terminal);
      expect(result).toMatchObject({ code: 0, stderr: "API key for 'mobile' (not shown): \n" });
      expect(terminal.rawModes).toEqual([true, false]);
      expect(requestsTo('createSecurityDefinition')).toMatchObject([
        { apiKey: { key: 'pass-typed-0123456789' } },
      ]);
      hidden(result, 'typed-0123456789');

      const cleared = new FakeTerminal(['wrong\u0015', 'right-password\n']);
      const update = await cli(['security', 'update-basic', 'ops', '--username', 'ada'], {}, root, cleared);
      expect(update.code).toBe(0);
      expect(update.stderr).toBe("password for 'ops' (not shown; empty keeps the stored one): \n");
      expect(requestsTo('updateSecurityDefinition')).toMatchObject([
        { basicAuth: { password: 'right-password' } },
      ]);

      const cancelled = await cli(
        ['security', 'create-basic', 'x', '--username', 'ada'],
        {},
        root,
        new FakeTerminal(['secr', '\u0003']),
      );
      expect(cancelled).toEqual({
        code: 130,
        stdout: '',
        stderr: "password for 'x' (not shown): \nerror: cancelled\n",
      });
      expect(received.calls).toEqual(['createSecurityDefinition', 'updateSecurityDefinition']);
    });

    // A real terminal: util-linux `script` runs the CLI (src/main.ts through tsx) on a pty; the test
    // types only once the prompt shows, so the terminal's own echo would show the key if it were on.
    const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
    it.skipIf(!hasScript)(
      'on a real terminal (a pty), the typed key is not echoed and reaches the request',
      async () => {
        const typed = 'typed-on-a-pty-0123456789';
        const repo = path.resolve(import.meta.dirname, '../../..');
        const command = [
          process.execPath,
          '--import',
          'tsx',
          'apps/cli/src/main.ts',
          'security',
          'create-api-key',
          'tty',
          '--header',
          'x',
        ]
          .map((word) => `'${word}'`)
          .join(' ');
        const child = spawn('script', ['-qefc', command, '/dev/null'], {
          cwd: repo,
          env: { PATH: process.env['PATH'] ?? '', LANEWAY_CONTROL_PLANE: address, LANEWAY_TOKEN: 's3cret' },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let terminal = '';
        child.stdout.on('data', (chunk: Buffer) => {
          const before = terminal;
          terminal += chunk.toString();
          if (!before.includes('(not shown): ') && terminal.includes('(not shown): '))
            child.stdin.write(`${typed}\r`);
        });
        child.stderr.on('data', (chunk: Buffer) => (terminal += chunk.toString()));
        // Never left running: a prompt that does not show fails the test instead of hanging it.
        const guard = setTimeout(() => child.kill(), 20_000);
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        clearTimeout(guard);
        child.stdin.destroy();

        expect(terminal).toMatch(
          /^API key for 'tty' \(not shown\): \r?\ncreated security definition tty \(api-key, header x\): revision 30\r?\n/,
        );
        expect(terminal).not.toContain(typed);
        expect(code).toBe(0);
        expect(requestsTo('createSecurityDefinition')).toMatchObject([
          { name: 'tty', apiKey: { key: typed } },
        ]);
      },
    );

    it('show prints the fields, secrets only as set; --json the raw definition; unknown is NOT_FOUND', async () => {
      const apiKey = await cli(['security', 'show', 'partner-key']);
      expect(apiKey).toEqual({
        code: 0,
        stdout: [
          'security definition  partner-key',
          'kind                 api-key',
          'header               x-api-key',
          'key set              yes',
          'revision             20',
          'updated              2025-01-05T00:00:00.000Z',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect((await cli(['security', 'show', 'sso'])).stdout).toContain(
        '\nalgorithm            HS256\nsecret set           yes\nissuer               https://id.example.com\naudience             laneway\n',
      );
      expect((await cli(['security', 'show', 'partner-jwt'])).stdout).toContain(
        '\nalgorithm            RS256/ES256\npublic key           PEM (--json shows it)\nissuer               any\n',
      );
      expect((await cli(['security', 'show', 'ops'])).stdout).toContain(
        '\nusername             ada\npassword set         yes\n',
      );
      expect(JSON.parse((await cli(['security', 'show', 'partner-jwt', '--json'])).stdout)).toEqual(
        PARTNER_JWT,
      );
      const missing = await cli(['security', 'show', 'nope', '--cluster', 'prod']);
      expect(missing).toEqual({
        code: 1,
        stdout: '',
        stderr: "error: NOT_FOUND: security definition 'nope' does not exist in cluster 'prod'\n",
      });
    });

    it("delete waits for the servers (exit 1 unless all ACK); a definition a channel uses is the control plane's FAILED_PRECONDITION", async () => {
      const result = await cli(['security', 'delete', 'ops']);
      expect(result).toEqual({
        code: 0,
        stdout:
          'deleted security definition ops: revision 32\nservers:\n  srv-a  ACKED  applied revision 32\n',
        stderr: '',
      });
      const nacked = await cli(['security', 'delete', 'ops', '--wait-timeout', '100'], {
        LANEWAY_CLUSTER: 'flaky',
      });
      expect(nacked.code).toBe(1);
      expect(nacked.stdout).toMatch(
        /^deleted security definition ops: revision 32\nservers:\n {2}srv-a {2}ACKED {6}applied revision 32\n {2}srv-b {2}NACKED /,
      );
      expect(nacked.stderr).toBe(
        'error: revision 32 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );

      const used = await cli(['security', 'delete', 'partner-key']);
      expect(used).toEqual({
        code: 1,
        stdout: '',
        stderr:
          "error: FAILED_PRECONDITION: security definition 'partner-key' is used by channel(s) 'orders' in cluster 'default': change or delete them first\n",
      });
      expect(requestsTo('deleteSecurityDefinition')).toEqual([
        { cluster: 'default', name: 'ops', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 0 },
        { cluster: 'flaky', name: 'ops', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 100 },
        { cluster: 'default', name: 'partner-key', waitFor: WaitFor.WAIT_FOR_ALL_SERVERS, waitTimeoutMs: 0 },
      ]);
    });

    it('create-* on a flaky cluster prints each server and exits 1', async () => {
      const result = await cli(
        ['security', 'create-api-key', 'mobile', '--header', 'x'],
        { LANEWAY_CLUSTER: 'flaky' },
        root,
        lines(STDIN_KEY),
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('\n  srv-c  TIMED_OUT  applied revision 28\n');
      expect(result.stderr).toBe(
        'error: revision 30 was not applied by 2 of 3 servers (srv-b NACKED, srv-c TIMED_OUT)\n',
      );
      hidden(result, STDIN_KEY);
    });
  });

  describe('cluster token and the admin token', () => {
    it('prints just the join token, so $(laneway cluster token NAME) works', async () => {
      const result = await cli(['cluster', 'token', 'default']);

      expect(result).toEqual({ code: 0, stdout: 'lwj_current-join-token\n', stderr: '' });
      expect(received.calls).toEqual(['getJoinToken']);
      expect(requestsTo('getJoinToken')).toEqual([{ name: 'default' }]);
    });

    it('--rotate replaces it first; --json prints the raw JoinToken; a missing cluster is NOT_FOUND', async () => {
      const rotated = await cli(['cluster', 'token', 'default', '--rotate']);
      expect(rotated).toEqual({ code: 0, stdout: 'lwj_rotated-join-token\n', stderr: '' });

      const json = await cli(['cluster', 'token', 'default', '--json']);
      expect(JSON.parse(json.stdout)).toEqual({ cluster: 'default', token: 'lwj_current-join-token' });

      const missing = await cli(['cluster', 'token', 'nope', '--rotate']);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toMatch(/^error: NOT_FOUND: cluster 'nope' does not exist/);
      expect(received.calls).toEqual(['rotateJoinToken', 'getJoinToken', 'rotateJoinToken']);
    });

    it('without LANEWAY_TOKEN, sends the admin token found in ./.laneway/admin-token', async () => {
      const result = await cli(['cluster', 'token', 'default'], {}, path.join(root, 'host'));

      expect(result.code).toBe(0);
      expect(received.requests.map((r) => r.authorization)).toEqual([
        ['Bearer lwa_token-in-default-data-dir'],
      ]);
    });

    it('follows LANEWAY_DATA_DIR (relative to the working directory); LANEWAY_TOKEN wins over the file', async () => {
      await cli(['status'], { LANEWAY_DATA_DIR: 'state' });
      await cli(['status'], { LANEWAY_DATA_DIR: 'state', LANEWAY_TOKEN: 's3cret' }, root);
      await cli(['status'], { LANEWAY_TOKEN: 's3cret' }, path.join(root, 'host'));

      expect(received.requests.map((r) => r.authorization)).toEqual([
        ['Bearer lwa_token-in-state'],
        ['Bearer s3cret'],
        ['Bearer s3cret'],
      ]);
    });
  });

  describe('usage', () => {
    it('--help prints the usage on stdout with exit 0', async () => {
      const result = await cli(['--help']);

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: laneway/);
      for (const command of [
        'deploy PATH...',
        'invoke NAME',
        'services ',
        'versions SERVICE',
        'rollback SERVICE [VERSION]',
        'undeploy NAME',
        'channels ',
        'channel create NAME',
        'channel update NAME',
        'channel show NAME',
        'channel delete NAME',
        'security list ',
        'security create-api-key NAME',
        'security update-jwt NAME',
        'security show NAME',
        'security delete NAME',
        'status ',
        'job ID',
        'jobs failed ',
        'jobs retry ID',
        'servers ',
        'server list ',
        'server remove SERVER',
        'drain SERVER',
        'resume SERVER',
        'clusters ',
        'cluster create NAME',
        'cluster delete NAME',
        'cluster token NAME',
      ]) {
        expect(result.stdout).toContain(`\n  ${command}`);
      }
      expect(result.stdout).toContain('LANEWAY_DATA_DIR');
      expect(result.stderr).toBe('');
    });

    it('an unknown command prints the error and the usage with exit 2', async () => {
      const result = await cli(['frobnicate']);

      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: unknown command 'frobnicate'\n\nUsage: laneway/);
      expect(received.calls).toEqual([]);
    });
  });

  it('explains an unreachable control plane (UNAVAILABLE, exit 1)', async () => {
    const unusedPort = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const bound = probe.address();
        probe.close(() =>
          typeof bound === 'object' && bound ? resolve(bound.port) : reject(new Error('no port')),
        );
      });
    });
    const target = `127.0.0.1:${unusedPort}`;

    const result = await cli(['services', '--deadline', '3000'], { LANEWAY_CONTROL_PLANE: target });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: UNAVAILABLE: cannot reach the control plane at ${target}: is it running? (set LANEWAY_CONTROL_PLANE)\n`,
    );
  });
});
