import {
  TEMPLATE_KINDS,
  TEMPLATE_VARIABLES,
  type AlertTemplate,
  type TemplateKind,
} from "../../core/alert-template.ts";
import { can } from "../../core/role-permissions.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { alertingTabs } from "./alerting-tabs.ts";
import { badge } from "./format.ts";
import { csrfField, errorSummary, field, postForm, problemFor } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const KIND_TEXT: Readonly<Record<TemplateKind, { title: string; about: string }>> = {
  emergency: { title: "Emergency call", about: "The first alert of a real call (tier 0)." },
  test: { title: "Test call", about: "The first alert of a 933 test call." },
  escalation: { title: "Escalation", about: "Later tiers and reminders, while nobody has acknowledged." },
  operational: {
    title: "Operational",
    about: "The relay's own health alerts (token, subscription, secret, delivery).",
  },
};

export interface TemplateState {
  kind: TemplateKind;
  /** What the form shows: the one in force, or what was just typed. */
  template: AlertTemplate;
  isDefault: boolean;
  /** A rendered sample, or the problems that kept it from rendering. */
  preview: { title: string; text: string } | { problems: readonly FieldProblem[] };
  problems?: readonly FieldProblem[];
}

export function templatesView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: { id: string; name: string };
  templates: readonly TemplateState[];
}): SafeHtml {
  const { org, viewer } = input;
  const manage = can(viewer.account.role, "alerting.manage");
  const byKind = new Map(input.templates.map((t) => [t.kind, t]));
  return page({
    title: `Templates · ${org.name}`,
    viewer,
    section: "channels",
    flash: input.flash,
    body: html`${alertingTabs(org, "templates")}
      <p class="lead">
        The words of every alert. Variables such as <code>{{caller}}</code> are filled in; a line whose
        variables are all empty is left out. A missing location reads LOCATION UNKNOWN, a typed one NOT
        VERIFIED.
      </p>
      ${TEMPLATE_KINDS.map((kind) => section(byKind.get(kind)!, org.id, viewer, manage))}`,
  });
}

function section(state: TemplateState, orgId: string, viewer: PageViewer, manage: boolean): SafeHtml {
  const { kind, template } = state;
  const about = KIND_TEXT[kind];
  const action = `/orgs/${orgId}/templates/${kind}`;
  const previewId = `preview-${kind}`;
  const labels = { title: "Title", text: "Text" };
  const textError = problemFor(state.problems, "text");
  const preview =
    "problems" in state.preview
      ? html`<div class="preview" id="${previewId}" data-preview-state="invalid" aria-live="polite">
          <p class="small muted">Preview</p>
          <p class="preview-title" data-preview-title></p>
          <pre data-preview-text>
${state.preview.problems.map((p) => `${p.field}: ${p.reason}`).join("\n")}</pre>
        </div>`
      : html`<div class="preview" id="${previewId}" data-preview-state="ok" aria-live="polite">
          <p class="small muted">Preview with a sample call</p>
          <p class="preview-title" data-preview-title>${state.preview.title}</p>
          <pre data-preview-text>${state.preview.text}</pre>
        </div>`;
  const variables = html`<p class="small variables">
    Variables: ${TEMPLATE_VARIABLES[kind].map((v) => html`<code>{{${v}}}</code>`)}
  </p>`;
  return html`<section class="card" aria-labelledby="h-${kind}" id="template-${kind}" data-kind="${kind}">
    <h2 id="h-${kind}">
      ${about.title} ${state.isDefault ? badge("built-in", "neutral") : badge("customized", "ok")}
    </h2>
    <p class="muted">${about.about}</p>
    ${
      manage
        ? html`<form
              method="post"
              action="${action}"
              class="stack"
              data-preview-url="${action}/preview"
              data-preview-target="${previewId}"
              novalidate
            >
              ${csrfField(viewer.csrfToken)} ${errorSummary(state.problems, labels, (f) => `${kind}-${f}`)}
              ${field({
                name: "title",
                id: `f-${kind}-title`,
                label: "Title",
                value: template.title,
                hint: "One line: the e-mail subject, the card title, the first line of an SMS.",
                ...(state.problems ? { problems: state.problems } : {}),
              })}
              <div class="field${textError ? " field-error" : ""}">
                <label for="f-${kind}-text">Text</label>
                ${textError ? html`<p class="error-text" id="f-${kind}-text-error">${textError}</p>` : ""}
                <textarea
                  id="f-${kind}-text"
                  name="text"
                  rows="12"
                  spellcheck="false"
                  ${textError ? html`aria-invalid="true" aria-describedby="f-${kind}-text-error"` : ""}
                >
${template.text}</textarea>
              </div>
              ${variables}
              <div class="actions">
                <button type="submit" name="action" value="save" class="button button-primary">Save</button>
                <button type="submit" name="action" value="preview" class="button">Preview</button>
              </div>
            </form>
            ${preview}
            ${
              state.isDefault
                ? ""
                : postForm(
                    `${action}/reset`,
                    viewer.csrfToken,
                    html`<button
                      type="submit"
                      class="button button-small"
                      data-confirm="Restore the built-in ${about.title.toLowerCase()} template?"
                    >
                      Restore the built-in template
                    </button>`,
                    html`class="actions"`,
                  )
            }`
        : html`<dl class="facts">
              <dt>Title</dt>
              <dd><code>${template.title}</code></dd>
              <dt>Text</dt>
              <dd><pre class="message-text">${template.text}</pre></dd>
            </dl>
            ${variables} ${preview}`
    }
  </section>`;
}
