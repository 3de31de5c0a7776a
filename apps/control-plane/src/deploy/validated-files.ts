import { createHash } from 'node:crypto';
import type { NewServiceVersion } from '../store';
import type { SourceFileInput } from './compile-service-file';
import { InvalidArgumentError } from '../errors';
import type { CompiledFileResult } from './compile-messages';
import type { CompilerPool } from './compiler-pool';
import { isPackagePath, linkFiles, packageSpecifierOf } from './link-files';
import { checkUniqueNames } from './inspect-services';

/** One uploaded file, compiled (and, without relative imports, inspected). */
type CompiledFile = CompiledFileResult;

export interface ValidatedDeploy {
  services: NewServiceVersion[];
  /** Files compiled and inspected by this call; the others were known. */
  compiledFiles: number;
  /** Compiling and inspecting in the compile processes, message round trips included. */
  compileMs: number;
}

/**
 * Compiles and inspects uploaded files, remembering the outcome per (path, content): a deploy that
 * sends a whole directory again pays only for the files that changed. Compiling and inspecting a file
 * depend on nothing but its path and content, so a remembered outcome is the one a new run would give.
 * A file with relative imports is linked with the deployed files it reaches (a module set, see
 * linkFiles) and inspected as that set, remembered by the set's version.
 * Only files that passed are kept, the least recently deployed dropped first beyond `maxFiles`.
 */
export class ValidatedFiles {
  private readonly known = new Map<string, CompiledFile>();
  // Inspected module sets by version.
  private readonly linkedKnown = new Map<string, CompiledFile>();

  constructor(
    private readonly compiler: CompilerPool,
    private readonly maxFiles = 10_000,
  ) {}

  get size(): number {
    return this.known.size;
  }

  async validate(files: readonly SourceFileInput[]): Promise<ValidatedDeploy> {
    // Which bare imports name other deployed files depends on the packages bundled in the deploy.
    const packages = files.filter((f) => isPackagePath(f.path)).map((f) => packageSpecifierOf(f.path)).sort();
    const salt = packages.length ? JSON.stringify(packages) : '';
    const keys = files.map((file) => keyOf(file, salt));
    const perFile: (CompiledFile | undefined)[] = keys.map((key) => this.known.get(key));
    const missingAt = files.flatMap((_, n) => (perFile[n] === undefined ? [n] : []));
    const missing = missingAt.map((n) => files[n]!);
    const started = performance.now();
    const compiled = missing.length ? await this.compiler.compile(missing, packages.length ? { packages } : {}) : [];
    compiled.forEach((result, n) => {
      perFile[missingAt[n]!] = result;
    });
    // What this deploy uses: linked files get their module set (perFile keeps what compiling gave).
    const results = [...(perFile as CompiledFile[])];
    let imported = new Set<string>();
    // The sources of the other files each linked file's module set holds, kept with its services for export.
    const sourcesOf = new Map<number, Record<string, string>>();
    if (results.some((r) => r.imports.length)) {
      const link = linkFiles(files.map((file, n) => ({ path: file.path, code: results[n]!.code, imports: results[n]!.imports })));
      imported = link.imported;
      const sets = files.flatMap((file, n) => {
        const linked = link.linked.get(file.path);
        return linked ? [{ n, path: file.path, ...linked }] : [];
      });
      const toInspect = sets.filter((s) => !this.linkedKnown.has(s.version));
      const inspected = toInspect.length
        ? await this.compiler.compile(
            toInspect.map((s) => ({ path: s.path, content: s.code })),
            { inspectOnly: true },
          )
        : [];
      inspected.forEach((result, k) => this.rememberLinked(toInspect[k]!.version, { ...result, code: toInspect[k]!.code, version: toInspect[k]!.version }));
      const contentOf = new Map(files.map((f) => [f.path, f.content]));
      for (const s of sets) {
        results[s.n] = { ...this.linkedKnown.get(s.version)!, imports: results[s.n]!.imports };
        sourcesOf.set(s.n, Object.fromEntries(s.reached.map((p) => [p, contentOf.get(p)!])));
      }
    }
    const compileMs = performance.now() - started;
    // A file that exports no service deploys only as what another deployed file imports; a bundled
    // package nothing imports (the CLI saw its name in a comment, say) is left out.
    files.forEach((file, n) => {
      const noService = results[n]!.noService;
      if (noService !== undefined && !imported.has(file.path) && !isPackagePath(file.path)) {
        throw new InvalidArgumentError('files', noService, { path: file.path });
      }
    });
    const services = files.flatMap((file, n) =>
      results[n]!.services.map((s) => ({ ...s, version: results[n]!.version, path: file.path, source: file.content, code: results[n]!.code, sources: sourcesOf.get(n) })),
    );
    // Names must be unique across the whole deploy, remembered files included.
    checkUniqueNames(services);
    for (let n = 0; n < files.length; n++) this.remember(this.known, keys[n]!, perFile[n]!);
    return { services, compiledFiles: missing.length, compileMs };
  }

  private rememberLinked(version: string, file: CompiledFile): void {
    this.remember(this.linkedKnown, version, file);
  }

  private remember(map: Map<string, CompiledFile>, key: string, file: CompiledFile): void {
    // Re-inserting moves the key to the end: the Map's order is least to most recently deployed.
    map.delete(key);
    map.set(key, file);
    while (map.size > this.maxFiles) map.delete(map.keys().next().value!);
  }
}

function keyOf(file: SourceFileInput, salt: string): string {
  const hash = createHash('sha256').update(file.path).update('\u0000').update(file.content);
  if (salt) hash.update('\u0000').update(salt);
  return hash.digest('base64');
}
