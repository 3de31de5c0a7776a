import { InvalidArgumentError } from '../errors';
import type { SourceFileInput } from './compile-service-file';

const MAX_FILE_BYTES = 2 * 1024 * 1024;

/** Checks the shape of a deploy's files before any compile work: non-empty, unique paths, sizes. */
export function validateUpload(files: readonly SourceFileInput[]): void {
  if (files.length === 0) throw new InvalidArgumentError('files', 'files is empty: send at least one service file');
  const paths = new Set<string>();
  files.forEach((file, n) => {
    if (!file.path) throw new InvalidArgumentError(`files[${n}].path`, `files[${n}].path is empty: give each file a path`);
    if (paths.has(file.path)) {
      throw new InvalidArgumentError(`files[${n}].path`, `files[${n}].path '${file.path}' appears twice in one deploy`);
    }
    paths.add(file.path);
    const bytes = Buffer.byteLength(file.content, 'utf8');
    if (bytes > MAX_FILE_BYTES) {
      throw new InvalidArgumentError(
        `files[${n}].content`,
        `files[${n}] '${file.path}' is ${bytes} bytes; the limit is ${MAX_FILE_BYTES}`,
      );
    }
  });
}
