/**
 * How `laneway dev` shows its parts' log lines on the terminal: the parts write pino JSON lines (kept
 * whole in their log files); the terminal gets one short line each, `control-plane | 18:02:11 info
 * control plane listening  port=50051 …`, without the fields every line repeats.
 */

/** pino's numeric levels by name, as the terminal shows them. */
const LEVELS: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Fields every line carries, or that the prefix already says. */
const SKIPPED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

const NO_FIELDS: ReadonlySet<string> = new Set();

/** A field's value is cut here: the whole line is in the part's log file. */
const MAX_VALUE_CHARS = 160;

/** `control-plane |`, padded so that the parts' lines line up. */
export function partLabel(part: string, width: number): string {
  return `${part.padEnd(width)} |`;
}

/**
 * One line a part printed, as the terminal shows it: a pino JSON line summarised (local time, level,
 * message, the other fields but `omit` as key=value), anything else as it came.
 */
export function formatPartLine(
  part: string,
  width: number,
  line: string,
  omit: ReadonlySet<string> = NO_FIELDS,
): string {
  const label = partLabel(part, width);
  const entry = parseLogLine(line);
  if (entry === undefined) return `${label} ${line}`;
  const time =
    typeof entry['time'] === 'number' ? `${new Date(entry['time']).toTimeString().slice(0, 8)} ` : '';
  const level =
    typeof entry['level'] === 'number' ? (LEVELS[entry['level']] ?? String(entry['level'])) : 'info';
  const fields = Object.entries(entry)
    .filter(([key, value]) => !SKIPPED.has(key) && !omit.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldValue(value)}`);
  return `${label} ${time}${level.padEnd(5)} ${String(entry['msg'])}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** A pino line (an object with a string `msg`), else undefined. */
export function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const entry = parsed as Record<string, unknown>;
    return typeof entry['msg'] === 'string' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a pino line is at error level or above (50 error, 60 fatal). */
export function isErrorLine(entry: Record<string, unknown>): boolean {
  return typeof entry['level'] === 'number' && entry['level'] >= 50;
}

function fieldValue(value: unknown): string {
  // An error as pino serialises it: its message is what the terminal needs; the stack is in the file.
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
  ) {
    return quoted((value as { message: string }).message);
  }
  if (typeof value === 'string') return quoted(value);
  return cut(JSON.stringify(value) ?? String(value));
}

function quoted(text: string): string {
  return /^[^\s"=]+$/.test(text) ? cut(text) : cut(JSON.stringify(text));
}

function cut(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}
