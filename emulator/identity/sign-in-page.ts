import type { AppRegistration, User } from "../emulator-state.ts";

const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

const layout = (title: string, body: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}.account{display:block;width:100%;text-align:left;padding:.8rem;margin:.4rem 0;border:1px solid #8a8886;background:#fff;cursor:pointer;font-size:1rem}
.account:hover,.account:focus{background:#f3f2f1}.muted{color:#605e5c;font-size:.9rem}.error{color:#a4262c}</style></head>
<body>${body}</body></html>`;

const hiddenFields = (params: Record<string, string>): string =>
  Object.entries(params)
    .filter(([key]) => !key.startsWith("emulator_"))
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join("");

/** The emulator's stand-in for Entra's account picker and consent prompt, used by browser tests. */
export function renderSignInPage(input: {
  app: AppRegistration;
  tenantUsers: User[];
  params: Record<string, string>;
  notice?: string;
}): string {
  const scopes = (input.params.scope ?? "").split(/\s+/).filter(Boolean);
  const accounts = input.tenantUsers
    .map(
      (u) =>
        `<button class="account" type="submit" name="emulator_user" value="${escapeHtml(u.id)}" data-upn="${escapeHtml(u.userPrincipalName)}">` +
        `<strong>${escapeHtml(u.displayName)}</strong><br><span class="muted">${escapeHtml(u.userPrincipalName)}</span></button>`,
    )
    .join("");
  return layout(
    "Sign in to your account",
    `<h1>Pick an account</h1>
<p>to continue to <strong>${escapeHtml(input.app.displayName)}</strong> (Microsoft 365 emulator)</p>
${input.notice ? `<p class="error">${escapeHtml(input.notice)}</p>` : ""}
<p class="muted">Accepting grants: ${scopes.map(escapeHtml).join(", ")}</p>
<form method="post" id="consent">${hiddenFields(input.params)}<input type="hidden" name="emulator_action" value="consent">
${accounts || '<p class="error">This tenant has no users.</p>'}</form>
<form method="post" id="cancel">${hiddenFields(input.params)}<input type="hidden" name="emulator_action" value="cancel">
<button type="submit">Cancel</button></form>`,
  );
}

/** `response_mode=form_post`: the browser posts the result to the redirect URI. */
export function renderFormPost(redirectUri: string, values: Record<string, string>): string {
  const fields = Object.entries(values)
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join("");
  return layout(
    "Working...",
    `<form method="post" action="${escapeHtml(redirectUri)}" id="form_post">${fields}<noscript><button type="submit">Continue</button></noscript></form>
<script>document.getElementById("form_post").submit()</script>`,
  );
}

export function renderErrorPage(description: string): string {
  return layout(
    "Sign in error",
    `<h1>Sorry, but we're having trouble signing you in.</h1><p class="error">${escapeHtml(description)}</p>`,
  );
}
