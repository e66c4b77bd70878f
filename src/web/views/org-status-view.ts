import type { Org } from "../../core/org.ts";
import { can } from "../../core/role-permissions.ts";
import type { SubscriptionStatus } from "../../flows/keep-subscriptions.ts";
import type { ConnectionStatus } from "../../flows/keep-tokens.ts";
import type { OperationalEvent } from "../../storage/operational-event-store.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { badge, isoTime, relativeTime, timeTag, type Tone } from "./format.ts";
import { postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";
import { connectionBadge, secretBadge, subscriptionBadge } from "./org-health.ts";

export interface OrgStatusData {
  org: Org;
  status: ConnectionStatus;
  subscriptions: SubscriptionStatus[];
  messageCounts: Record<string, number>;
  /** `webhook_delivery_gap` events: messages polling found that no notification brought. */
  gaps: OperationalEvent[];
  /** Newest first. */
  events: OperationalEvent[];
}

const SEVERITY_TONE: Readonly<Record<string, Tone>> = {
  info: "neutral",
  warning: "warn",
  error: "bad",
  critical: "bad",
};

export function orgStatusView(
  input: OrgStatusData & { viewer: PageViewer; flash: readonly FlashMessage[]; now: number },
): SafeHtml {
  const { org, status, viewer, now } = input;
  const { connection, clientSecret } = status;
  const manage = can(viewer.account.role, "orgs.manage");
  const when = (iso: string | null) =>
    iso
      ? html`${isoTime(iso)} <span class="muted">(${relativeTime(Date.parse(iso), now)})</span>`
      : html`never`;
  const lastNotification = input.subscriptions
    .map((s) => s.lastNotificationAt)
    .filter((t): t is string => t !== null)
    .sort()
    .at(-1);

  const connectionCard = html`<section class="card" aria-labelledby="h-connection" id="connection">
    <h2 id="h-connection">Connection ${connectionBadge(status)}</h2>
    <dl class="facts">
      <dt>Service user</dt>
      <dd id="service-user">
        ${
          connection.user
            ? html`${connection.user.displayName ?? connection.user.userPrincipalName}<br /><code
                  >${connection.user.userPrincipalName}</code
                >`
            : "none connected"
        }
      </dd>
      <dt>Tenant</dt>
      <dd><code>${org.tenantId ?? "not set"}</code></dd>
      <dt>Access token expires</dt>
      <dd>${when(connection.accessTokenExpiresAt)}</dd>
      <dt>Last refresh</dt>
      <dd>${when(connection.lastRefreshAt)}</dd>
      ${
        connection.consecutiveFailures > 0
          ? html`<dt>Failures in a row</dt>
              <dd>${connection.consecutiveFailures}</dd>`
          : ""
      }
      ${
        connection.lastError
          ? html`<dt>Last error</dt>
              <dd class="error-text">
                ${connection.lastError.message}${
                  connection.lastError.aadsts ? html` (AADSTS${connection.lastError.aadsts})` : ""
                }
              </dd>`
          : ""
      }
    </dl>
    ${
      manage
        ? html`<div class="actions">
            ${postForm(`/orgs/${org.id}/test-connection`, viewer.csrfToken, html`<button type="submit" class="button" id="test-connection">Test connection</button>`, html`class="inline"`)}
            ${postForm(
              `/orgs/${org.id}/connect`,
              viewer.csrfToken,
              html`${connection.state !== "disconnected" ? html`<input type="hidden" name="replaceUser" value="true" />` : ""}<button
                  type="submit"
                  class="button"
                  id="reconnect"
                >
                  ${connection.state === "disconnected" ? "Connect" : "Reconnect"}
                </button>`,
              html`class="inline"`,
            )}
          </div>`
        : ""
    }
  </section>`;

  const secretCard = html`<section class="card" aria-labelledby="h-secret" id="secret">
    <h2 id="h-secret">Client secret ${secretBadge(status)}</h2>
    <dl class="facts">
      <dt>Expires</dt>
      <dd>${clientSecret.expiresAt ? isoTime(clientSecret.expiresAt) : "not entered"}</dd>
      <dt>Days left</dt>
      <dd id="secret-days-left">${clientSecret.daysLeft ?? "unknown"}</dd>
    </dl>
    ${
      manage && (clientSecret.daysLeft === null || clientSecret.daysLeft < 30)
        ? html`<p class="small">
            Create a new secret in Entra and enter it with its expiry in
            <a href="/orgs/${org.id}/setup#step-app">setup step 3</a>.
          </p>`
        : ""
    }
  </section>`;

  const subscriptionCard = html`<section class="card" aria-labelledby="h-subscription" id="subscription">
    <h2 id="h-subscription">Subscription ${subscriptionBadge(input.subscriptions, now)}</h2>
    ${
      input.subscriptions.length === 0
        ? html`<p class="muted">
            No Graph subscription
            yet${connection.state === "connected" ? "; the relay is creating one" : ": connect first"}.
          </p>`
        : input.subscriptions.map(
            (s) =>
              html`<dl class="facts">
                <dt>State</dt>
                <dd>${s.state}</dd>
                <dt>Expires</dt>
                <dd>${when(s.expiresAt)}</dd>
                <dt>Last renewed</dt>
                <dd>${when(s.lastRenewedAt)}</dd>
                <dt>Resource</dt>
                <dd><code>${s.resource}</code></dd>
                ${
                  s.id
                    ? html`<dt>Id</dt>
                        <dd><code class="small">${s.id}</code></dd>`
                    : ""
                }
                ${
                  s.lastError
                    ? html`<dt>Last error</dt>
                        <dd class="error-text">${s.lastError}</dd>`
                    : ""
                }
              </dl>`,
          )
    }
    ${
      manage
        ? html`<div class="actions">
            ${postForm(
              `/orgs/${org.id}/renew`,
              viewer.csrfToken,
              html`<button type="submit" class="button" id="renew-now">Renew now</button>`,
              html`class="inline"`,
            )}
          </div>`
        : ""
    }
  </section>`;

  const counts = input.messageCounts;
  const intakeCard = html`<section class="card" aria-labelledby="h-intake" id="intake">
    <h2 id="h-intake">
      Messages
      ${
        input.gaps.length > 0
          ? badge(`${input.gaps.length} polling gap${input.gaps.length === 1 ? "" : "s"}`, "warn")
          : badge("No gaps", "ok")
      }
    </h2>
    <dl class="facts">
      <dt>Last notification</dt>
      <dd id="last-notification">${lastNotification ? when(lastNotification) : "none yet"}</dd>
      <dt>By notification</dt>
      <dd>${counts.notification ?? 0}</dd>
      <dt>Found by polling</dt>
      <dd>${counts.polling ?? 0}</dd>
    </dl>
    ${
      input.gaps.length > 0
        ? html`<p class="small">
            Polling found messages that Graph never delivered as notifications (latest
            ${timeTag(input.gaps[0]!.createdAt)}): ${input.gaps[0]!.message}
          </p>`
        : html`<p class="small muted">
            Polling every few minutes finds messages Graph's webhooks miss; none so far.
          </p>`
    }
  </section>`;

  const eventsSection = html`<section aria-labelledby="h-events" id="events">
    <h2 id="h-events">Recent operational events</h2>
    ${
      input.events.length === 0
        ? html`<p class="empty">No events yet.</p>`
        : html`<div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Event</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                ${input.events.map(
                  (e) =>
                    html`<tr>
                      <td data-label="When">${timeTag(e.createdAt)}</td>
                      <td data-label="Severity">
                        ${badge(e.severity, SEVERITY_TONE[e.severity] ?? "neutral")}
                      </td>
                      <td data-label="Event"><code>${e.kind}</code></td>
                      <td data-label="Message">${e.message}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
  </section>`;

  return page({
    title: org.name,
    viewer,
    section: "orgs",
    flash: input.flash,
    body: html`<p class="lead">
        Status of the connection to Microsoft 365 for this
        organization.${
          manage
            ? html` <a href="/orgs/${org.id}/setup">Setup</a> ·
                <a href="/orgs/${org.id}/checks">Run the checks</a>`
            : ""
        }
      </p>
      <div class="cards">${connectionCard}${secretCard}${subscriptionCard}${intakeCard}</div>
      ${eventsSection}`,
  });
}
