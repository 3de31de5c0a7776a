import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStore } from '../store';
import { openTempStore, type TempStore } from '../testing/temp-store';
import { FollowerLink } from './follower-link';

// A link stopped while it reads its state (a promote stopping the link just as a retry fires) once
// opened its stream on the closed client anyway: grpc-js threw 'Channel has been shut down' from a
// promise nobody awaited, and the follower's control plane exited (found by the site-loss drill).
describe('FollowerLink over a real store', () => {
  let temp: TempStore;
  let store: ClusterStore;

  beforeAll(async () => {
    temp = await openTempStore('follower-link');
    store = temp.store;
    // Nothing listens at the source's address: the link only ever reads its state and dials.
    await store.startFollowing('follower', { sourceAddress: '127.0.0.1:9', sourceCluster: 'source', sealedToken: '', caPem: '' }, false);
  });

  afterAll(async () => {
    await temp?.close();
  });

  const link = (): FollowerLink =>
    new FollowerLink({
      cluster: 'follower',
      sourceCluster: 'source',
      target: { address: '127.0.0.1:9', token: 't', caPem: '' },
      followerId: 'f1',
      store,
      apply: () => Promise.reject(new Error('nothing is pulled in this test')),
      applied: () => undefined,
      logger: pino({ level: 'silent' }),
    });

  it('stopped while reading its state: opens no stream, throws nothing, and its start is refused as stopped', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const followerLink = link();
      // start() reads the state first (an await); stop() comes before that read is back.
      const first = followerLink.start();
      followerLink.stop();
      await expect(first).rejects.toThrow('the link was stopped');
      // Long enough for the state read to come back and for anything it set off to settle.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
      expect(followerLink.lastError).toBe('');
      expect(followerLink.connected).toBe(false);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('not stopped: the same start dials the source and reports it unreachable, then stop() ends the retries', async () => {
    const followerLink = link();
    const first = followerLink.start();
    await expect(first).rejects.toThrow(/unreachable|ECONNREFUSED|No connection established/);
    expect(followerLink.connected).toBe(false);
    expect(followerLink.lastError).toMatch(/127\.0\.0\.1:9/);
    followerLink.stop();
  });
});
