/**
 * What `--json` prints: the response objects as the client decoded them (every field, defaults
 * included), with two things made readable. Enum values are their names without the enum's prefix
 * (`"lane": "NETWORK"`, `"outcome": "ACKED"`, `"state": "COMPLETED"`), not their wire numbers; and a
 * `…Json` field holding JSON text (`outputJson`, `inputJson`) is the JSON value itself, under the name
 * without `Json` (`"output": {"greeting": "Hello"}`; empty text is null).
 *
 * Which fields are enums is read from the generated message types themselves (ts-proto's toJSON names
 * an enum field's value), so a field added to the protos needs nothing here. A decoded message is
 * recognised by its exact set of fields.
 */
import * as proto from '@laneway/proto';

type EnumObject = Readonly<Record<string, string | number>>;

interface MessageType {
  fromPartial(object: object): Record<string, unknown>;
  toJSON(message: unknown): unknown;
}

interface EnumField {
  readonly enumObject: EnumObject;
  readonly repeated: boolean;
}

/** ts-proto's numeric enums: `{ LANE_UNSPECIFIED: 0, LANE_NETWORK: 1, …, UNRECOGNIZED: -1 }` with reverse keys. */
function isEnumObject(value: unknown): value is EnumObject {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record['UNRECOGNIZED'] === -1 && record[-1] === 'UNRECOGNIZED';
}

function isMessageType(value: unknown): value is MessageType {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['encode', 'decode', 'fromPartial', 'toJSON'].every((name) => typeof record[name] === 'function');
}

/** The enums of the wire contract by every value's full name (`LANE_NETWORK`), and each one's prefix. */
const ENUMS_BY_VALUE_NAME = new Map<string, EnumObject>();
const ENUM_PREFIX = new Map<EnumObject, string>();
/** The message types by their sorted field names. */
const TYPES_BY_FIELDS = new Map<string, MessageType[]>();

for (const exported of Object.values(proto) as unknown[]) {
  if (isEnumObject(exported)) {
    const zero = exported[0];
    // buf style: the zero value is <PREFIX>UNSPECIFIED, every value starts with <PREFIX>.
    const prefix = typeof zero === 'string' && zero.endsWith('_UNSPECIFIED') ? zero.slice(0, -'UNSPECIFIED'.length) : '';
    ENUM_PREFIX.set(exported, prefix);
    for (const key of Object.keys(exported)) if (!/^-?\d+$/.test(key)) ENUMS_BY_VALUE_NAME.set(key, exported);
  } else if (isMessageType(exported)) {
    const fields = fieldsKey(exported.fromPartial({}));
    TYPES_BY_FIELDS.set(fields, [...(TYPES_BY_FIELDS.get(fields) ?? []), exported]);
  }
}

function fieldsKey(object: object): string {
  return Object.keys(object).sort().join(',');
}

const enumFieldCache = new Map<MessageType, ReadonlyMap<string, EnumField>>();

/**
 * The enum fields of a message type: each numeric (or repeated numeric) field is given the value 1,
 * and toJSON answers a name for exactly the enum fields.
 */
function enumFieldsOf(type: MessageType): ReadonlyMap<string, EnumField> {
  const known = enumFieldCache.get(type);
  if (known) return known;
  const base = type.fromPartial({});
  const fields = new Map<string, EnumField>();
  for (const [key, value] of Object.entries(base)) {
    const repeated = Array.isArray(value) && value.length === 0;
    if (typeof value !== 'number' && !repeated) continue;
    let named: unknown;
    try {
      const json = type.toJSON({ ...base, [key]: repeated ? [1] : 1 }) as Record<string, unknown>;
      named = repeated ? (json[key] as unknown[] | undefined)?.[0] : json[key];
    } catch {
      continue; // a repeated message field given a number
    }
    const enumObject = typeof named === 'string' ? ENUMS_BY_VALUE_NAME.get(named) : undefined;
    if (enumObject) fields.set(key, { enumObject, repeated });
  }
  enumFieldCache.set(type, fields);
  return fields;
}

/** The enum fields of a decoded message, when its fields are those of a known type (all of them agree). */
function enumFieldsFor(object: Record<string, unknown>): ReadonlyMap<string, EnumField> | undefined {
  const types = TYPES_BY_FIELDS.get(fieldsKey(object));
  if (!types) return undefined;
  const [first, ...others] = types.map(enumFieldsOf);
  if (!first) return undefined;
  return new Map(
    [...first].filter(([key, field]) => others.every((fields) => fields.get(key)?.enumObject === field.enumObject)),
  );
}

/** `NETWORK` for Lane 1; a value the CLI does not know stays its number. */
function enumName(enumObject: EnumObject, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  const name = enumObject[value];
  if (typeof name !== 'string') return value;
  const prefix = ENUM_PREFIX.get(enumObject) ?? '';
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** JSON text as its value: '' is null; text that is not JSON is kept as it is. */
function parsedJson(text: string): { readonly value: unknown } | undefined {
  if (text.trim() === '') return { value: null };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** `value` as `--json` prints it (see the module comment); the input is not changed. */
export function toOutputJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toOutputJson);
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  const object = value as Record<string, unknown>;
  const enums = enumFieldsFor(object);
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(object)) {
    const asEnum = enums?.get(key);
    if (asEnum) {
      out[key] = asEnum.repeated && Array.isArray(field) ? field.map((v) => enumName(asEnum.enumObject, v)) : enumName(asEnum.enumObject, field);
      continue;
    }
    const bare = key.endsWith('Json') ? key.slice(0, -'Json'.length) : '';
    const parsed = bare && typeof field === 'string' && !(bare in object) ? parsedJson(field) : undefined;
    if (parsed) out[bare] = parsed.value;
    else out[key] = toOutputJson(field);
  }
  return out;
}
