import type { IncomingMessage, ServerResponse } from 'node:http';

/** Sent on every answer of the web admin (pages, assets, JSON). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it Chromium sends `Origin: null` on the admin's own form POSTs, which the
  // origin check must refuse; same-origin still sends nothing to other sites.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // A malformed value is no cookie.
    }
  }
  return cookies;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; 0 deletes the cookie. Unset: a browser-session cookie. */
  maxAge?: number;
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  let cookie = `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict`;
  if (options.secure) cookie += '; Secure';
  if (options.maxAge !== undefined) cookie += `; Max-Age=${options.maxAge}`;
  return cookie;
}

export class BodyTooLarge extends Error {}

/** The request body, at most `limit` bytes (beyond that: BodyTooLarge). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge(`the request body is over ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(`the request body is over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An uploaded file of a multipart form. */
export interface UploadedFile {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A posted form: text fields (first value of each name) and files. */
export interface FormData {
  get(name: string): string | undefined;
  all(name: string): string[];
  names(): string[];
  file(name: string): UploadedFile | undefined;
  /** Every file posted under that name (`<input type=file multiple>`). */
  files(name: string): UploadedFile[];
}

class Form implements FormData {
  constructor(
    private readonly fields: Map<string, string[]>,
    private readonly uploads: Map<string, UploadedFile[]>,
  ) {}
  get(name: string): string | undefined {
    return this.fields.get(name)?.[0];
  }
  all(name: string): string[] {
    return this.fields.get(name) ?? [];
  }
  names(): string[] {
    return [...this.fields.keys()];
  }
  file(name: string): UploadedFile | undefined {
    return this.uploads.get(name)?.[0];
  }
  files(name: string): UploadedFile[] {
    return this.uploads.get(name) ?? [];
  }
}

function addField(fields: Map<string, string[]>, name: string, value: string): void {
  const list = fields.get(name);
  if (list) list.push(value);
  else fields.set(name, [value]);
}

/** Parses `application/x-www-form-urlencoded` or `multipart/form-data` (anything else: an empty form). */
export function parseForm(contentType: string | undefined, body: Buffer): FormData {
  const fields = new Map<string, string[]>();
  const files = new Map<string, UploadedFile[]>();
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) addField(fields, name, value);
  } else if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
    const b = boundary?.[1] ?? boundary?.[2];
    if (b) parseMultipart(body, b, fields, files);
  }
  return new Form(fields, files);
}

function parseMultipart(body: Buffer, boundary: string, fields: Map<string, string[]>, files: Map<string, UploadedFile[]>): void {
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    let start = at + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) return; // the closing delimiter
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return;
    // The part ends with CRLF before the next delimiter.
    const part = body.subarray(start, next - 2 >= start ? next - 2 : next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const content = part.subarray(headerEnd + 4);
      const disposition = /content-disposition:([^\r\n]*)/i.exec(headers)?.[1] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
      const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
      if (name !== undefined) {
        if (filename !== undefined) {
          if (filename !== '' || content.length > 0) {
            const partType = /content-type:\s*([^\r\n]*)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
            const file = { filename, contentType: partType, content: Buffer.from(content) };
            const list = files.get(name);
            if (list) list.push(file);
            else files.set(name, [file]);
          }
        } else {
          addField(fields, name, content.toString('utf8'));
        }
      }
    }
    at = next;
  }
}

export function sendText(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}, head = false): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(head ? undefined : body);
}
