import { html, type HtmlValue, type SafeHtml } from './html';
import type { Page } from './page';
import type { Flash, Session } from './session';

export interface LayoutOptions {
  title: string;
  body: SafeHtml;
  /** The signed-in user; undefined on the sign-in and error pages (no navigation). */
  session?: Session | undefined;
  /** The page the navigation marks as current. */
  current?: string | undefined;
  nav?: readonly Page[];
  flash?: Flash | undefined;
  /** Loads uPlot for the page's charts. */
  charts?: boolean | undefined;
}

/** The whole HTML document around a page's content: head, header with the user and sign-out, navigation, flash. */
export function layout(o: LayoutOptions): SafeHtml {
  const navigation = o.session && o.nav
    ? html`<nav aria-label="Main"><ul>${o.nav.map(
        (p) => html`<li><a href="${p.path}"${p.path === o.current ? html` aria-current="page"` : ''}>${p.nav}</a></li>`,
      )}</ul></nav>`
    : '';
  const user = o.session
    ? html`<div class="user"><span>${o.session.username} <span class="role">(${o.session.role})</span></span>
<form method="post" action="/logout">${csrfField(o.session)}<button type="submit" class="link">Sign out</button></form></div>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Laneway</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/admin.css">
${o.charts ? html`<link rel="stylesheet" href="/assets/uplot.css">
<script src="/assets/uplot.js" defer></script>` : ''}
<script src="/assets/admin.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="/">Laneway</a>${user}</header>
${navigation}
<main id="main">
<h1>${o.title}</h1>
${flashBox(o.flash)}
${o.body}
</main>
</body>
</html>
`;
}

export function flashBox(flash: Flash | undefined): HtmlValue {
  if (!flash) return '';
  return html`<div class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}"><p>${flash.message}</p>${
    flash.detail ? html`<pre>${flash.detail}</pre>` : ''
  }</div>`;
}

/** The hidden CSRF field every form of a signed-in page carries. */
export function csrfField(session: Session): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}
