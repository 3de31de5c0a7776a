import { createHash } from 'node:crypto';
import type { NewServiceVersion } from '../store';
import type { SourceFileInput } from './compile-service-file';
import type { CompilerPool } from './compiler-pool';
import { checkUniqueNames } from './inspect-services';

/** The services of one uploaded file, compiled and inspected. */
type FileServices = readonly NewServiceVersion[];

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
 * Only files that passed are kept, the least recently deployed dropped first beyond `maxFiles`.
 */
export class ValidatedFiles {
  private readonly known = new Map<string, FileServices>();

  constructor(
    private readonly compiler: CompilerPool,
    private readonly maxFiles = 10_000,
  ) {}

  get size(): number {
    return this.known.size;
  }

  async validate(files: readonly SourceFileInput[]): Promise<ValidatedDeploy> {
    const keys = files.map(keyOf);
    const perFile: (FileServices | undefined)[] = keys.map((key) => this.known.get(key));
    const missingAt = files.flatMap((_, n) => (perFile[n] === undefined ? [n] : []));
    const missing = missingAt.map((n) => files[n]!);
    const started = performance.now();
    const compiled = missing.length ? await this.compiler.compile(missing) : [];
    const compileMs = performance.now() - started;
    compiled.forEach((result, n) => {
      const file = missing[n]!;
      perFile[missingAt[n]!] = result.services.map((s) => ({ ...s, version: result.version, path: file.path, source: file.content, code: result.code }));
    });
    const services = perFile.flatMap((s) => s!);
    // Names must be unique across the whole deploy, remembered files included.
    checkUniqueNames(services);
    for (let n = 0; n < files.length; n++) this.remember(keys[n]!, perFile[n]!);
    return { services, compiledFiles: missing.length, compileMs };
  }

  private remember(key: string, services: FileServices): void {
    // Re-inserting moves the key to the end: the Map's order is least to most recently deployed.
    this.known.delete(key);
    this.known.set(key, services);
    while (this.known.size > this.maxFiles) this.known.delete(this.known.keys().next().value!);
  }
}

function keyOf(file: SourceFileInput): string {
  return createHash('sha256').update(file.path).update('\u0000').update(file.content).digest('base64');
}
