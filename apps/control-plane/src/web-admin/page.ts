import type { ApiClient } from '@laneway/api-client';
import type { Logger } from 'pino';
import type { FormData } from './http-util';
import type { SafeHtml } from './html';
import type { Flash, Role, Session } from './session';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** True when `role` is at least `least` (viewer < operator < admin). */
export function roleAtLeast(role: Role, least: Role): boolean {
  return RANK[role] >= RANK[least];
}

/** An error of what the user gave (a malformed field): shown as an error flash, not logged as a failure. */
export class UserError extends Error {}

/** What a page handler gets for one request. It holds no authority of its own: `api` carries the user's token. */
export interface PageContext {
  readonly url: URL;
  /** The path segments after the page's own path (decoded): `/services/a.b` on the page `/services` gives `['a.b']`. */
  readonly params: readonly string[];
  readonly session: Session;
  /** The control plane's gRPC API, called with the signed-in user's token. */
  readonly api: ApiClient;
  readonly role: Role;
  /** Whether the user's role is at least `least`: decides which buttons are shown (the API decides what is allowed). */
  can(least: Role): boolean;
  readonly requestId: string;
  readonly log: Logger;
  /** This control plane's id (ServerInfo.control_plane_id of the servers it holds). */
  readonly controlPlaneId: string;
}

/** A rendered page: its title and main content (the layout adds the rest). */
export interface PageView {
  readonly title: string;
  readonly body: SafeHtml;
  /** 200 unless said otherwise (e.g. 404 for an unknown service). */
  readonly status?: number;
  /** Loads uPlot (script and stylesheet) for `[data-chart]` elements. */
  readonly charts?: boolean;
}

/** Where a POST goes next (POST-redirect-GET) and what it says there. */
export interface ActionResult {
  /** Default: the URL the form was posted to. */
  readonly redirect?: string;
  readonly flash?: Flash;
}

export type Action = (ctx: PageContext, form: FormData) => Promise<ActionResult>;

/**
 * One page of the web admin: one file in pages/, one line in pages/registry.ts.
 *
 * - GET `path` and `path/<params...>` render it (`render`).
 * - POST to the same URLs runs `actions[form._action]`, after the CSRF and origin checks; an ApiError
 *   it throws (PERMISSION_DENIED...) becomes an error flash with its status and message; then the
 *   browser is redirected (to `redirect`, default the posted URL).
 * - GET `/data` + `path` + `/<params...>` answers `data(ctx)` as JSON (live updates, charts).
 */
export interface Page {
  /** `/services`; `/` is the overview. */
  readonly path: string;
  /** The navigation label. */
  readonly nav: string;
  render(ctx: PageContext): Promise<PageView>;
  readonly actions?: Readonly<Record<string, Action>>;
  data?(ctx: PageContext): Promise<unknown>;
  /** Largest POST body accepted (bytes); default 1 MiB. A deploy upload needs more. */
  readonly maxBody?: number;
}
