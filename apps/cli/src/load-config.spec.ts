import { describe, expect, it } from 'vitest';
import { applyOverrides, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('defaults to the local control plane and the default cluster, without a token', () => {
    expect(loadConfig({})).toEqual({ controlPlane: '127.0.0.1:50051', cluster: 'default', token: undefined });
  });

  it('reads LANEWAY_CONTROL_PLANE, LANEWAY_CLUSTER and LANEWAY_TOKEN; empty counts as unset', () => {
    expect(
      loadConfig({
        LANEWAY_CONTROL_PLANE: 'cp.internal:9000',
        LANEWAY_CLUSTER: 'prod',
        LANEWAY_TOKEN: 't0k',
      }),
    ).toEqual({ controlPlane: 'cp.internal:9000', cluster: 'prod', token: 't0k' });
    expect(loadConfig({ LANEWAY_CONTROL_PLANE: '', LANEWAY_CLUSTER: ' ', LANEWAY_TOKEN: '' })).toEqual(
      loadConfig({}),
    );
  });

  it('is frozen, and flags override it into a new frozen config', () => {
    const config = loadConfig({ LANEWAY_CLUSTER: 'prod', LANEWAY_TOKEN: 't0k' });
    expect(Object.isFrozen(config)).toBe(true);
    const overridden = applyOverrides(config, { cluster: 'staging', controlPlane: undefined });
    expect(overridden).toEqual({ controlPlane: '127.0.0.1:50051', cluster: 'staging', token: 't0k' });
    expect(Object.isFrozen(overridden)).toBe(true);
    expect(config.cluster).toBe('prod');
  });
});
