import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Namespace, Root, Service, type ReflectionObject } from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { roleAtLeast, ruleOfMethodName, RPC_ROLES } from './rpc-roles';

const PROTO_ROOT = join(__dirname, '../../../../proto');

/** Every RPC of proto/laneway/v1, as its full path, with whether it streams. */
function protoRpcs(): { path: string; stream: boolean }[] {
  const root = new Root();
  root.resolvePath = (_origin, file) => join(PROTO_ROOT, file);
  root.loadSync(
    readdirSync(join(PROTO_ROOT, 'laneway/v1')).map((file) => `laneway/v1/${file}`),
    { keepCase: true },
  );
  root.resolveAll();
  const found: { path: string; stream: boolean }[] = [];
  const walk = (object: ReflectionObject): void => {
    if (object instanceof Service) {
      for (const method of object.methodsArray) {
        found.push({ path: `/${object.fullName.slice(1)}/${method.name}`, stream: Boolean(method.requestStream || method.responseStream) });
      }
    }
    if (object instanceof Namespace) object.nestedArray.forEach(walk);
  };
  walk(root);
  return found;
}

describe('the role table', () => {
  const rpcs = protoRpcs();

  it('reads the protos (a walk that found nothing would pass everything below)', () => {
    expect(rpcs.length).toBeGreaterThan(60);
    expect(rpcs.map((r) => r.path)).toContain('/laneway.v1.UserService/Login');
  });

  it('has an entry for every RPC of the .proto files', () => {
    const missing = rpcs.map((r) => r.path).filter((path) => !(path in RPC_ROLES));
    expect(missing, 'RPCs without an entry in auth/rpc-roles.ts').toEqual([]);
  });

  it('names no RPC the .proto files do not have', () => {
    const known = new Set(rpcs.map((r) => r.path));
    expect(Object.keys(RPC_ROLES).filter((path) => !known.has(path))).toEqual([]);
  });

  it('rules every stream by its own credential (the middleware authorizes unary calls only)', () => {
    for (const { path } of rpcs.filter((r) => r.stream)) expect(['server', 'mirror'], path).toContain(RPC_ROLES[path]);
  });

  it('lets a viewer only read, and never read a secret', () => {
    const viewer = Object.entries(RPC_ROLES)
      .filter(([, rule]) => rule === 'viewer')
      .map(([path]) => path.slice(path.lastIndexOf('/') + 1));
    const ownAccount = ['SetPassword', 'CreateToken', 'ListTokens', 'RevokeToken'];
    for (const name of viewer.filter((n) => !ownAccount.includes(n))) expect(name).toMatch(/^(Get|List|Describe)/);
    for (const secret of ['GetJoinToken', 'CreateMirrorToken', 'Export']) expect(viewer).not.toContain(secret);
  });

  it("gives operators exactly the issue's operational calls", () => {
    const operator = Object.entries(RPC_ROLES)
      .filter(([, rule]) => rule === 'operator')
      .map(([path]) => path.slice(path.lastIndexOf('/') + 1))
      .sort();
    expect(operator).toEqual(
      ['DrainServer', 'Invoke', 'InvokeAsync', 'PauseSchedule', 'ResumeSchedule', 'ResumeServer', 'RetryJob', 'RunScheduleNow', 'TestConnection'].sort(),
    );
  });

  it('orders the roles and answers the strictest rule for a short name, admin for an unknown one', () => {
    expect(roleAtLeast('admin', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
    expect(roleAtLeast('operator', 'admin')).toBe(false);
    expect(ruleOfMethodName('ListServers')).toBe('viewer');
    expect(ruleOfMethodName('DrainServer')).toBe('operator');
    expect(ruleOfMethodName('Deploy')).toBe('admin');
    expect(ruleOfMethodName('NoSuchCall')).toBe('admin');
  });
});
