import { Metadata, type status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'vitest';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/**
 * Promise helpers over generated grpc-js clients for the control plane's integration tests: calls
 * carry `Bearer <token()>` (read at each call: the token exists once the control plane started).
 */
export function grpcCalls(token: () => string): {
  md(): Metadata;
  rpc<Res>(fn: (m: Metadata, cb: Callback<Res>) => unknown): Promise<Res>;
  /** Expects `call` to fail with `code`; answers its details. */
  failure(call: Promise<unknown>, code: status): Promise<string>;
} {
  const md = (): Metadata => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${token()}`);
    return m;
  };
  return {
    md,
    rpc: <Res>(fn: (m: Metadata, cb: Callback<Res>) => unknown): Promise<Res> =>
      new Promise((resolve, reject) => fn(md(), (err, res) => (err ? reject(err) : resolve(res)))),
    failure: async (call, code) => {
      const err = await call.then(
        () => undefined,
        (e: ServiceError) => e,
      );
      expect(err, 'expected the call to fail').toBeDefined();
      expect(err!.code, err!.details).toBe(code);
      return err!.details;
    },
  };
}
