import { controlCharacterAt, describeLength, InvalidArgumentError, shownValue } from '../errors';
import { checkLimit } from '../limits';
import type { SourceFileInput } from './compile-service-file';

/** The limits of one Deploy's upload (part of the control plane's Limits; see limits.ts). */
export interface DeployLimits {
  /** LANEWAY_MAX_DEPLOY_FILES, default 10000: files in one Deploy. */
  maxDeployFiles: number;
  /** LANEWAY_MAX_FILE_BYTES, default 4 MiB (4194304): UTF-8 bytes of one file's content. */
  maxFileBytes: number;
  /** LANEWAY_MAX_DEPLOY_BYTES, default 64 MiB (67108864): UTF-8 bytes of the content of all files of one Deploy. */
  maxDeployBytes: number;
  /** LANEWAY_MAX_PATH_LENGTH, default 1024: characters of a file's path. */
  maxPathLength: number;
}

const UNBOUNDED: Readonly<DeployLimits> = {
  maxDeployFiles: Infinity,
  maxFileBytes: Infinity,
  maxDeployBytes: Infinity,
  maxPathLength: Infinity,
};

/**
 * Checks the shape of a deploy's files before any compile work: at least one file and at most
 * maxDeployFiles; paths non-empty, unique, relative without a `..` segment, at most maxPathLength
 * characters and free of control characters; contents free of NUL (a PostgreSQL text column cannot hold one) and within maxFileBytes
 * each and maxDeployBytes together. Over a limit: LimitExceededError; anything else: InvalidArgumentError.
 *
 * Without `limits` only the shape is checked: the gRPC API checks every Deploy with the configured
 * limits before it reaches DeployPipeline, whose own call does not pass them yet.
 */
export function validateUpload(
  files: readonly SourceFileInput[],
  limits: Readonly<DeployLimits> = UNBOUNDED,
): void {
  if (files.length === 0)
    throw new InvalidArgumentError('files', 'files is empty: send at least one service file');
  checkLimit(
    limits,
    'maxDeployFiles',
    'files',
    files.length,
    `the deploy has ${files.length} files`,
    'deploy them in several calls',
  );
  const paths = new Set<string>();
  let total = 0;
  files.forEach((file, n) => {
    const field = `files[${n}].path`;
    if (!file.path) throw new InvalidArgumentError(field, `${field} is empty: give each file a path`);
    const shown = shownValue(file.path);
    checkLimit(
      limits,
      'maxPathLength',
      field,
      file.path.length,
      describeLength(field, file.path),
      'use a shorter path',
    );
    if (controlCharacterAt(file.path) >= 0) {
      throw new InvalidArgumentError(
        field,
        `${field} ${shown} contains a control character: use printable characters only`,
      );
    }
    const outside = pathOutside(file.path);
    if (outside) {
      throw new InvalidArgumentError(
        field,
        `${field} ${shown} ${outside}: send paths relative to the deployed files' own directory, with no '..' segment (laneway deploy does), so that every file has a place in an export`,
      );
    }
    if (paths.has(file.path)) {
      throw new InvalidArgumentError(field, `${field} '${file.path}' appears twice in one deploy`);
    }
    paths.add(file.path);
    const bytes = Buffer.byteLength(file.content, 'utf8');
    checkLimit(
      limits,
      'maxFileBytes',
      `files[${n}].content`,
      bytes,
      `files[${n}] ${shown} is ${bytes} bytes`,
      'split it into smaller files',
    );
    const nul = file.content.indexOf('\0');
    if (nul >= 0) {
      throw new InvalidArgumentError(
        `files[${n}].content`,
        `files[${n}] ${shown} contains a NUL character at offset ${nul}: a service file is text (write '\\0' in a string literal instead)`,
      );
    }
    total += bytes;
  });
  checkLimit(
    limits,
    'maxDeployBytes',
    'files',
    total,
    `the ${files.length} files of the deploy are ${total} bytes together`,
    'deploy them in several calls',
  );
}

/**
 * Why a deployed file's path points out of the deploy's directory (absolute, or a `..` segment,
 * with `/` or `\` separators), or undefined when it does not. Such a path could not be written by
 * an export (older deploys stored some: the export renames them, see exportFilePaths).
 */
export function pathOutside(path: string): string | undefined {
  if (/^[/\\]/.test(path) || /^[A-Za-z]:[/\\]/.test(path)) return 'is absolute';
  if (path.split(/[/\\]/).includes('..')) return "has a '..' segment";
  return undefined;
}
