import { missingForConnect, redirectUriFor, type Org } from "../../core/org.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import { webhookUrls } from "../../core/subscription-policy.ts";
import type { ConnectionStatus } from "../../flows/keep-tokens.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { errorSummary, field, postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";
import { connectionBadge } from "./org-health.ts";

export type SetupStep = "name" | "app" | "network";

/** The delegated Microsoft Graph permissions the app registration needs (README, Azure and Teams setup). */
export const DELEGATED_PERMISSIONS: readonly { name: string; why: string }[] = [
  { name: "User.Read", why: "sign in and read the service user's profile" },
  { name: "Chat.Read", why: "read the service user's chat messages (the emergency notifications)" },
  { name: "Chat.ReadBasic", why: "list the service user's chats" },
  {
    name: "ChatMessage.Read",
    why: "read messages in those chats (the source document spells it ChatMessages.Read)",
  },
  { name: "openid", why: "OpenID Connect sign-in" },
  { name: "offline_access", why: "a refresh token, so the relay stays connected without a person" },
  { name: "profile", why: "the user's name in the ID token" },
];

const LABELS: Record<string, string> = {
  name: "Name",
  tenantId: "Directory (tenant) ID",
  clientId: "Application (client) ID",
  clientSecret: "Client secret value",
  clientSecretExpiresAt: "Client secret expires",
  expectedServiceUserUpn: "Service user",
  webhookBaseUrl: "Webhook URL",
  notificationMode: "Notification mode",
};

export function orgSetupView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: Org;
  status: ConnectionStatus;
  publicUrl: string;
  inbound: { port: number; tls: boolean };
  failed?: { step: SetupStep; problems: readonly FieldProblem[]; values: Record<string, string> };
}): SafeHtml {
  const { org, viewer, failed } = input;
  const redirectUri = redirectUriFor(input.publicUrl, org.id);
  const problemsFor = (step: SetupStep) => (failed?.step === step ? failed.problems : undefined);
  const valueOf = (step: SetupStep, name: string, stored: string | null) =>
    failed?.step === step && name in failed.values ? failed.values[name]! : (stored ?? "");
  const missing = missingForConnect(org);
  const connected = input.status.connection.state !== "disconnected";
  const webhookBase = org.webhookBaseUrl ?? input.publicUrl;
  const urls = webhookUrls(webhookBase);
  const expiryDate =
    org.clientSecretExpiresAt === null
      ? null
      : new Date(org.clientSecretExpiresAt).toISOString().slice(0, 10);

  const step = (id: string, number: number, title: string, done: boolean, body: SafeHtml) =>
    html`<li class="step${done ? " step-done" : ""}" id="step-${id}">
      <h2>
        <span class="step-number" aria-hidden="true">${done ? "✓" : number}</span>
        <span class="visually-hidden">Step ${number}${done ? " (done)" : ""}:</span> ${title}
      </h2>
      <div class="step-body">${body}</div>
    </li>`;

  const nameStep = postForm(
    `/orgs/${org.id}/setup`,
    viewer.csrfToken,
    html`<input type="hidden" name="step" value="name" />
      ${errorSummary(problemsFor("name"), LABELS)}
      ${field({ name: "name", label: "Name", value: valueOf("name", "name", org.name), required: true, problems: problemsFor("name") ?? [] })}
      <button type="submit" class="button">Rename</button>`,
    html`class="stack compact"`,
  );

  const registerStep = html`<p>
      In the <strong>Microsoft Entra admin center</strong>, open <em>App registrations</em> and choose
      <em>New registration</em>:
    </p>
    <ol class="instructions">
      <li>
        <strong>Supported account types:</strong> accounts in this organizational directory only (single
        tenant).
      </li>
      <li>
        <strong>Redirect URI:</strong> platform <strong>Web</strong> (not <em>Single-page application</em>:
        its refresh tokens die after 24 hours), with exactly this URI:
        <div class="copy-row">
          <input class="code" id="redirect-uri" readonly value="${redirectUri}" aria-label="Redirect URI" />
          <button type="button" class="button" data-copy="#redirect-uri">Copy</button>
        </div>
      </li>
      <li>
        <strong>API permissions:</strong> <em>Add a permission</em>, <em>Microsoft Graph</em>,
        <strong>Delegated permissions</strong>, and add each of these:
        <div class="table-wrap">
          <table class="data compact" id="permissions">
            <thead>
              <tr>
                <th scope="col">Permission</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              ${DELEGATED_PERMISSIONS.map(
                (p) =>
                  html`<tr>
                    <td><code>${p.name}</code></td>
                    <td>${p.why}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        <p class="callout">
          <strong>No application permissions are needed</strong>, and none should be added: the relay reads
          only what its service user can read. Grant admin consent if your tenant does not let users consent.
        </p>
      </li>
      <li>
        <strong>Certificates &amp; secrets:</strong> <em>New client secret</em>. Copy its
        <strong>Value</strong> (not the Secret ID) and note its <strong>Expires</strong> date. Your policy may
        cap it (the source document uses six months); the relay warns 30, 14, 7 and 1 days before it expires.
      </li>
      <li>
        On the app's <em>Overview</em>, copy the <strong>Application (client) ID</strong> and the
        <strong>Directory (tenant) ID</strong>.
      </li>
      <li>
        The <strong>service user</strong> is a licensed Microsoft 365 account in the notification group of
        your emergency calling policies; it is the account you will sign in with in step 5.
      </li>
    </ol>`;

  const appStep = postForm(
    `/orgs/${org.id}/setup`,
    viewer.csrfToken,
    html`<input type="hidden" name="step" value="app" />
      ${errorSummary(problemsFor("app"), LABELS)}
      <div class="grid-2">
        ${field({ name: "tenantId", label: LABELS.tenantId!, value: valueOf("app", "tenantId", org.tenantId), code: true, autocomplete: "off", placeholder: "00000000-0000-0000-0000-000000000000", problems: problemsFor("app") ?? [] })}
        ${field({ name: "clientId", label: LABELS.clientId!, value: valueOf("app", "clientId", org.clientId), code: true, autocomplete: "off", placeholder: "00000000-0000-0000-0000-000000000000", problems: problemsFor("app") ?? [] })}
      </div>
      <div class="grid-2">
        ${field({
          name: "clientSecret",
          label: LABELS.clientSecret!,
          type: "password",
          code: true,
          autocomplete: "new-password",
          hint: org.hasClientSecret
            ? "A secret is stored (it is never shown). Leave empty to keep it; enter a new value to replace it."
            : "The secret's Value from Certificates & secrets. Stored encrypted, never shown again.",
          problems: problemsFor("app") ?? [],
        })}
        ${field({
          name: "clientSecretExpiresAt",
          label: LABELS.clientSecretExpiresAt!,
          type: "date",
          value: valueOf("app", "clientSecretExpiresAt", expiryDate),
          hint: "The Expires date shown next to the secret.",
          problems: problemsFor("app") ?? [],
        })}
      </div>
      ${field({
        name: "expectedServiceUserUpn",
        label: LABELS.expectedServiceUserUpn!,
        type: "email",
        code: true,
        value: valueOf("app", "expectedServiceUserUpn", org.expectedServiceUserUpn),
        placeholder: "emergency-relay@contoso.com",
        hint: "Optional: the service user's sign-in name, suggested on Microsoft's sign-in page.",
        problems: problemsFor("app") ?? [],
      })}
      <button type="submit" class="button button-primary">Save app values</button>`,
    html`class="stack" autocomplete="off"`,
  );

  const mode = valueOf("network", "notificationMode", org.notificationMode);
  const networkStep = postForm(
    `/orgs/${org.id}/setup`,
    viewer.csrfToken,
    html`<input type="hidden" name="step" value="network" />
      ${errorSummary(problemsFor("network"), LABELS)}
      <p>
        Microsoft Graph posts each new message to the relay's webhook, which must be reachable from the
        internet over <strong>HTTPS (TLS 1.2+) on port ${input.inbound.port}</strong>${
          input.inbound.tls
            ? " (the relay serves TLS itself)"
            : " (behind a reverse proxy or load balancer that terminates TLS)"
        },
        with a certificate whose DNS name matches the webhook URL. The relay also needs outbound HTTPS to
        <code>login.microsoftonline.com</code> and <code>graph.microsoft.com</code>.
      </p>
      <dl class="facts">
        <dt>Notifications</dt>
        <dd><code id="notification-url">${urls.notificationUrl}</code></dd>
        <dt>Lifecycle events</dt>
        <dd><code>${urls.lifecycleNotificationUrl}</code></dd>
      </dl>
      ${field({
        name: "webhookBaseUrl",
        label: LABELS.webhookBaseUrl!,
        type: "url",
        code: true,
        value: valueOf("network", "webhookBaseUrl", org.webhookBaseUrl),
        placeholder: input.publicUrl,
        hint: `Leave empty to use the relay's public URL (${input.publicUrl}).`,
        problems: problemsFor("network") ?? [],
      })}
      <fieldset class="field">
        <legend>${LABELS.notificationMode}</legend>
        <label class="choice"
          ><input
            type="radio"
            name="notificationMode"
            value="rich"
            ${mode === "rich" ? html` checked` : ""}
          />
          <span
            ><strong>Rich</strong> (recommended): each notification carries the message, encrypted to a
            certificate only the relay holds.</span
          ></label
        >
        <label class="choice"
          ><input
            type="radio"
            name="notificationMode"
            value="basic"
            ${mode === "basic" ? html` checked` : ""}
          />
          <span
            ><strong>Basic</strong>: notifications carry only the message id and the relay reads each message
            from Graph. For tenants whose policy forbids message content in notifications.</span
          ></label
        >
      </fieldset>
      <button type="submit" class="button">Save network settings</button>`,
    html`class="stack"`,
  );

  const connectStep = html`${
      missing.length > 0
        ? html`<p class="callout callout-warn" id="connect-missing">
            Before connecting, enter: ${missing.map((m) => LABELS[m] ?? m).join(", ")} (step 3).
          </p>`
        : ""
    }
    <p>
      Connect opens Microsoft's sign-in page. Sign in as the <strong>service user</strong>${
        org.expectedServiceUserUpn ? html` (<code>${org.expectedServiceUserUpn}</code>)` : ""
      }
      and accept the permissions. Microsoft then returns to the relay, which shows the result.
    </p>
    <p>
      Current state:
      ${connectionBadge(input.status)}${
        input.status.connection.user
          ? html` as
              <strong
                >${input.status.connection.user.displayName ?? input.status.connection.user.userPrincipalName}</strong
              >
              (<code>${input.status.connection.user.userPrincipalName}</code>)`
          : ""
      }
    </p>
    ${postForm(
      `/orgs/${org.id}/connect`,
      viewer.csrfToken,
      html`${
          connected
            ? html`<label class="choice"
                ><input type="checkbox" name="replaceUser" value="true" />
                <span
                  >Allow a different service user than the connected one (it replaces the connection).</span
                ></label
              >`
            : ""
        }
        <button
          type="submit"
          class="button button-primary"
          id="connect-button"
          ${missing.length > 0 ? html` disabled` : ""}
        >
          ${connected ? "Reconnect with Microsoft" : "Connect with Microsoft"}
        </button>`,
      html`class="stack compact"`,
    )}`;

  const checkStep = html`<p>
      The relay's <code>doctor</code> checks for this organization: Entra ID and Graph reachable, the webhook
      answering Graph's validation handshake, the certificate, the connection, the client secret and the
      subscription. Each shows pass or fail with the fix.
    </p>
    <p>
      <a class="button" href="/orgs/${org.id}/checks" id="run-checks">Run the checks</a>
      <a class="button" href="/orgs/${org.id}">Open the status page</a>
    </p>`;

  return page({
    title: `Set up ${org.name}`,
    viewer,
    section: "orgs",
    flash: input.flash,
    body: html`<p class="lead">
        Follow these steps once per organization, in order. They match the source document's Azure steps;
        nothing here needs an application permission.
      </p>
      <ol class="steps">
        ${step("name", 1, "Organization", true, nameStep)}
        ${step("register", 2, "Register the app in Microsoft Entra", org.clientId !== null, registerStep)}
        ${step("app", 3, "Enter the app's values", missing.length === 0 && org.clientSecretExpiresAt !== null, appStep)}
        ${step("network", 4, "Webhook and notifications", false, networkStep)}
        ${step("connect", 5, "Connect the service user", input.status.connection.state === "connected", connectStep)}
        ${step("check", 6, "Check everything", false, checkStep)}
      </ol>`,
  });
}
