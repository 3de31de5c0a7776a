import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config';
import { isLoopbackAddress, isWildcardAddress, listenHost } from './listen-address';

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:50051', '127.0.0.1', true],
    ['127.8.9.10:0', '127.8.9.10', true],
    ['localhost:50051', 'localhost', true],
    ['[::1]:50051', '::1', true],
    ['dns:localhost:1', 'localhost', true],
    ['unix:/tmp/laneway.sock', undefined, true],
    ['0.0.0.0:50051', '0.0.0.0', false],
    ['[::]:50051', '::', false],
    [':50051', '', false],
    ['10.0.0.5:50051', '10.0.0.5', false],
    ['cp.example.com:443', 'cp.example.com', false],
  ])('%s: host %j, loopback %s', (address, host, loopback) => {
    expect(listenHost(address)).toBe(host);
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  it('knows the wildcard addresses', () => {
    expect(isWildcardAddress('0.0.0.0:1')).toBe(true);
    expect(isWildcardAddress('[::]:1')).toBe(true);
    expect(isWildcardAddress(':1')).toBe(true);
    expect(isWildcardAddress('10.0.0.5:1')).toBe(false);
  });
});

describe('TLS settings from the environment', () => {
  it('is plaintext on a loopback address without TLS variables (the default)', () => {
    expect(loadConfig({}).tls).toEqual({ mode: 'plaintext', insecure: false });
    expect(loadConfig({ LANEWAY_GRPC_ADDR: '127.0.0.1:0', LANEWAY_TLS: 'off' }).tls).toEqual({
      mode: 'plaintext',
      insecure: false,
    });
  });

  it('generates on LANEWAY_TLS=on, and on a non-loopback address without TLS variables', () => {
    expect(loadConfig({ LANEWAY_TLS: 'on', LANEWAY_TLS_SANS: 'cp.internal, 10.0.0.9' }).tls).toEqual({
      mode: 'generated',
      extraNames: ['cp.internal', '10.0.0.9'],
    });
    expect(loadConfig({ LANEWAY_GRPC_ADDR: '0.0.0.0:50051' }).tls).toEqual({
      mode: 'generated',
      extraNames: [],
    });
  });

  it('uses the given certificate and key, resolved to absolute paths', () => {
    expect(
      loadConfig({ LANEWAY_TLS_CERT: 'c.pem', LANEWAY_TLS_KEY: 'k.pem', LANEWAY_GRPC_ADDR: '0.0.0.0:1' }).tls,
    ).toEqual({
      mode: 'files',
      certFile: path.resolve('c.pem'),
      keyFile: path.resolve('k.pem'),
    });
  });

  it('refuses plaintext on a non-loopback address, naming the variables, unless LANEWAY_INSECURE=true', () => {
    expect(() => loadConfig({ LANEWAY_GRPC_ADDR: '0.0.0.0:50051', LANEWAY_TLS: 'off' })).toThrow(
      /invalid control-plane configuration: LANEWAY_GRPC_ADDR=0\.0\.0\.0:50051 is not a loopback address and LANEWAY_TLS=off.*LANEWAY_TLS_CERT and LANEWAY_TLS_KEY.*LANEWAY_INSECURE=true/,
    );
    expect(
      loadConfig({ LANEWAY_GRPC_ADDR: '0.0.0.0:50051', LANEWAY_TLS: 'off', LANEWAY_INSECURE: 'true' }).tls,
    ).toEqual({
      mode: 'plaintext',
      insecure: true,
    });
    expect(loadConfig({ LANEWAY_GRPC_ADDR: '10.0.0.5:50051', LANEWAY_INSECURE: 'true' }).tls).toEqual({
      mode: 'plaintext',
      insecure: true,
    });
  });

  it('refuses half a key pair, a contradiction and bad values', () => {
    expect(() => loadConfig({ LANEWAY_TLS_CERT: 'c.pem' })).toThrow(
      'LANEWAY_TLS_CERT and LANEWAY_TLS_KEY go together: LANEWAY_TLS_KEY is missing',
    );
    expect(() =>
      loadConfig({ LANEWAY_TLS_CERT: 'c.pem', LANEWAY_TLS_KEY: 'k.pem', LANEWAY_TLS: 'off' }),
    ).toThrow('LANEWAY_TLS=off contradicts');
    expect(() => loadConfig({ LANEWAY_TLS: 'yes' })).toThrow('LANEWAY_TLS="yes"');
    expect(() => loadConfig({ LANEWAY_INSECURE: '1' })).toThrow('LANEWAY_INSECURE="1"');
  });
});
