/**
 * What `laneway lb haproxy --watch` compares: two configuration texts, pure. Comments do not count
 * (the header names the cluster's revision, which every deploy moves), so only a change HAProxy
 * would act on rewrites the file and reloads it.
 */

/** The lines HAProxy reads: comments, blank lines and indentation removed. */
export function configDirectives(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/** True when both texts configure HAProxy the same way (comments aside). */
export function sameConfig(a: string, b: string): boolean {
  const left = configDirectives(a);
  const right = configDirectives(b);
  return left.length === right.length && left.every((line, i) => line === right[i]);
}

interface ServerLine {
  readonly address: string;
  readonly disabled: boolean;
}

/** `server NAME ADDRESS [disabled]` lines by name. */
function serverLines(text: string): Map<string, ServerLine> {
  const servers = new Map<string, ServerLine>();
  for (const line of configDirectives(text)) {
    const match = /^server (\S+) (\S+)(.*)$/.exec(line);
    if (match) servers.set(match[1]!, { address: match[2]!, disabled: /\bdisabled\b/.test(match[3]!) });
  }
  return servers;
}

function directive(text: string, prefix: string): string | undefined {
  return configDirectives(text).find((line) => line.startsWith(prefix));
}

/**
 * One line per change from `before` (the file as it is; '' when there is none) to `after`:
 * `+ s3 127.0.0.1:8082`, `- s2`, `~ s1 drained`, `~ s1 resumed`, `~ s1 127.0.0.1:9000` (a new
 * address), `~ timeout server 35s -> 65s`; `~ settings` when only something else differs (--bind,
 * --state-file, --stats-socket, or a file written by hand or by another version).
 */
export function configChanges(before: string, after: string): string[] {
  const old = serverLines(before);
  const now = serverLines(after);
  const changes: string[] = [];
  for (const [name, server] of now) {
    const was = old.get(name);
    if (!was) {
      changes.push(`+ ${name} ${server.address}${server.disabled ? ' drained' : ''}`);
      continue;
    }
    if (was.address !== server.address) changes.push(`~ ${name} ${server.address}`);
    if (was.disabled !== server.disabled)
      changes.push(`~ ${name} ${server.disabled ? 'drained' : 'resumed'}`);
  }
  for (const name of old.keys()) if (!now.has(name)) changes.push(`- ${name}`);
  const timeoutBefore = directive(before, 'timeout server ');
  const timeoutAfter = directive(after, 'timeout server ');
  if (timeoutBefore !== undefined && timeoutAfter !== undefined && timeoutBefore !== timeoutAfter) {
    changes.push(`~ ${timeoutBefore} -> ${timeoutAfter.slice('timeout server '.length)}`);
  }
  if (changes.length === 0 && !sameConfig(before, after))
    changes.push(before.trim() === '' ? '+ file' : '~ settings');
  return changes;
}
