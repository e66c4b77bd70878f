import type { Org } from "../../core/org.ts";
import { missingForConnect } from "../../core/org.ts";
import { can } from "../../core/role-permissions.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { SubscriptionStatus } from "../../flows/keep-subscriptions.ts";
import type { ConnectionStatus } from "../../flows/keep-tokens.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { errorSummary, field, postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";
import { connectionBadge, secretBadge, subscriptionBadge } from "./org-health.ts";

export interface OrgSummary {
  org: Org;
  status: ConnectionStatus;
  subscriptions: SubscriptionStatus[];
}

export function orgsView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  orgs: readonly OrgSummary[];
  now: number;
  form?: { name: string; problems: readonly FieldProblem[] };
}): SafeHtml {
  const manage = can(input.viewer.account.role, "orgs.manage");
  const list =
    input.orgs.length === 0
      ? html`<p class="empty">
          No organization is set up yet.${manage ? " Create the first one below." : ""}
        </p>`
      : html`<div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">
              Organizations and their health
            </caption>
            <thead>
              <tr>
                <th scope="col">Organization</th>
                <th scope="col">Connection</th>
                <th scope="col">Client secret</th>
                <th scope="col">Subscription</th>
                ${manage ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ""}
              </tr>
            </thead>
            <tbody>
              ${input.orgs.map(({ org, status, subscriptions }) => {
                const missing = missingForConnect(org);
                return html`<tr data-org-id="${org.id}">
                  <th scope="row">
                    <a href="/orgs/${org.id}">${org.name}</a>${
                      missing.length > 0 ? html`<br /><span class="muted small">Setup incomplete</span>` : ""
                    }
                  </th>
                  <td data-label="Connection">
                    ${connectionBadge(status)}${
                      status.connection.user
                        ? html`<br /><span class="small">${status.connection.user.userPrincipalName}</span>`
                        : ""
                    }
                  </td>
                  <td data-label="Client secret">${secretBadge(status)}</td>
                  <td data-label="Subscription">${subscriptionBadge(subscriptions, input.now)}</td>
                  ${manage ? html`<td><a class="button button-small" href="/orgs/${org.id}/setup">Setup</a></td>` : ""}
                </tr>`;
              })}
            </tbody>
          </table>
        </div>`;
  const create = manage
    ? html`<section class="panel" aria-labelledby="new-org-heading" id="new-org">
        <h2 id="new-org-heading">New organization</h2>
        <p>
          Step 1 of the setup: name the organization (its Microsoft 365 tenant). The next page shows the
          redirect URI to register in Entra, which contains the organization's id.
        </p>
        ${errorSummary(input.form?.problems, { name: "Name" })}
        ${postForm(
          "/orgs",
          input.viewer.csrfToken,
          html`${field({
              name: "name",
              label: "Name",
              value: input.form?.name ?? "",
              required: true,
              hint: "Shown on alerts and on the board, e.g. Contoso.",
              ...(input.form ? { problems: input.form.problems } : {}),
            })} <button type="submit" class="button button-primary">Create and continue</button>`,
          html`class="stack"`,
        )}
      </section>`
    : "";
  return page({
    title: "Organizations",
    viewer: input.viewer,
    section: "orgs",
    flash: input.flash,
    body: html`${list}${create}`,
  });
}
