import type { Server, ServiceDefinition, ServerUnaryCall, sendUnaryData, UntypedHandleCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Tracing } from '@laneway/lanes';

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * With tracing on: every unary call runs inside a SERVER span (`laneway.v1.InvokeService/Invoke`),
 * child of the call's `traceparent` metadata when it has one, so what the handler does (an Invoke's
 * job, the audit record's trace id) belongs to the caller's trace. Streams (Sync, Pull) are not
 * traced: a span as long as a server's connection would say nothing. Install before the audit
 * middleware, so that the span is active when the audit scope starts.
 */
export function instrumentTracing(server: Server, t: Tracing): void {
  const addService = server.addService.bind(server);
  server.addService = (service: ServiceDefinition, implementation: UntypedServiceImplementation): void => {
    const wrapped: UntypedServiceImplementation = { ...implementation };
    for (const [key, method] of Object.entries(service)) {
      const handler = (implementation[key] ?? implementation[method.originalName as string]) as UntypedHandleCall | undefined;
      if (!handler || method.requestStream || method.responseStream) continue;
      wrapped[key] = traced(method.path.slice(1), handler as UnaryHandler, t);
    }
    addService(service, wrapped);
  };
}

function traced(path: string, handler: UnaryHandler, t: Tracing): UnaryHandler {
  const { api } = t;
  const [service = '', method = ''] = path.split('/');
  return (call, callback) => {
    const traceparent = call.metadata.get('traceparent')[0];
    const tracestate = call.metadata.get('tracestate')[0];
    const parent = typeof traceparent === 'string' ? t.extract(traceparent.trim(), typeof tracestate === 'string' ? tracestate : undefined) : api.ROOT_CONTEXT;
    const span = t.tracer.startSpan(path, { kind: api.SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } }, parent);
    const done: sendUnaryData<unknown> = (err, ...rest) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 2) : 0;
      span.setAttribute('rpc.grpc.status_code', code);
      if (err) span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(err.details ?? (err as { message?: string }).message ?? '') });
      span.end();
      callback(err, ...rest);
    };
    api.context.with(api.trace.setSpan(parent, span), () => handler(call, done));
  };
}
