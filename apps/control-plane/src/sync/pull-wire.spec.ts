import { PullResponse } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import type { MirroredVersion } from '../store';
import { changeFromWire, changeToWire } from './pull-wire';

const version = (name: string, inputSchema?: string): MirroredVersion => ({
  name,
  version: `${name}-v1`,
  lane: 'network',
  path: `${name}.ts`,
  code: 'module.exports = 1;',
  source: '// source',
  sources: {},
  policy: { timeoutMs: 0, attempts: 0, concurrency: 0 },
  connections: [],
  createdAt: '2026-01-02T03:04:05.000Z',
  ...(inputSchema === undefined ? {} : { inputSchema }),
});

describe('the mirror link carries a version\'s input schema', () => {
  it('from the source\'s store to the follower\'s, through the encoded PullResponse', () => {
    const schema = JSON.stringify({ type: 'object', properties: { n: { type: 'integer' } } });
    const wire = changeToWire(
      { revision: 3, epoch: 1, full: true, services: [version('a', schema)], history: [version('b')], removed: [], resources: [], removedResources: [] },
      (r) => r,
      0,
    );
    const pulled = changeFromWire(PullResponse.decode(PullResponse.encode(wire).finish()));
    expect(pulled.services[0]!.inputSchema).toBe(schema);
    expect(pulled.history[0]!.inputSchema).toBe('');
  });
});
