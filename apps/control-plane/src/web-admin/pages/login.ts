import { html, type SafeHtml } from '../html';

/** The sign-in form (POST /login: username and password go to UserService.Login through the API). */
export function loginPage(o: { csrf: string; next: string | undefined; message: string | undefined }): SafeHtml {
  return html`${o.message ? html`<div class="flash error" role="alert"><p>${o.message}</p></div>` : ''}
<form class="login" method="post" action="/login">
<input type="hidden" name="_csrf" value="${o.csrf}">
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">The first user is <span class="mono">admin</span>, whose password is the control plane's admin token until changed (<span class="mono">laneway user set-password admin</span>).</p>`;
}
