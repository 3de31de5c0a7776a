import { isStandardSchema, type ServiceDefinition } from '@laneway/sdk';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schemas of a loaded service's input and output, where the schema is a Standard Schema that
 * can give one (Standard JSON Schema: zod 4 can). Network-lane services are converted on the main
 * thread; CPU-lane ones in the CPU thread that loads them, which sends the result to the pool.
 */
export function jsonSchemasOf(definition: ServiceDefinition | undefined): { input?: JsonSchema; output?: JsonSchema } {
  return { input: convert(definition?.input, 'input'), output: convert(definition?.output, 'output') };
}

function convert(schema: unknown, side: 'input' | 'output'): JsonSchema | undefined {
  if (!isStandardSchema(schema) || !schema['~standard'].jsonSchema) return undefined;
  try {
    const { $schema: _dialect, ...json } = schema['~standard'].jsonSchema[side]({ target: 'draft-2020-12' });
    return json;
  } catch {
    // A schema the library cannot express as JSON Schema (a transform, a custom check): left out.
    return undefined;
  }
}
