import { randomBytes } from 'node:crypto';

export type Role = 'viewer' | 'operator' | 'admin';

/** A one-shot message shown on the next page (POST-redirect-GET). */
export interface Flash {
  kind: 'ok' | 'error';
  message: string;
  /** Preformatted text shown under the message (an invocation's output, a deploy's per-server result). */
  detail?: string | undefined;
}

/** What the server keeps for a signed-in browser. The browser holds only the opaque id. */
export interface Session {
  readonly id: string;
  /** The signed-in user's token from UserService.Login: every API call of this session carries it. Never sent to the browser. */
  readonly token: string;
  readonly username: string;
  readonly role: Role;
  /** Epoch ms: the login token's expiry (the session ends with it). */
  readonly expiresAt: number;
  /** The login token's expiry as Login answered it: finds the token among the user's own at sign-out, to revoke it. */
  readonly loginExpiresAt?: string | undefined;
  /** Bound to this session: every POST carries it in a hidden field. */
  readonly csrf: string;
  flash?: Flash | undefined;
  lastSeen: number;
}

export interface SessionStoreOptions {
  /** Signed out after this long without a request (ms). */
  idleMs?: number;
  /** At most this many sessions; the least recently seen goes first. */
  max?: number;
  now?: () => number;
}

export function randomId(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The sessions of the web admin, in memory (a restart signs everyone out). The id is 256 random bits;
 * a session ends at its token's expiry, after `idleMs` idle, on sign-out, or when evicted.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.max = options.max ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  create(user: { token: string; username: string; role: Role; expiresAt: number; loginExpiresAt?: string | undefined }, onEvict?: (s: Session) => void): Session {
    this.sweep(onEvict);
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.values().next().value as Session;
      this.sessions.delete(oldest.id);
      onEvict?.(oldest);
    }
    const session: Session = { id: randomId(), csrf: randomId(), lastSeen: this.now(), ...user };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session of that id (and marks it seen), else undefined (an expired one is removed). */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (now >= session.expiresAt || now - session.lastSeen >= this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = now;
    // Most recently seen last: eviction takes from the front.
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  delete(id: string): Session | undefined {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }

  /** Removes expired and idle sessions. */
  sweep(onEvict?: (s: Session) => void): void {
    const now = this.now();
    for (const session of this.sessions.values()) {
      if (now >= session.expiresAt || now - session.lastSeen >= this.idleMs) {
        this.sessions.delete(session.id);
        onEvict?.(session);
      }
    }
  }
}
