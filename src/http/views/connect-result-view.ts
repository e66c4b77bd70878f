const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
.ok{color:#0b6a0b}.fail{color:#a4262c}code{background:#f3f2f1;padding:0 .2rem}</style></head>
<body>${body}</body></html>`;

/** The page the admin's browser lands on after Microsoft's sign-in. */
export function connectSuccessView(input: {
  orgName: string;
  userPrincipalName: string;
  displayName: string | null;
  tenantId: string;
  /** Links back to the web app's status page. */
  orgId?: string;
}): string {
  return page(
    "Connected",
    `<h1 class="ok" id="result" data-result="connected">Connected</h1>
<p><strong>${escapeHtml(input.orgName)}</strong> now receives Teams messages through the service user
<strong>${escapeHtml(input.displayName ?? input.userPrincipalName)}</strong> (<code>${escapeHtml(input.userPrincipalName)}</code>)
in tenant <code>${escapeHtml(input.tenantId)}</code>.</p>
<p>The relay keeps this connection alive by itself. You can close this page.</p>${backLink(input.orgId, "", "Open the organization's status page")}`,
  );
}

/** A link into the web app (`/orgs/{id}{suffix}`); nothing without an org id. */
const backLink = (orgId: string | undefined, suffix: string, text: string) =>
  orgId === undefined
    ? ""
    : `\n<p><a id="back-to-org" href="/orgs/${escapeHtml(encodeURIComponent(orgId))}${suffix}">${escapeHtml(text)}</a></p>`;

export function connectFailureView(input: { reason: string; code: string; orgId?: string }): string {
  return page(
    "Connection failed",
    `<h1 class="fail" id="result" data-result="failed" data-code="${escapeHtml(input.code)}">Connection failed</h1>
<p>${escapeHtml(input.reason)}</p>
<p>Nothing was changed. Start again from Connect once this is fixed.</p>${backLink(input.orgId, "/setup#step-connect", "Back to the setup")}`,
  );
}
