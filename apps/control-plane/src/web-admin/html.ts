/**
 * HTML templates with one rule: everything interpolated into `html\`...\`` is escaped, unless it is
 * itself the result of `html` (a SafeHtml) or explicitly marked safe with `raw()`. Arrays are joined
 * (each element escaped or kept as SafeHtml); null, undefined and false render nothing.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for an HTML body or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

/** The template tag: `html\`<p>${userText}</p>\`` escapes userText. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks markup as safe: only for text this code wrote itself, never for anything from a request or the API. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** A value as it would appear in a page (escaped unless SafeHtml). */
export function toHtml(value: HtmlValue): string {
  return render(value);
}
