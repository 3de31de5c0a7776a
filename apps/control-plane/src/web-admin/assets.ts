import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_CSS } from './assets/admin-css';
import { ADMIN_JS } from './assets/admin-js';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

function asset(type: string, body: string | Buffer): Asset {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { type, body: buffer, etag: `"${createHash('sha256').update(buffer).digest('base64url').slice(0, 16)}"` };
}

/** uPlot's browser build and stylesheet, read once (at start) from the installed `uplot` package. */
function uplotFiles(): { js: Buffer; css: Buffer } {
  // require.resolve (not a computed path): the bundle's metafile names uplot, so the package depends on it.
  const dir = path.dirname(require.resolve('uplot/package.json'));
  return { js: readFileSync(path.join(dir, 'dist/uPlot.iife.min.js')), css: readFileSync(path.join(dir, 'dist/uPlot.min.css')) };
}

const uplot = uplotFiles();

/** Everything served under /assets/ (no session needed: nothing in them is a secret). */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/assets/admin.js', asset('text/javascript; charset=utf-8', ADMIN_JS)],
  ['/assets/admin.css', asset('text/css; charset=utf-8', ADMIN_CSS)],
  ['/assets/uplot.js', asset('text/javascript; charset=utf-8', uplot.js)],
  ['/assets/uplot.css', asset('text/css; charset=utf-8', uplot.css)],
]);
