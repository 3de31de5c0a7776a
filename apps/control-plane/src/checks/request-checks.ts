import { validateUpload } from '../deploy/validate-upload';
import type { SourceFileInput } from '../deploy/compile-service-file';
import { controlCharacterAt, describeLength, InvalidArgumentError, shownValue } from '../errors';
import { checkLimit, type Limits } from '../limits';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The checks of request fields at the API edge, against the configured limits: names, sizes,
 * timeouts. Fields are named as in the .proto. Over a limit: LimitExceededError (RESOURCE_EXHAUSTED);
 * empty or malformed: InvalidArgumentError.
 */
export class RequestChecks {
  constructor(private readonly limits: Readonly<Limits>) {}

  /** A required name (cluster, service, server), version or job id; `hint` says what to give. */
  name(field: string, value: string, hint?: string): string {
    if (!value)
      throw new InvalidArgumentError(field, hint ? `${field} is empty: ${hint}` : `${field} is empty`);
    return this.optionalName(field, value);
  }

  /** Like name(), but empty is allowed (a filter that may be left out). */
  optionalName(field: string, value: string): string {
    checkLimit(
      this.limits,
      'maxNameLength',
      field,
      value.length,
      describeLength(field, value),
      'use a shorter one',
    );
    const at = controlCharacterAt(value);
    if (at >= 0) {
      const code = `U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}`;
      throw new InvalidArgumentError(
        field,
        `${field} ${shownValue(value)} contains the control character ${code} at offset ${at}: use printable characters only`,
      );
    }
    return value;
  }

  /** timeout_ms of Invoke, Deploy, Undeploy and Rollback (0 means the call's default). */
  timeoutMs(field: string, value: number): number {
    checkLimit(
      this.limits,
      'maxTimeoutMs',
      field,
      value,
      `${field} is ${value} ms`,
      'wait less (0 means the default)',
    );
    return value;
  }

  /** input_json of Invoke and InvokeAsync: size and nesting (its JSON is parsed by the invoke gateway). */
  inputJson(field: string, value: string): string {
    const bytes = Buffer.byteLength(value, 'utf8');
    checkLimit(
      this.limits,
      'maxInvokeInputBytes',
      field,
      bytes,
      `${field} is ${bytes} bytes`,
      'send a smaller input (pass large data by reference)',
    );
    const max = this.limits.maxInvokeInputDepth;
    // Text shorter than the limit cannot nest deeper than it: small inputs are not scanned.
    if (value.length > max) {
      const depth = nestingDepth(value, max);
      checkLimit(
        this.limits,
        'maxInvokeInputDepth',
        field,
        depth,
        `${field} nests arrays and objects more than ${max} levels deep`,
        'flatten the input',
      );
    }
    return value;
  }

  /** `limit` of a list call (0 means its default). */
  listLimit(field: string, value: number): number {
    checkLimit(
      this.limits,
      'maxListLimit',
      field,
      value,
      `${field} asks for ${value} items`,
      'ask for fewer',
    );
    return value;
  }

  /** laneway.yaml of an ApplyConfig: at most a file's size (LANEWAY_MAX_FILE_BYTES). */
  configText(field: string, text: string): string {
    checkLimit(this.limits, 'maxFileBytes', field, Buffer.byteLength(text), `${field} has ${Buffer.byteLength(text)} bytes`, 'split the configuration, or raise the limit');
    return text;
  }

  /** The files of a Deploy: count, sizes and paths (see validateUpload). */
  files(files: readonly SourceFileInput[]): readonly SourceFileInput[] {
    validateUpload(files, this.limits);
    return files;
  }
}

/**
 * How deep arrays and objects nest in JSON text (brackets inside strings do not count), read up to
 * one level past `stopAbove`. Not a parser: text that is not JSON gets some number, and JSON.parse
 * rejects it later.
 */
function nestingDepth(text: string, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return deepest;
}
