import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'date-fns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, startCluster, type TestCluster } from '@laneway/testkit';

// A directory deployed as a unit: services that import a helper file (relative imports, with and
// without an extension, an index file) and an npm package (date-fns, bundled by the CLI from the
// project's node_modules), on the network lane and the CPU lane, on two servers.
const money = (factor: number): string => `
export const FACTOR = ${factor};
export function cents(amount: number): number {
  return Math.round(amount * FACTOR);
}
`;

const files: Record<string, string> = {
  'lib/index.ts': `export { cents, FACTOR } from './money';\nexport const PREFIX = 'imports';\n`,
  'orders.ts': `import { defineService } from '@laneway/sdk';
import { format } from 'date-fns';
import { cents } from './lib/money';
import { PREFIX } from './lib';
export default defineService({
  name: PREFIX + '.order',
  lane: 'network',
  handle(input: { amount: number; at: number }, ctx) {
    return { server: ctx.server, cents: cents(input.amount), day: format(new Date(input.at), 'yyyy-MM-dd') };
  },
});
`,
  'reports/crunch.ts': `import { defineService } from '@laneway/sdk';
import { format } from 'date-fns';
import { cents } from '../lib/money.js';
export default defineService({
  name: 'imports.crunch',
  lane: 'cpu',
  handle(input: { amount: number; at: number }, ctx) {
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += cents(input.amount);
    return { server: ctx.server, cents: sum / 1000, day: format(new Date(input.at), 'yyyy-MM-dd') };
  },
});
`,
};

interface Answer {
  server: string;
  cents: number;
  day: string;
}

describe('a directory of services with relative imports and an npm package', () => {
  let c: TestCluster;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    c = await startCluster({ servers: 2, name: 'lwimp' });
    dir = mkdtempSync(path.join(ROOT, 'tmp-imports-e2e-'));
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), content);
    }
    env = { LANEWAY_CONTROL_PLANE: c.cp.address, LANEWAY_TOKEN: c.cp.adminToken, LANEWAY_CLUSTER: c.cluster };
  }, 60_000);

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await c?.stop();
  });

  /** Invokes `service` until both servers answered, and returns one answer per server. */
  async function answersOfEveryServer(
    service: string,
    input: unknown,
    expected: (a: Answer) => boolean,
  ): Promise<Map<string, Answer>> {
    const seen = new Map<string, Answer>();
    const deadline = Date.now() + 20_000;
    while (seen.size < 2 && Date.now() < deadline) {
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => c.api.invoke(c.cluster, service, input)),
      );
      for (const response of responses) {
        const answer = JSON.parse(response.outputJson) as Answer;
        expect(answer.server).toBe(response.server);
        if (expected(answer)) seen.set(response.server, answer);
      }
    }
    return seen;
  }

  async function deploy(): Promise<void> {
    const deployed = await runCli(['deploy', path.relative(ROOT, dir)], env);
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
  }

  it('deploys the directory (helper-only files included) and every server answers through both lanes', async () => {
    writeFileSync(path.join(dir, 'lib/money.ts'), money(100));
    await deploy();
    const listed = await c.api.listServices(c.cluster);
    expect(listed.services.map((s) => s.name).sort()).toEqual(['imports.crunch', 'imports.order']);
    const at = Date.UTC(2026, 11, 2, 12);
    const day = format(new Date(at), 'yyyy-MM-dd');
    for (const service of ['imports.order', 'imports.crunch']) {
      const answers = await answersOfEveryServer(service, { amount: 12.345, at }, () => true);
      expect([...answers.keys()].sort()).toEqual(['s1', 's2']);
      for (const answer of answers.values()) expect(answer).toMatchObject({ cents: 1235, day });
    }
  }, 60_000);

  it('reaches the dependents on every server when only the helper changes', async () => {
    writeFileSync(path.join(dir, 'lib/money.ts'), money(1000));
    await deploy();
    for (const service of ['imports.order', 'imports.crunch']) {
      const answers = await answersOfEveryServer(
        service,
        { amount: 12.345, at: 0 },
        (a) => a.cents === 12345,
      );
      expect([...answers.keys()].sort()).toEqual(['s1', 's2']);
    }
  }, 60_000);

  it('rejects an import of a file that is not deployed, naming the file and the specifier', async () => {
    const deployed = await runCli(['deploy', path.relative(ROOT, path.join(dir, 'orders.ts'))], env);
    expect(deployed.code).not.toBe(0);
    expect(deployed.stderr).toMatch(
      /orders\.ts: imports '\.\/lib\/money', which is not among the deployed files/,
    );
  }, 30_000);
});
