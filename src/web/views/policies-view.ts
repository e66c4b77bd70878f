import type { AlertChannel } from "../../core/alert-channel.ts";
import type { AlertPolicy } from "../../core/alert-policy.ts";
import { can } from "../../core/role-permissions.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { alertingTabs } from "./alerting-tabs.ts";
import { badge } from "./format.ts";
import { postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const CALL_TYPES: Readonly<Record<string, string>> = {
  real: "Real calls",
  test: "Test calls (933)",
  any: "Real and test calls",
};

export function policiesView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: { id: string; name: string };
  policies: readonly AlertPolicy[];
  channels: readonly AlertChannel[];
}): SafeHtml {
  const { org, viewer } = input;
  const manage = can(viewer.account.role, "alerting.manage");
  const names = new Map(input.channels.map((c) => [c.id, c.name]));
  const base = `/orgs/${org.id}/policies`;
  const sorted = [...input.policies].sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt);
  const table =
    sorted.length === 0
      ? html`<p class="empty">
          No policies: every real call goes to the operations policy, or to
          nobody.${manage ? " Add one below." : ""}
        </p>`
      : html`<div class="table-wrap">
          <table class="data" id="policies">
            <caption class="visually-hidden">
              Alert policies of ${org.name}, in the order they are tried
            </caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Takes</th>
                <th scope="col">Escalation</th>
                <th scope="col">Priority</th>
                <th scope="col">State</th>
                ${manage ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ""}
              </tr>
            </thead>
            <tbody>
              ${sorted.map(
                (p) =>
                  html`<tr data-policy-id="${p.id}" data-policy-name="${p.name}">
                    <th scope="row"><a href="${base}/${p.id}">${p.name}</a></th>
                    <td data-label="Takes">
                      ${p.kind === "operations" ? "The relay's own health alerts" : CALL_TYPES[p.callType]}${
                        p.locationMatch
                          ? html`<br /><span class="small"
                                >where
                                ${p.locationMatch.field === "any" ? "the location" : p.locationMatch.field}
                                ${p.locationMatch.type === "pattern" ? "matches" : "contains"}
                                <code>${p.locationMatch.value}</code></span
                              >`
                          : ""
                      }
                    </td>
                    <td data-label="Escalation">
                      <ol class="tiers-summary" start="0">
                        ${p.tiers.map(
                          (t, i) =>
                            html`<li>
                              ${i === 0 ? "at once" : `after ${t.afterSeconds} s`}:
                              ${t.channelIds.map((id) => names.get(id) ?? `missing channel ${id}`).join(", ")}${
                                t.repeat
                                  ? `, again every ${t.repeat.everySeconds} s (${t.repeat.times}×)`
                                  : ""
                              }
                            </li>`,
                        )}
                      </ol>
                    </td>
                    <td data-label="Priority">${p.priority}</td>
                    <td data-label="State">
                      ${p.enabled ? badge("enabled", "ok") : badge("disabled", "neutral")}
                    </td>
                    ${
                      manage
                        ? html`<td data-label="Actions">
                            <div class="actions">
                              <a class="button button-small" href="${base}/${p.id}">Edit</a>
                              ${postForm(
                                `${base}/${p.id}/delete`,
                                viewer.csrfToken,
                                html`<button
                                  type="submit"
                                  class="button button-small button-danger"
                                  data-confirm="Delete the policy ${p.name}?"
                                >
                                  Delete
                                </button>`,
                                html`class="inline"`,
                              )}
                            </div>
                          </td>`
                        : ""
                    }
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  return page({
    title: `Policies · ${org.name}`,
    viewer,
    section: "channels",
    flash: input.flash,
    body: html`${alertingTabs(org, "policies")}
      <p class="lead">
        Who hears about a call: the first enabled policy whose call type and location match (lowest priority
        first) notifies its tier 0 at once, then each further tier after its delay unless someone
        acknowledged.
      </p>
      ${table}
      ${manage ? html`<p><a class="button button-primary" href="${base}/new" id="new-policy">Add a policy</a></p>` : ""}`,
  });
}
