import { describe, expect, it } from 'vitest';
import { envReferences, secretValuesFor } from './secret-references';

const YAML = `connections:
  billing:
    postgres:
      url: postgres://app@db/billing
      password: \${env:BILLING_PG_PASSWORD}
  crm:
    rest:
      bearer: "\${env:CRM_TOKEN}"
      header: x-\${env:_TENANT2}
security:
  partner:
    apiKey: { key: \${env:BILLING_PG_PASSWORD} }
notes: \${env:1BAD} \${env:} \${ENV:UPPER} \${env:has-dash} $env:PLAIN \${enc:abc}
`;

describe('envReferences', () => {
  it('finds each ${env:NAME} once, sorted, and nothing that is not one', () => {
    expect(envReferences(YAML)).toEqual(['BILLING_PG_PASSWORD', 'CRM_TOKEN', '_TENANT2']);
    expect(envReferences('no references')).toEqual([]);
  });
});

describe('secretValuesFor', () => {
  it('takes the referenced variables the environment sets (empty ones too) and skips the missing ones', () => {
    const env = { BILLING_PG_PASSWORD: 's3cret', _TENANT2: '', UNRELATED: 'x', PATH: '/bin' };
    expect(secretValuesFor(YAML, env)).toEqual({ BILLING_PG_PASSWORD: 's3cret', _TENANT2: '' });
    expect(secretValuesFor(YAML, {})).toEqual({});
  });
});
