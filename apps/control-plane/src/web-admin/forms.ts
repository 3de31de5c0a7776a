import { html, type HtmlValue, type SafeHtml } from './html';
import { csrfField } from './layout';
import type { PageContext } from './page';
import type { Role } from './session';

export interface FormOptions {
  /** The page action it runs (`actions[...]` of the page). */
  action: string;
  /** Where it posts: default the current URL (path and query), which is also where the browser returns. */
  url?: string;
  /** Hidden fields (escaped). */
  fields?: Readonly<Record<string, string>>;
  /** The browser asks this before submitting (admin.js). */
  confirm?: string;
  /** For a file upload. */
  multipart?: boolean;
  /** Extra class names. */
  className?: string;
  /** An accessible name for the form. */
  label?: string;
  /** The id of an element where admin.js shows the action's answer without leaving the page. */
  result?: string;
}

/** A POST form of the current page with the CSRF field, `_action` and hidden fields, around `content`. */
export function form(ctx: PageContext, o: FormOptions, content: HtmlValue): SafeHtml {
  const url = o.url ?? ctx.url.pathname + ctx.url.search;
  return html`<form method="post" action="${url}"${o.multipart ? html` enctype="multipart/form-data"` : ''}${
    o.confirm ? html` data-confirm="${o.confirm}"` : ''
  }${o.className ? html` class="${o.className}"` : ''}${o.result ? html` data-result="${o.result}"` : ''}${o.label ? html` aria-label="${o.label}"` : ''}>${csrfField(ctx.session)}<input type="hidden" name="_action" value="${o.action}">${Object.entries(
    o.fields ?? {},
  ).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}${content}</form>`;
}

export interface ButtonOptions extends FormOptions {
  /** The button's text. */
  text: string;
  /** The least role that may do it: others do not see the button (the API refuses them anyway). */
  least: Role;
  danger?: boolean;
}

/** One button that posts an action, shown only to users whose role may do it. */
export function actionButton(ctx: PageContext, o: ButtonOptions): HtmlValue {
  if (!ctx.can(o.least)) return '';
  return form(ctx, { ...o, className: `inline${o.className ? ` ${o.className}` : ''}` }, html`<button type="submit"${o.danger ? html` class="danger"` : ''}>${o.text}</button>`);
}

/** A "Next page" link carrying `page_token`, plus a link back to the first page when not on it. */
export function pager(ctx: PageContext, nextPageToken: string | undefined): HtmlValue {
  const onFirst = !ctx.url.searchParams.get('page_token');
  if (!nextPageToken && onFirst) return '';
  const next = new URL(ctx.url.href);
  next.searchParams.set('page_token', nextPageToken ?? '');
  const first = new URL(ctx.url.href);
  first.searchParams.delete('page_token');
  return html`<nav class="pager" aria-label="Pages">${onFirst ? '' : html`<a href="${first.pathname + first.search}">First page</a>`}${
    nextPageToken ? html`<a href="${next.pathname + next.search}" rel="next">Next page</a>` : ''
  }</nav>`;
}

/** A table that scrolls sideways on a narrow screen (focusable, so a keyboard can scroll it). */
export function table(caption: string, head: readonly string[], rows: readonly HtmlValue[], empty = 'None.'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="scroll" tabindex="0" role="region" aria-label="${caption}"><table><caption>${caption}</caption><thead><tr>${head.map(
    (h) => html`<th scope="col">${h}</th>`,
  )}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

/** A link to a path made of segments, each URL-encoded. */
export function pathOf(...segments: string[]): string {
  return segments.map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
}
