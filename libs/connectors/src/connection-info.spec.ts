import { describe, expect, it } from 'vitest';
import { ConnectionError } from './connection-error';
import { connectionFailure, describeConnection } from './connection-info';

describe('connectionFailure', () => {
  it('scrubs every secret of the spec, raw and URL-encoded, from the message, stack and cause', () => {
    const info = describeConnection('crm', 'postgres', {
      postgres: {
        host: 'db.internal',
        port: 0,
        database: 'crm',
        user: 'app',
        password: 'p@ss/w0rd',
        passwordSet: true,
        url: '',
        tlsMode: '',
        caPem: '',
        poolSize: 0,
        statementTimeoutMs: 0,
        connectTimeoutMs: 0,
      },
    });
    // Drivers sometimes echo the URL they were given.
    const driverError = new Error('could not connect to postgres://app:p%40ss%2Fw0rd@db.internal/crm (password p@ss/w0rd)');
    const err = connectionFailure(info, driverError);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toBe("connection 'crm' (postgres db.internal:5432/crm): could not connect to postgres://app:***@db.internal/crm (password ***)");
    expect(err.cause).toBe(driverError);
    expect(driverError.message).not.toContain('w0rd');
    expect(driverError.stack).not.toContain('w0rd');
  });

  it('scrubs the basic-auth header value and names targets without credentials', () => {
    const info = describeConnection('billing', 'rest', {
      rest: {
        baseUrl: 'https://user:inline@api.example.com/v1?k=secretq',
        headers: {},
        timeoutMs: 0,
        retries: 0,
        caPem: '',
        basic: { username: 'ada', password: 'lovelace', passwordSet: true },
      },
    });
    expect(info.target).toBe('https://api.example.com/v1');
    const header = Buffer.from('ada:lovelace').toString('base64');
    const err = connectionFailure(info, Object.assign(new Error(`sent Authorization: Basic ${header}`), { code: 'ECONNRESET' }));
    expect(err.message).toBe("connection 'billing' (rest https://api.example.com/v1): sent Authorization: Basic ***");
    expect(err.code).toBe('FAILED');
  });
});
