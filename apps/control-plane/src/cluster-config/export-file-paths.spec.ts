import { describe, expect, it } from 'vitest';
import { exportFilePaths } from './export-file-paths';

describe('exportFilePaths', () => {
  it('keeps safe paths and names the others safely, keeping files deployed together side by side', () => {
    const names = exportFilePaths(['crm/a.ts', '../x/a.ts', '../x/lib/h.ts', '../../tmp/y.ts', '/abs/z.ts', 'a/./b.ts', '..\\w\\v.ts']);
    expect(Object.fromEntries(names)).toEqual({
      'crm/a.ts': 'crm/a.ts',
      '../x/a.ts': '__up__/x/a.ts',
      '../x/lib/h.ts': '__up__/x/lib/h.ts',
      '../../tmp/y.ts': '__up__/__up__/tmp/y.ts',
      '/abs/z.ts': '__root__/abs/z.ts',
      'a/./b.ts': 'a/b.ts',
      '..\\w\\v.ts': '__up__/w/v.ts',
    });
  });

  it('is unique: a marker a stored path already uses gets a number, a name still taken a prefix', () => {
    expect(Object.fromEntries(exportFilePaths(['__up__/x/a.ts', '../x/a.ts']))).toEqual({
      '__up__/x/a.ts': '__up__/x/a.ts',
      '../x/a.ts': '__up2__/x/a.ts',
    });
    const collapsed = exportFilePaths(['a/b.ts', 'a//b.ts', 'a/./b.ts']);
    expect(collapsed.get('a/b.ts')).toBe('a/b.ts');
    expect(new Set(collapsed.values()).size).toBe(3);
    expect(collapsed.get('a//b.ts')).toMatch(/^__dup\d__\/a\/b\.ts$/);
  });

  it('is deterministic whatever the order', () => {
    const paths = ['../x/a.ts', 'a//b.ts', 'a/./b.ts', 'a/b.ts', '/r.ts'];
    expect(exportFilePaths([...paths].reverse())).toEqual(exportFilePaths(paths));
  });
});
