import type { Server, ServiceDefinition, ServerUnaryCall, sendUnaryData, UntypedHandleCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { tracing } from '@laneway/lanes';
import { auditScope, type AuditScope, type ClusterStore } from '../store';

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/** Calls that only read (and hand out nothing secret) write no record; every other unary call does. */
export function isAudited(method: string): boolean {
  if (method === 'GetJoinToken') return true;
  return !/^(Get|List|Describe|Check)/.test(method);
}

/** What a call touches, by its service. */
const KINDS: Record<string, string> = {
  ChannelService: 'channel',
  SecurityService: 'security',
  ConnectionService: 'connection',
  ScheduleService: 'schedule',
  DeployService: 'service',
  ClusterService: 'cluster',
  ConfigService: 'config',
  InvokeService: 'service',
  ServerService: 'server',
  MirrorService: 'mirror',
  SecretService: 'secret-key',
  UserService: 'user',
};

function field(request: unknown, name: string): string {
  const value = (request as Record<string, unknown> | null)?.[name];
  return typeof value === 'string' ? value.slice(0, 200) : '';
}

/** The trace id of the call's span when tracing is on (see trace-middleware.ts), else of an incoming traceparent, or ''. */
function traceIdOf(call: ServerUnaryCall<unknown, unknown>): string {
  const t = tracing();
  const active = t?.api.trace.getSpanContext(t.api.context.active());
  if (active && t!.api.isSpanContextValid(active)) return active.traceId;
  const header = call.metadata.get('traceparent')[0];
  const match = typeof header === 'string' ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(header.trim()) : null;
  return match ? match[1]! : '';
}

/**
 * The audit middleware: every audited unary call runs inside an audit scope, so each revision bump it
 * makes writes the call's record in the change's transaction (see store/audit-log.ts); a call that
 * committed nothing (drain, invoke, a refusal) gets its record here when it ends. Request bodies are
 * never recorded: the RPC, cluster, resource kind and name only.
 */
export function instrumentAudit(server: Server, store: ClusterStore, log: Logger): void {
  const addService = server.addService.bind(server);
  server.addService = (service: ServiceDefinition, implementation: UntypedServiceImplementation): void => {
    const wrapped: UntypedServiceImplementation = { ...implementation };
    for (const [key, method] of Object.entries(service)) {
      const handler = (implementation[key] ?? implementation[method.originalName as string]) as UntypedHandleCall | undefined;
      if (!handler || method.requestStream || method.responseStream) continue;
      const path = method.path.slice(1);
      const [serviceName = '', methodName = ''] = path.split('/');
      if (!isAudited(methodName)) continue;
      const shortService = serviceName.replace(/^laneway\.v1\./, '');
      if (!(shortService in KINDS)) continue;
      wrapped[key] = audited(path, KINDS[shortService]!, shortService, handler as UnaryHandler, store, log);
    }
    addService(service, wrapped);
  };
}

function audited(rpc: string, kind: string, service: string, handler: UnaryHandler, store: ClusterStore, log: Logger): UnaryHandler {
  return (call, callback) => {
    const request = call.request;
    const scope: AuditScope = {
      actor: 'unauthenticated',
      peer: call.getPeer(),
      rpc,
      cluster: field(request, 'cluster') || (service === 'ClusterService' ? field(request, 'name') : ''),
      kind: rpc.endsWith('/RetryJob') ? 'job' : kind,
      name: service === 'ClusterService' ? '' : field(request, 'name') || field(request, 'service') || field(request, 'server') || field(request, 'jobId') || field(request, 'username') || field(request, 'id'),
      traceId: traceIdOf(call),
      written: 0,
    };
    auditScope.run(scope, () =>
      handler(call, (err, ...rest) => {
        const answer = () => callback(err, ...rest);
        if (scope.written > 0 && !err) {
          answer();
          return;
        }
        const outcome = err ? (status[typeof err.code === 'number' ? err.code : status.UNKNOWN] ?? 'UNKNOWN') : 'OK';
        const message = err ? String(err.details ?? (err as { message?: string }).message ?? '') : '';
        // The record first, then the answer: a caller that reads the log right after sees its call.
        store.writeAudit(scope, outcome, message).then(answer, (e: unknown) => {
          log.error({ err: e, rpc }, 'could not write the audit record of a call');
          answer();
        });
      }),
    );
  };
}
