/**
 * Where an export writes each stored file. Deploys now send paths relative to their own directory
 * (validateUpload refuses `..` and absolute paths), but older ones stored some that climb out of it
 * (`../x/a.ts`, from `laneway deploy /tmp/x/a.ts` run elsewhere) or are absolute: an export could not
 * write those inside its directory. They are written under a safe name instead: `..` segments become
 * `__up__`, a leading `/` becomes `__root__`, empty and `.` segments go and `\` separates. The rest of
 * each path is kept, so files deployed together (siblings, helpers below them) still import each
 * other; apply then stores the safe name, and a round trip (export, apply, export) is exact.
 */

// A segment that is empty, `.` or `..`: between two slashes or at either end of the path.
const EMPTY_OR_DOT_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Whether `path` cannot be written inside an export directory as it is (the rules the CLI's
 * export-directory.ts checks before it writes).
 */
function unsafe(path: string): boolean {
  if (path === '' || path.includes('\\') || path.startsWith('/') || /^[A-Za-z]:/.test(path)) return true;
  return EMPTY_OR_DOT_SEGMENT.test(path);
}

/**
 * The path each of `paths` is exported as: itself when it is safe, else a safe name. Deterministic
 * (the same stored paths give the same names) and unique: the marker segments get a number when a
 * stored path already has one of them as a segment (`__up2__`), and a name still taken gets a
 * `__dupN__/` prefix.
 */
export function exportFilePaths(paths: readonly string[]): Map<string, string> {
  const unique = new Set(paths);
  // The usual case, every path safe: each is its own name (and 100,000 of them need no sorting).
  let anyUnsafe = false;
  for (const path of unique) {
    if (unsafe(path)) {
      anyUnsafe = true;
      break;
    }
  }
  if (!anyUnsafe) return new Map([...unique].map((path) => [path, path]));
  const sorted = [...unique].sort();
  const segments = new Set(sorted.flatMap((p) => p.split(/[/\\]/)));
  let n = 1;
  const marker = (word: string): string => `__${word}${n === 1 ? '' : n}__`;
  while (segments.has(marker('up')) || segments.has(marker('root'))) n++;
  const up = marker('up');
  const root = marker('root');

  const out = new Map<string, string>();
  const taken = new Set(sorted.filter((p) => !unsafe(p)));
  for (const path of sorted) {
    if (!unsafe(path)) {
      out.set(path, path);
      continue;
    }
    const absolute = /^[/\\]/.test(path) || /^[A-Za-z]:/.test(path);
    const parts = path
      .split(/[/\\]/)
      .filter((segment) => segment !== '' && segment !== '.')
      .map((segment) => (segment === '..' ? up : segment.replace(/^([A-Za-z]):$/, '$1')));
    const safe = [...(absolute ? [root] : []), ...parts].join('/') || root;
    let name = safe;
    for (let dup = 2; taken.has(name); dup++) name = `__dup${dup}__/${safe}`;
    taken.add(name);
    out.set(path, name);
  }
  return out;
}
