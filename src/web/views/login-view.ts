import type { SafeHtml } from "./html.ts";
import { html } from "./html.ts";
import { page } from "./layout.ts";

export function loginView(input: {
  loginToken: string;
  next: string;
  username?: string;
  error?: string;
  notice?: string;
}): SafeHtml {
  return page({
    title: "Sign in",
    hideTitle: true,
    body: html`<div class="login-card panel">
      <h1>Sign in</h1>
      <p class="muted">Teams Emergency Relay</p>
      ${input.notice ? html`<div class="flash flash-info" role="status">${input.notice}</div>` : ""}
      ${input.error ? html`<div class="flash flash-error" role="alert" id="login-error">${input.error}</div>` : ""}
      <form method="post" action="/login" class="stack">
        <input type="hidden" name="_login" value="${input.loginToken}" />
        <input type="hidden" name="next" value="${input.next}" />
        <div class="field">
          <label for="f-username">Username</label>
          <input
            id="f-username"
            name="username"
            type="text"
            autocomplete="username"
            autocapitalize="off"
            spellcheck="false"
            required
            value="${input.username ?? ""}"
            ${input.username ? "" : html` autofocus`}
          />
        </div>
        <div class="field">
          <label for="f-password">Password</label>
          <input
            id="f-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required${input.username ? html` autofocus` : ""}
          />
        </div>
        <button type="submit" class="button button-primary">Sign in</button>
      </form>
    </div>`,
  });
}
