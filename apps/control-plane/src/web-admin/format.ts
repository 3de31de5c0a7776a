import { Lane } from '@laneway/proto';
import { html, type HtmlValue } from './html';

/** A coloured badge with text (the colour is never the only signal: the text says it). */
export function badge(kind: 'good' | 'bad' | 'warn' | 'info', text: string): HtmlValue {
  return html`<span class="badge ${kind}">${text}</span>`;
}

/** "3 s ago", "5 min ago"... for an ISO time (empty: "never"). */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  return `${duration(s)} ago`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** An ISO time shown as UTC without milliseconds, in a <time> element. */
export function time(iso: string | undefined): HtmlValue {
  if (!iso) return '';
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** `network`, `cpu`. */
export function laneName(lane: Lane): string {
  return lane === Lane.LANE_CPU ? 'cpu' : lane === Lane.LANE_NETWORK ? 'network' : 'unspecified';
}
