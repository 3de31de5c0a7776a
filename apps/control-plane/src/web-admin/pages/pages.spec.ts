import { ApplyOutcome } from '@laneway/proto';
import { describe, expect, it } from 'vitest';
import { sinceOf } from './audit';
import { checkPath } from './channels';
import { applied, withCluster } from './cluster-select';

describe('web admin page helpers', () => {
  it("try it accepts only the channel's own route, parameters filled in", () => {
    expect(() => checkPath('/orders/:id', '/orders/42')).not.toThrow();
    expect(() => checkPath('/orders/:id', '/orders/42?verbose=1')).not.toThrow();
    expect(() => checkPath('/hello', '/hello')).not.toThrow();
    expect(() => checkPath('/orders/:id', '/orders/')).toThrow("path '/orders/' does not match the channel's path /orders/:id");
    expect(() => checkPath('/orders/:id', '/orders/42/items')).toThrow(/does not match/);
    expect(() => checkPath('/hello', '/admin')).toThrow(/does not match/);
    expect(() => checkPath('/hello', 'hello')).toThrow(/does not match/);
  });

  it('audit since: a datetime-local value is UTC; anything else that is not a time is named', () => {
    expect(sinceOf('')).toBe('');
    expect(sinceOf('2026-12-06T18:05')).toBe('2026-12-06T18:05:00.000Z');
    expect(sinceOf('2026-12-06T18:05:30+01:00')).toBe('2026-12-06T17:05:30.000Z');
    expect(() => sinceOf('yesterday')).toThrow("since 'yesterday' is not a time: use YYYY-MM-DDTHH:MM (UTC).");
  });

  it("says how a change was applied, naming the servers that did not", () => {
    const ok = { server: 's1', outcome: ApplyOutcome.APPLY_OUTCOME_ACKED, appliedRevision: 3, errors: [], httpAddress: '' };
    expect(applied(3, [ok])).toBe('revision 3, applied by 1 of 1 servers');
    expect(
      applied(4, [ok, { ...ok, server: 's2', outcome: ApplyOutcome.APPLY_OUTCOME_NACKED, errors: [{ service: 'a', message: 'bad', kind: '' }] }, { ...ok, server: 's3', outcome: ApplyOutcome.APPLY_OUTCOME_TIMED_OUT }]),
    ).toBe('revision 4, applied by 1 of 3 servers; s2: rejected (bad), s3: timed out');
    expect(withCluster('/channels/a b', 'c&d')).toBe('/channels/a b?cluster=c%26d');
    expect(withCluster('/channels', undefined)).toBe('/channels');
  });
});
