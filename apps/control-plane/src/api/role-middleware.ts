import type { Server, ServiceDefinition, ServerUnaryCall, sendUnaryData, UntypedHandleCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator';
import { RPC_ROLES } from '../auth/rpc-roles';
import { toGrpcError } from './grpc-errors';

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * The role middleware: every laneway.v1 unary call whose rule in auth/rpc-roles.ts is a role is
 * authorized here, from that one table, before its handler runs (a refusal is PERMISSION_DENIED, a
 * missing or bad token UNAUTHENTICATED). Calls ruled `server`, `mirror` or `anyone` (Sync, Pull,
 * HandOver, StepDown, Login) keep their own checks. A laneway.v1 method missing from the table stops
 * the control plane at start: nothing is served unruled. Install after the audit middleware, so a
 * refused call is audited with its caller.
 */
export function instrumentRoles(server: Server, auth: Authenticator, log: Logger): void {
  const addService = server.addService.bind(server);
  server.addService = (service: ServiceDefinition, implementation: UntypedServiceImplementation): void => {
    const wrapped: UntypedServiceImplementation = { ...implementation };
    for (const [key, method] of Object.entries(service)) {
      if (!method.path.startsWith('/laneway.v1.')) continue;
      const rule = RPC_ROLES[method.path];
      if (rule === undefined) throw new Error(`${method.path} has no entry in the role table (auth/rpc-roles.ts): add one`);
      if (rule === 'server' || rule === 'mirror' || rule === 'anyone') continue;
      if (method.requestStream || method.responseStream) throw new Error(`${method.path} is a stream: the role middleware authorizes unary calls only`);
      const handler = (implementation[key] ?? implementation[method.originalName as string]) as UntypedHandleCall | undefined;
      if (!handler) continue;
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      const inner = handler as UnaryHandler;
      wrapped[key] = ((call, callback) => {
        auth.authorize(call.metadata, rule, name).then(
          () => inner(call, callback),
          (err: unknown) => callback(toGrpcError(err, log, name)),
        );
      }) satisfies UnaryHandler;
    }
    addService(service, wrapped);
  };
}
