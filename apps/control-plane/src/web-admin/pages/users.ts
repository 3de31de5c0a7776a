import { Role } from '@laneway/proto';
import { actionButton, form, table } from '../forms';
import { badge, time } from '../format';
import { html } from '../html';
import type { Page, PageContext } from '../page';
import { UserError } from '../web-admin';

const ROLE_NAMES: Record<number, string> = { [Role.ROLE_VIEWER]: 'viewer', [Role.ROLE_OPERATOR]: 'operator', [Role.ROLE_ADMIN]: 'admin' };
const ROLES: Record<string, Role> = { viewer: Role.ROLE_VIEWER, operator: Role.ROLE_OPERATOR, admin: Role.ROLE_ADMIN };

function roleOf(text: string | undefined): Role {
  const role = ROLES[text ?? ''];
  if (!role) throw new UserError(`role '${text ?? ''}' is not one of viewer, operator, admin.`);
  return role;
}

function roleSelect(id: string, selected: string): ReturnType<typeof html> {
  return html`<select id="${id}" name="role">${Object.keys(ROLES).map((r) => html`<option${r === selected ? html` selected` : ''}>${r}</option>`)}</select>`;
}

async function usersSection(ctx: PageContext) {
  if (!ctx.can('admin')) return html``;
  const { users } = await ctx.api.listUsers();
  const rows = users.map((u) => {
    const role = ROLE_NAMES[u.role] ?? 'unknown';
    const self = u.username === ctx.session.username;
    return html`<tr data-user="${u.username}"><th scope="row">${u.username}${self ? ' (you)' : ''}</th><td>${badge('info', role)}</td><td>${time(u.createdAt)}</td>
<td>${form(ctx, { action: 'set-role', fields: { username: u.username }, className: 'inline', label: `Role of ${u.username}` }, html`<label class="visually-hidden" for="${`role-${u.username}`}">Role of ${u.username}</label>${roleSelect(`role-${u.username}`, role)} <button type="submit" class="secondary">Set role</button>`)}
${self ? '' : actionButton(ctx, { action: 'delete', text: `Delete ${u.username}`, least: 'admin', danger: true, fields: { username: u.username }, confirm: `Delete the user ${u.username} and their tokens?` })}</td></tr>`;
  });
  return html`<h2>Users</h2>${table('Users', ['User', 'Role', 'Created', 'Actions'], rows, 'No users.')}
<h3>New user</h3>${form(ctx, { action: 'create', label: 'New user' }, html`<fieldset><legend>New user</legend>
<label for="nu-name">Username</label><input type="text" id="nu-name" name="username" autocomplete="off" autocapitalize="none" spellcheck="false" required>
<label for="nu-password">Password</label><input type="password" id="nu-password" name="password" autocomplete="new-password" required>
<label for="nu-role">Role</label>${roleSelect('nu-role', 'viewer')}
<p><button type="submit">Create user</button></p></fieldset>`)}`;
}

export const usersPage: Page = {
  path: '/users',
  nav: 'Users',
  async render(ctx) {
    const [users, { tokens }] = await Promise.all([usersSection(ctx), ctx.api.listTokens('')]);
    const now = Date.now();
    const mine = tokens.filter((t) => !t.revokedAt && !(t.expiresAt && Date.parse(t.expiresAt) <= now));
    const rows = mine.map(
      (t) => html`<tr><th scope="row">${t.name}</th><td class="mono">${t.id}</td><td>${time(t.createdAt)}</td><td>${t.expiresAt ? time(t.expiresAt) : 'never'}</td><td>${t.lastUsedAt ? time(t.lastUsedAt) : 'never'}</td>
<td>${actionButton(ctx, { action: 'revoke', text: `Revoke ${t.name}`, least: 'viewer', danger: true, fields: { id: t.id }, confirm: `Revoke the token ${t.name}? Whatever uses it is signed out.` })}</td></tr>`,
    );
    return {
      title: ctx.can('admin') ? 'Users' : 'Your account',
      body: html`${users}
<h2>Your account: ${ctx.session.username} (${ctx.role})</h2>
<h3>Password</h3>${form(ctx, { action: 'password', label: 'Change your password' }, html`<fieldset><legend>Change your password</legend>
<label for="pw-new">New password</label><input type="password" id="pw-new" name="password" autocomplete="new-password" required>
<label for="pw-again">New password again</label><input type="password" id="pw-again" name="again" autocomplete="new-password" required>
<p><button type="submit">Change password</button></p></fieldset>`)}
<h3>API tokens</h3><p class="hint">For the CLI and scripts (<span class="mono">LANEWAY_TOKEN</span>); each acts as you, with your role. A token is shown once, when it is created.</p>
${table('Your API tokens', ['Name', 'Id', 'Created', 'Expires', 'Last used', 'Actions'], rows, 'No API tokens.')}
${form(ctx, { action: 'token', label: 'New API token' }, html`<fieldset><legend>New API token</legend>
<label for="tk-name">Name</label><input type="text" id="tk-name" name="name" required>
<label for="tk-ttl">Expires after (days, empty: never)</label><input type="number" min="1" id="tk-ttl" name="ttl_days">
<p><button type="submit">Create token</button></p></fieldset>`)}`,
    };
  },
  actions: {
    async create(ctx, f) {
      const username = (f.get('username') ?? '').trim();
      const user = await ctx.api.createUser({ username, password: f.get('password') ?? '', role: roleOf(f.get('role')) });
      return { flash: { kind: 'ok', message: `Created the user ${user.username} (${ROLE_NAMES[user.role] ?? ''}).` } };
    },
    async 'set-role'(ctx, f) {
      const user = await ctx.api.setRole(f.get('username') ?? '', roleOf(f.get('role')));
      return { flash: { kind: 'ok', message: `${user.username} is now ${ROLE_NAMES[user.role] ?? ''}.` } };
    },
    async delete(ctx, f) {
      const username = f.get('username') ?? '';
      await ctx.api.deleteUser(username);
      return { flash: { kind: 'ok', message: `Deleted the user ${username}.` } };
    },
    async password(ctx, f) {
      const password = f.get('password') ?? '';
      if (password !== (f.get('again') ?? '')) throw new UserError('The two new passwords differ: type the same one twice.');
      await ctx.api.setPassword('', password);
      return { flash: { kind: 'ok', message: 'Your password is changed.' } };
    },
    async token(ctx, f) {
      const days = (f.get('ttl_days') ?? '').trim();
      if (days && (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > 3650)) throw new UserError(`ttl_days must be a whole number of days from 1 to 3650, got '${days}'.`);
      const answer = await ctx.api.createToken({ username: '', name: (f.get('name') ?? '').trim(), ttlSeconds: days ? Number(days) * 86400 : 0 });
      // Shown once: the flash lives in the session until the next page, then it is gone.
      return { flash: { kind: 'ok', message: `Created the token ${answer.info?.name ?? ''}: copy it now, it is not shown again.`, detail: answer.token } };
    },
    async revoke(ctx, f) {
      await ctx.api.revokeToken(f.get('id') ?? '');
      return { flash: { kind: 'ok', message: 'Revoked the token.' } };
    },
  },
};
