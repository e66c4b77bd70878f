import type { AlertChannel } from "../../core/alert-channel.ts";
import { REPEAT_BOUNDS, MAX_TIERS } from "../../core/alert-policy-input.ts";
import { can } from "../../core/role-permissions.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { policyProblemAnchor, tierChannelField, tierField, type PolicyFormValues } from "../policy-form.ts";
import { alertingTabs } from "./alerting-tabs.ts";
import { csrfField, errorSummary, field, problemFor, selectField } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const LABELS: Record<string, string> = {
  name: "Name",
  kind: "Kind",
  callType: "Calls",
  priority: "Priority",
  "locationMatch.value": "Location text",
  "locationMatch.type": "Location match",
  "locationMatch.field": "Location part",
};

/** A new policy or an existing one: call type, location match, tiers with their channels, delays and repeats. */
export function policyFormView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: { id: string; name: string };
  /** Absent for a new policy. */
  policy?: { id: string; name: string };
  channels: readonly AlertChannel[];
  values: PolicyFormValues;
  problems?: readonly FieldProblem[];
}): SafeHtml {
  const { org, values, viewer } = input;
  const manage = can(viewer.account.role, "alerting.manage");
  // Inline errors sit at the input they belong to; the summary keeps the API's field paths.
  const problems = (input.problems ?? []).map((p) => ({
    field: policyProblemAnchor(p.field),
    reason: p.reason,
  }));
  const action = input.policy ? `/orgs/${org.id}/policies/${input.policy.id}` : `/orgs/${org.id}/policies`;
  const title = input.policy ? `Policy ${input.policy.name}` : "New policy";
  const operations = values.kind === "operations";
  const disabled = manage ? "" : html`disabled`;

  const tierFieldset = (tier: PolicyFormValues["tiers"][number], i: number) => {
    const channelsId = `f-${tierField(i, "channelIds")}`;
    const channelError = problemFor(problems, tierField(i, "channelIds"));
    return html`<fieldset class="tier" data-tier="${i}">
      <legend>Tier ${i}${i === 0 ? " (notified at once)" : ""}</legend>
      ${
        i === 0
          ? ""
          : field({
              name: tierField(i, "afterSeconds"),
              label: "Seconds after the call",
              type: "number",
              value: tier.afterSeconds,
              inputmode: "numeric",
              hint: "Notified then if nobody has acknowledged; counted from the call, not from the tier before.",
              problems,
            })
      }
      <fieldset
        id="${channelsId}"
        ${channelError ? html`aria-describedby="${channelsId}-error"` : ""}
        tabindex="-1"
      >
        <legend>Channels</legend>
        ${channelError ? html`<p class="error-text" id="${channelsId}-error">${channelError}</p>` : ""}
        ${
          input.channels.length === 0
            ? html`<p class="muted">
                No channels yet: <a href="/orgs/${org.id}/channels">add one first</a>.
              </p>`
            : html`<ul class="checkbox-list">
                ${input.channels.map(
                  (c) =>
                    html`<li>
                      <label class="choice" for="t${i}-${c.id}">
                        <input
                          type="checkbox"
                          id="t${i}-${c.id}"
                          name="${tierChannelField(i, c.id)}"
                          ${tier.channelIds.includes(c.id) ? html`checked` : ""}
                          ${disabled}
                        />
                        ${c.name} <span class="muted small">${c.type}${c.enabled ? "" : ", disabled"}</span>
                      </label>
                    </li>`,
                )}
              </ul>`
        }
      </fieldset>
      ${
        operations
          ? ""
          : html`<div class="inline-fields">
              ${field({
                name: tierField(i, "repeat.everySeconds"),
                label: "Remind every (seconds)",
                type: "number",
                value: tier.repeatEverySeconds,
                inputmode: "numeric",
                hint: `${REPEAT_BOUNDS.everySeconds.min} to ${REPEAT_BOUNDS.everySeconds.max}; blank: no reminders`,
                problems,
              })}
              ${field({
                name: tierField(i, "repeat.times"),
                label: "Reminders",
                type: "number",
                value: tier.repeatTimes,
                inputmode: "numeric",
                hint: `${REPEAT_BOUNDS.times.min} to ${REPEAT_BOUNDS.times.max}`,
                problems,
              })}
            </div>`
      }
      ${
        manage && values.tiers.length > 1
          ? html`<button
              type="submit"
              name="action"
              value="remove-tier-${i}"
              class="button button-small button-danger"
            >
              Remove tier ${i}
            </button>`
          : ""
      }
    </fieldset>`;
  };

  const body = html`${
      // Enter in a text field presses the form's first submit button: make that one Save, not "Remove tier".
      manage
        ? html`<button
            type="submit"
            name="action"
            value="save"
            class="default-submit"
            tabindex="-1"
            aria-hidden="true"
          >
            Save
          </button>`
        : ""
    }
    ${errorSummary(input.problems, LABELS, policyProblemAnchor)}
    <fieldset ${disabled}>
      ${field({ name: "name", label: "Name", value: values.name, required: true, problems })}
      ${selectField({
        name: "kind",
        label: "Kind",
        value: values.kind,
        choices: [
          ["emergency", "Emergency calls"],
          ["operations", "Operations (the relay's own health alerts; one tier)"],
        ],
        problems,
      })}
      ${
        operations
          ? ""
          : html`${selectField({
                name: "callType",
                label: "Calls",
                value: values.callType,
                choices: [
                  ["real", "Real calls (911, 112, …)"],
                  ["test", "Test calls (933) only"],
                  ["any", "Real and test calls"],
                ],
                hint: "A test call never reaches a policy for real calls.",
                problems,
              })}
              <fieldset class="tier">
                <legend>Location match (optional site routing)</legend>
                <div class="inline-fields">
                  ${selectField({
                    name: "locationMatch.type",
                    label: "Match",
                    value: values.matchType,
                    choices: [
                      ["", "Every location"],
                      ["substring", "Location contains"],
                      ["pattern", "Location matches the regular expression"],
                    ],
                    problems,
                  })}
                  ${selectField({
                    name: "locationMatch.field",
                    label: "Location part",
                    value: values.matchField,
                    choices: [
                      ["any", "Any part"],
                      ["place", "Place (building, floor)"],
                      ["civicAddress", "Civic address"],
                      ["raw", "As written in the message"],
                    ],
                    problems,
                  })}
                </div>
                ${field({
                  name: "locationMatch.value",
                  label: "Location text",
                  value: values.matchValue,
                  hint: "Case-insensitive. A policy with a location match is tried before a general one of the same priority.",
                  problems,
                })}
              </fieldset>`
      }
      ${field({
        name: "priority",
        label: "Priority",
        type: "number",
        value: values.priority,
        inputmode: "numeric",
        hint: "Lower is tried first (0 to 10000; default 100).",
        problems,
      })}
      <div class="field">
        <label class="choice" for="f-enabled">
          <input type="checkbox" id="f-enabled" name="enabled" ${values.enabled ? html`checked` : ""} />
          Enabled
        </label>
      </div>
      <h2>Escalation</h2>
      ${values.tiers.map(tierFieldset)}
      ${
        manage && !operations && values.tiers.length < MAX_TIERS
          ? html`<p>
              <button type="submit" name="action" value="add-tier" class="button" id="add-tier">
                Add a tier
              </button>
            </p>`
          : ""
      }
      <details ${values.retryMaxAttempts || values.retryWindowSeconds ? html`open` : ""}>
        <summary class="button button-small">Retries (optional)</summary>
        <div class="inline-fields">
          ${field({
            name: "retry.maxAttempts",
            label: "Attempts per alert",
            type: "number",
            value: values.retryMaxAttempts,
            inputmode: "numeric",
            hint: "Blank: 10 attempts within an hour.",
            problems,
          })}
          ${field({
            name: "retry.windowSeconds",
            label: "Within (seconds)",
            type: "number",
            value: values.retryWindowSeconds,
            inputmode: "numeric",
            problems,
          })}
        </div>
      </details>
    </fieldset>
    ${
      manage
        ? html`<div class="actions">
            <button type="submit" name="action" value="save" class="button button-primary" id="save-policy">
              ${input.policy ? "Save policy" : "Add policy"}
            </button>
            <a class="button" href="/orgs/${org.id}/policies">Cancel</a>
          </div>`
        : html`<p><a href="/orgs/${org.id}/policies">All policies</a></p>`
    }`;

  return page({
    title,
    viewer,
    section: "channels",
    flash: input.flash,
    body: html`${alertingTabs(org, "policies")}
    ${
      manage
        ? html`<form method="post" action="${action}" class="card" id="policy-form" novalidate>
            ${csrfField(viewer.csrfToken)}
            <input type="hidden" name="tierCount" value="${values.tiers.length}" />
            ${body}
          </form>`
        : html`<div class="card" id="policy-form">${body}</div>`
    }`,
  });
}
