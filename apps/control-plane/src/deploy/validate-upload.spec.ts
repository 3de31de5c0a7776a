import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError } from '../errors';
import { DEFAULT_LIMITS } from '../limits';
import { validateUpload, type DeployLimits } from './validate-upload';

const SMALL: DeployLimits = { maxDeployFiles: 3, maxFileBytes: 100, maxDeployBytes: 250, maxPathLength: 20 };

const file = (path: string, content = 'export {};'): { path: string; content: string } => ({ path, content });

function thrown(run: () => void): Error {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected validateUpload to throw');
}

describe('validateUpload', () => {
  it('accepts files within the limits, and 10,000 small files with the default limits', () => {
    expect(() => validateUpload([file('a.ts'), file('b.ts', 'x'.repeat(100))], SMALL)).not.toThrow();
    const many = Array.from({ length: 10_000 }, (_, n) =>
      file(`services/s-${n}.ts`, `export const n = ${n};`),
    );
    expect(() => validateUpload(many, DEFAULT_LIMITS)).not.toThrow();
  });

  it('refuses an empty deploy and repeated paths with INVALID_ARGUMENT', () => {
    const empty = thrown(() => validateUpload([], SMALL));
    const twice = thrown(() => validateUpload([file('a.ts'), file('a.ts', '// other')], SMALL));
    const noPath = thrown(() => validateUpload([file('')], SMALL));

    expect(empty).toBeInstanceOf(InvalidArgumentError);
    expect(empty.message).toBe('files is empty: send at least one service file');
    expect(twice.message).toBe("files[1].path 'a.ts' appears twice in one deploy");
    expect(noPath.message).toBe('files[0].path is empty: give each file a path');
  });

  it('refuses a path with a .. segment or an absolute path with INVALID_ARGUMENT naming the field and the value', () => {
    const cases: [string, string][] = [
      ['../x/a.ts', "files[1].path '../x/a.ts' has a '..' segment"],
      ['lib/../../a.ts', "files[1].path 'lib/../../a.ts' has a '..' segment"],
      ['..\\a.ts', "files[1].path '..\\a.ts' has a '..' segment"],
      ['/tmp/x/a.ts', "files[1].path '/tmp/x/a.ts' is absolute"],
      ['C:\\x\\a.ts', "files[1].path 'C:\\x\\a.ts' is absolute"],
    ];
    for (const [path, message] of cases) {
      const err = thrown(() => validateUpload([file('ok.ts'), file(path)]));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err).toMatchObject({ field: 'files[1].path' });
      expect(err.message).toBe(
        `${message}: send paths relative to the deployed files' own directory, with no '..' segment (laneway deploy does), so that every file has a place in an export`,
      );
    }
    expect(() => validateUpload([file('a..b/c..ts'), file('lib/./x.ts'), file('C:x.ts')])).not.toThrow();
  });

  it('refuses more files than LANEWAY_MAX_DEPLOY_FILES', () => {
    const err = thrown(() => validateUpload([file('a'), file('b'), file('c'), file('d')], SMALL));

    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      field: 'files',
      limit: 'LANEWAY_MAX_DEPLOY_FILES',
      max: 3,
      actual: 4,
    });
    expect(err.message).toBe(
      'the deploy has 4 files; the limit is LANEWAY_MAX_DEPLOY_FILES=3: deploy them in several calls, or raise LANEWAY_MAX_DEPLOY_FILES on the control plane',
    );
  });

  it('refuses a file over LANEWAY_MAX_FILE_BYTES, counting UTF-8 bytes and naming the file', () => {
    // 34 euro signs are 102 bytes in UTF-8, though only 34 characters.
    const err = thrown(() => validateUpload([file('ok.ts'), file('big.ts', '€'.repeat(34))], SMALL));

    expect(err).toMatchObject({
      field: 'files[1].content',
      limit: 'LANEWAY_MAX_FILE_BYTES',
      max: 100,
      actual: 102,
    });
    expect(err.message).toBe(
      "files[1] 'big.ts' is 102 bytes; the limit is LANEWAY_MAX_FILE_BYTES=100: split it into smaller files, or raise LANEWAY_MAX_FILE_BYTES on the control plane",
    );
  });

  it('refuses files that together pass LANEWAY_MAX_DEPLOY_BYTES', () => {
    const err = thrown(() =>
      validateUpload(
        [file('a', 'x'.repeat(100)), file('b', 'x'.repeat(100)), file('c', 'x'.repeat(51))],
        SMALL,
      ),
    );

    expect(err).toMatchObject({ field: 'files', limit: 'LANEWAY_MAX_DEPLOY_BYTES', max: 250, actual: 251 });
    expect(err.message).toContain(
      'the 3 files of the deploy are 251 bytes together; the limit is LANEWAY_MAX_DEPLOY_BYTES=250',
    );
  });

  it('refuses a path over LANEWAY_MAX_PATH_LENGTH, showing only its start', () => {
    const long = `dir/${'p'.repeat(100)}.ts`;

    const err = thrown(() => validateUpload([file(long)], SMALL));

    expect(err).toMatchObject({
      field: 'files[0].path',
      limit: 'LANEWAY_MAX_PATH_LENGTH',
      max: 20,
      actual: 107,
    });
    expect(err.message).toBe(
      `files[0].path '${long.slice(0, 64)}...' (107 characters) is too long; the limit is LANEWAY_MAX_PATH_LENGTH=20: use a shorter path, or raise LANEWAY_MAX_PATH_LENGTH on the control plane`,
    );
  });

  it('gives the length of a short path over the limit', () => {
    const err = thrown(() => validateUpload([file('services/rather-long.ts')], SMALL));

    expect(err.message).toContain(
      "files[0].path 'services/rather-long.ts' is 23 characters; the limit is LANEWAY_MAX_PATH_LENGTH=20",
    );
  });

  it('refuses control characters in a path and NUL in content with INVALID_ARGUMENT', () => {
    const control = thrown(() => validateUpload([file('a\u0000b.ts')], SMALL));
    const nul = thrown(() => validateUpload([file('a.ts', 'const s = "x\0y";')], SMALL));

    expect(control).toBeInstanceOf(InvalidArgumentError);
    expect(control.message).toBe(
      "files[0].path 'a\\u0000b.ts' contains a control character: use printable characters only",
    );
    expect(nul).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'files[0].content' });
    expect(nul.message).toBe(
      "files[0] 'a.ts' contains a NUL character at offset 12: a service file is text (write '\\0' in a string literal instead)",
    );
  });

  it('checks only the shape when given no limits', () => {
    expect(() => validateUpload([file('a'.repeat(5000), 'x'.repeat(10_000))])).not.toThrow();
    expect(thrown(() => validateUpload([])).message).toBe('files is empty: send at least one service file');
  });
});
