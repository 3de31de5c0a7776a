/**
 * The message of an input that a service's `input` schema rejected, naming the first failing field
 * when the error is zod-like (`issues[].path`): `service 'x' rejected its input: field 'a.b': ...`.
 * The same text travels from every lane (event loop, CPU thread, another server's reply), and
 * {@link rejectedField} reads the field back out of it for the HTTP front door.
 */
export function inputRejection(service: string, err: unknown): string {
  const issue = firstIssue(err);
  if (issue) {
    const field = issue.path.map(String).join('.');
    const more = issue.count > 1 ? ` (and ${issue.count - 1} more)` : '';
    return `service '${service}' rejected its input: field '${field}': ${issue.message}${more}`;
  }
  return `service '${service}' rejected its input: ${errorText(err)}`;
}

const FIELD = /^service '[^']*' rejected its input: field '([^']*)': /;

/** The field named by a message of {@link inputRejection}, if it names one. */
export function rejectedField(message: string): string | undefined {
  return FIELD.exec(message)?.[1];
}

function firstIssue(err: unknown): { path: readonly unknown[]; message: string; count: number } | undefined {
  const issues = (err as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues) || !issues.length) return undefined;
  const first = issues[0] as { path?: unknown; message?: unknown };
  if (!Array.isArray(first?.path) || !first.path.length) return undefined;
  return { path: first.path, message: String(first.message ?? 'invalid'), count: issues.length };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
