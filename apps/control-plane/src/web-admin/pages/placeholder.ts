import { html } from '../html';
import type { Page } from '../page';

/** A page listed in the navigation but not written yet: answers 404 saying so. */
export function placeholder(path: string, nav: string): Page {
  return {
    path,
    nav,
    render: () => Promise.resolve({ title: nav, status: 404, body: html`<p class="empty">This page is not built yet.</p>` }),
  };
}
