import type { AlertChannel } from "../../core/alert-channel.ts";
import { CHANNEL_TYPES } from "../../core/alert.ts";
import { can } from "../../core/role-permissions.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { CHANNEL_TYPE_LABELS } from "../channel-form.ts";
import { alertingTabs } from "./alerting-tabs.ts";
import { badge } from "./format.ts";
import { postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

export interface ChannelRow {
  channel: AlertChannel;
  /** The type's safe view of its settings (`describe`): no secrets. */
  described: Record<string, unknown>;
  /** Names of the policies that route to it. */
  usedBy: string[];
}

export function channelsView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: { id: string; name: string };
  rows: readonly ChannelRow[];
  /** Secrets the relay generated for a channel just created: shown this once. */
  generated?: { channelName: string; secrets: Record<string, string> };
}): SafeHtml {
  const { org, viewer } = input;
  const manage = can(viewer.account.role, "alerting.manage");
  const base = `/orgs/${org.id}/channels`;
  const table =
    input.rows.length === 0
      ? html`<p class="empty">No channels yet.${manage ? " Add one below." : ""}</p>`
      : html`<div class="table-wrap">
          <table class="data" id="channels">
            <caption class="visually-hidden">
              Alert channels of ${org.name}
            </caption>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Type</th>
                <th scope="col">Sends to</th>
                <th scope="col">State</th>
                <th scope="col">Used by</th>
                ${manage ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ""}
              </tr>
            </thead>
            <tbody>
              ${input.rows.map(({ channel, described, usedBy }) => {
                const id = `${base}/${channel.id}`;
                return html`<tr data-channel-id="${channel.id}" data-channel-name="${channel.name}">
                  <th scope="row"><a href="${id}">${channel.name}</a></th>
                  <td data-label="Type">${CHANNEL_TYPE_LABELS[channel.type]}</td>
                  <td data-label="Sends to">${targetSummary(channel, described)}</td>
                  <td data-label="State">
                    ${channel.enabled ? badge("enabled", "ok") : badge("disabled", "bad")}${
                      channel.disabledReason
                        ? html`<br /><span class="small error-text">${channel.disabledReason}</span>`
                        : ""
                    }
                  </td>
                  <td data-label="Used by">
                    ${usedBy.length > 0 ? usedBy.join(", ") : html`<span class="muted">no policy</span>`}
                  </td>
                  ${
                    manage
                      ? html`<td data-label="Actions">
                          <div class="actions">
                            ${postForm(`${id}/test`, viewer.csrfToken, html`<button type="submit" class="button button-small">Send test</button>`, html`class="inline"`)}
                            <a class="button button-small" href="${id}">Edit</a>
                            ${postForm(
                              `${id}/${channel.enabled ? "disable" : "enable"}`,
                              viewer.csrfToken,
                              html`<button type="submit" class="button button-small">
                                ${channel.enabled ? "Disable" : "Enable"}
                              </button>`,
                              html`class="inline"`,
                            )}
                            ${postForm(
                              `${id}/delete`,
                              viewer.csrfToken,
                              html`<button
                                type="submit"
                                class="button button-small button-danger"
                                data-confirm="Delete the channel ${channel.name}?"
                              >
                                Delete
                              </button>`,
                              html`class="inline"`,
                            )}
                          </div>
                        </td>`
                      : ""
                  }
                </tr>`;
              })}
            </tbody>
          </table>
        </div>`;
  return page({
    title: `Channels · ${org.name}`,
    viewer,
    section: "channels",
    flash: input.flash,
    body: html`${alertingTabs(org, "channels")}
      ${
        input.generated
          ? html`<div class="callout callout-warn" role="status" id="generated-secret">
              <p>
                The channel <strong>${input.generated.channelName}</strong> got a generated signing secret.
                Copy it into the receiver now: it is shown only this once.
              </p>
              ${Object.entries(input.generated.secrets).map(
                ([name, value]) =>
                  html`<div class="copy-row">
                    <label class="visually-hidden" for="generated-${name}">${name}</label>
                    <input type="text" id="generated-${name}" class="code" readonly value="${value}" />
                    <button type="button" class="button button-small" data-copy="#generated-${name}">
                      Copy
                    </button>
                  </div>`,
              )}
            </div>`
          : ""
      }
      <p class="lead">
        Where alerts go. Secrets (webhook URLs, tokens, passwords) are stored encrypted and never shown again.
      </p>
      ${table}
      ${
        manage
          ? html`<section class="card" aria-labelledby="h-add" id="add-channel">
              <h2 id="h-add">Add a channel</h2>
              <div class="type-choices">
                ${CHANNEL_TYPES.map(
                  (type) =>
                    html`<a class="button" href="${base}/new?type=${type}">${CHANNEL_TYPE_LABELS[type]}</a>`,
                )}
              </div>
            </section>`
          : ""
      }`,
  });
}

function targetSummary(channel: AlertChannel, described: Record<string, unknown>): string {
  const count = (value: unknown, noun: string) =>
    Array.isArray(value) ? `${value.length} ${noun}${value.length === 1 ? "" : "s"}` : "";
  switch (channel.type) {
    case "webhook":
    case "teams":
    case "slack":
      return typeof described.urlOrigin === "string" ? described.urlOrigin : "URL not readable";
    case "email":
      return `${String(described.host ?? "")}:${String(described.port ?? "")} to ${count(described.to, "address")}`;
    case "webex":
      return `room ${String(described.roomId ?? "")}`;
    case "sms":
      return count(described.to, "number");
  }
}
