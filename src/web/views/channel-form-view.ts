import type { AlertChannel } from "../../core/alert-channel.ts";
import type { ChannelType } from "../../core/alert.ts";
import { can } from "../../core/role-permissions.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { CHANNEL_FIELDS, CHANNEL_TYPE_LABELS, type ChannelFieldSpec } from "../channel-form.ts";
import { alertingTabs } from "./alerting-tabs.ts";
import { csrfField, errorSummary, field, problemFor } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

/** `/orgs/{id}/channels/new?type=` and `/orgs/{id}/channels/{channelId}`: the type's own fields. */
export function channelFormView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: { id: string; name: string };
  type: ChannelType;
  /** Absent for a new channel. */
  channel?: AlertChannel;
  /** The stored channel's safe description (which secrets are set, the URL's origin). */
  described?: Record<string, unknown>;
  values: Record<string, string>;
  problems?: readonly FieldProblem[];
}): SafeHtml {
  const { org, type, channel, viewer } = input;
  const manage = can(viewer.account.role, "alerting.manage");
  const specs = CHANNEL_FIELDS[type];
  const title = channel ? `Channel ${channel.name}` : `New ${CHANNEL_TYPE_LABELS[type]} channel`;
  const labels = Object.fromEntries([["name", "Name"], ...specs.map((s) => [s.name, s.label])]);
  const action = channel ? `/orgs/${org.id}/channels/${channel.id}` : `/orgs/${org.id}/channels`;

  if (!manage) {
    return page({
      title,
      viewer,
      section: "channels",
      flash: input.flash,
      body: html`${alertingTabs(org, "channels")}
        <dl class="facts card">
          <dt>Type</dt>
          <dd>${CHANNEL_TYPE_LABELS[type]}</dd>
          <dt>Enabled</dt>
          <dd>${channel?.enabled ? "yes" : "no"}</dd>
          ${specs.map(
            (spec) =>
              html`<dt>${spec.label}</dt>
                <dd>
                  ${spec.kind === "secret" ? secretState(spec, input.described) : input.values[spec.name] || "not set"}
                </dd>`,
          )}
        </dl>
        <p><a href="/orgs/${org.id}/channels">All channels</a></p>`,
    });
  }

  return page({
    title,
    viewer,
    section: "channels",
    flash: input.flash,
    body: html`${alertingTabs(org, "channels")}
      <form method="post" action="${action}" class="card stack" id="channel-form" novalidate>
        ${csrfField(viewer.csrfToken)}
        ${channel ? "" : html`<input type="hidden" name="type" value="${type}" />`}
        ${errorSummary(input.problems, labels)}
        <p class="muted">Type: ${CHANNEL_TYPE_LABELS[type]}</p>
        ${field({
          name: "name",
          label: "Name",
          value: input.values.name ?? "",
          required: true,
          hint: "Shown in policies, on the board and in the delivery record.",
          ...(input.problems ? { problems: input.problems } : {}),
        })}
        <div class="field">
          <label class="choice" for="f-enabled">
            <input
              type="checkbox"
              id="f-enabled"
              name="enabled"
              ${input.values.enabled === "on" ? html`checked` : ""}
            />
            Enabled (a disabled channel is skipped by every policy)
          </label>
        </div>
        ${specs.map((spec) => channelField(spec, input.values, input.problems, input.described))}
        <div class="actions">
          <button type="submit" class="button button-primary">
            ${channel ? "Save changes" : "Add channel"}
          </button>
          <a class="button" href="/orgs/${org.id}/channels">Cancel</a>
        </div>
      </form>`,
  });
}

function channelField(
  spec: ChannelFieldSpec,
  values: Record<string, string>,
  problems: readonly FieldProblem[] | undefined,
  described: Record<string, unknown> | undefined,
): SafeHtml {
  const common = { name: spec.name, label: spec.label, ...(problems ? { problems } : {}) };
  if (spec.kind === "secret") {
    const state = described === undefined ? undefined : secretState(spec, described);
    const stored = state !== undefined && state.startsWith("Set");
    const hint = stored
      ? html`${state}. Leave blank to keep it.${spec.hint ? html` ${spec.hint}` : ""}`
      : (spec.hint ?? "");
    // Never rendered back: not the stored value, not even what was typed before a form error.
    return field({
      ...common,
      type: spec.secretUrl ? "url" : "password",
      value: "",
      autocomplete: spec.secretUrl ? "off" : "new-password",
      code: true,
      required: Boolean(spec.required && !stored),
      hint,
    });
  }
  if (spec.kind === "list" || spec.kind === "select") {
    const id = `f-${spec.name}`;
    const error = problemFor(problems, spec.name);
    const described = [spec.hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
    const control =
      spec.kind === "list"
        ? html`<textarea
            id="${id}"
            name="${spec.name}"
            rows="4"
            spellcheck="false"
            ${described ? html`aria-describedby="${described}"` : ""}
            ${error ? html`aria-invalid="true"` : ""}
          >
${values[spec.name] ?? ""}</textarea>`
        : html`<select
            id="${id}"
            name="${spec.name}"
            ${described ? html`aria-describedby="${described}"` : ""}
          >
            ${(spec.options ?? []).map(
              (o) =>
                html`<option value="${o}" ${values[spec.name] === o ? html`selected` : ""}>${o}</option>`,
            )}
          </select>`;
    return html`<div class="field${error ? " field-error" : ""}">
      <label for="${id}"
        >${spec.label}${spec.required ? html` <span class="req" aria-hidden="true">*</span>` : ""}</label
      >
      ${error ? html`<p class="error-text" id="${id}-error"><span class="visually-hidden">Error:</span> ${error}</p>` : ""}
      ${control} ${spec.hint ? html`<p class="hint" id="${id}-hint">${spec.hint}</p>` : ""}
    </div>`;
  }
  return field({
    ...common,
    type: spec.kind === "number" ? "number" : "text",
    value: values[spec.name] ?? "",
    ...(spec.required ? { required: true } : {}),
    ...(spec.hint ? { hint: spec.hint } : {}),
    ...(spec.kind === "number" ? { inputmode: "numeric" } : { code: spec.name !== "from" }),
  });
}

/** "Set", "Not set", or the URL's origin: what the admin may know about a stored secret. */
function secretState(spec: ChannelFieldSpec, described: Record<string, unknown> | undefined): string {
  if (described === undefined) return "not set";
  if (spec.secretUrl) {
    const origin = described.urlOrigin;
    return typeof origin === "string" ? `Set: ${origin}/… (the full URL is never shown)` : "Not readable";
  }
  const flag = `has${spec.name[0]!.toUpperCase()}${spec.name.slice(1)}`;
  return described[flag] === true ? "Set" : "Not set";
}
