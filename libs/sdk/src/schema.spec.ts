import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SchemaIssuesError, isStandardSchema, validateWithSchema, type StandardSchemaV1 } from './schema';

describe('validateWithSchema', () => {
  it('uses a Standard Schema synchronously and names the failing field', () => {
    const schema = z.object({ order: z.object({ quantity: z.number().min(1) }) });
    expect(isStandardSchema(schema)).toBe(true);
    expect(validateWithSchema(schema, { order: { quantity: 2 } })).toEqual({ order: { quantity: 2 } });
    let thrown: unknown;
    try {
      const never = validateWithSchema(schema, { order: { quantity: 0 } });
      expect(never).toBeUndefined();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SchemaIssuesError);
    expect((thrown as SchemaIssuesError).issues).toEqual([{ path: ['order', 'quantity'], message: expect.stringContaining('>=1') }]);
  });

  it('awaits a schema that validates asynchronously, with path segments given as { key }', async () => {
    const schema: StandardSchemaV1<unknown, string> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => (typeof value === 'string' ? { value } : { issues: [{ message: 'not a string', path: [{ key: 'name' }, 0] }] }),
      },
    };
    await expect(validateWithSchema(schema, 'ok')).resolves.toBe('ok');
    await expect(validateWithSchema(schema, 1)).rejects.toMatchObject({ issues: [{ path: ['name', 0], message: 'not a string' }] });
  });

  it('falls back to parse(value) for schemas that only have it', () => {
    const parseOnly = { parse: (v: unknown) => Number(v) };
    expect(isStandardSchema(parseOnly)).toBe(false);
    expect(validateWithSchema(parseOnly, '42')).toBe(42);
  });
});
