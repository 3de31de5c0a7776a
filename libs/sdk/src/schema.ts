/**
 * The Standard Schema interface (https://standardschema.dev), which zod 4, valibot, arktype and
 * others implement: a service's `input` and `output` may be any such schema.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(value: unknown): StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    /** Standard JSON Schema (zod 4 has it): what the servers' /openapi.json shows. */
    readonly jsonSchema?: {
      input(options: { target: string }): Record<string, unknown>;
      output(options: { target: string }): Record<string, unknown>;
    };
  };
}

/** What a Standard Schema's `validate` answers. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> }> };

/** A schema for a service's input or output: a Standard Schema, or any object with `parse(value)`. */
export type ServiceSchema<T = unknown> = StandardSchemaV1<unknown, T> | { parse(value: unknown): T };

/** One problem a schema found, with the path of the field (empty for the value itself). */
export interface SchemaIssue {
  message: string;
  path: (string | number)[];
}

/** Thrown by {@link validateWithSchema} when the value does not fit; `issues` name the fields. */
export class SchemaIssuesError extends Error {
  constructor(readonly issues: SchemaIssue[]) {
    super(issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '));
    this.name = 'SchemaIssuesError';
  }
}

/** True for a Standard Schema (as opposed to an object with only `parse`). */
export function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  const standard = (schema as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  return typeof standard?.validate === 'function';
}

/**
 * Validates `value` with `schema` and returns the converted value: synchronously when the schema
 * answers synchronously (most do), else a promise. Throws {@link SchemaIssuesError} (or whatever a
 * `parse` throws) when it does not fit.
 *
 * @example
 * const input = await validateWithSchema(z.object({ id: z.string() }), raw);
 */
export function validateWithSchema<T>(schema: ServiceSchema<T>, value: unknown): T | Promise<T> {
  if (!isStandardSchema(schema)) return (schema as { parse(v: unknown): T }).parse(value);
  const result = (schema as StandardSchemaV1<unknown, T>)['~standard'].validate(value);
  return isPromise(result) ? result.then(settle) : settle(result);
}

function settle<T>(result: StandardResult<T>): T {
  if (result.issues) {
    throw new SchemaIssuesError(
      result.issues.map((issue) => ({
        message: issue.message,
        path: (issue.path ?? []).map((p) => {
          const key = typeof p === 'object' && p !== null && 'key' in p ? p.key : p;
          return typeof key === 'number' ? key : String(key);
        }),
      })),
    );
  }
  return result.value;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
