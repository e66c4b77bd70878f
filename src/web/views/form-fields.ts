import type { FieldProblem } from "../../core/validation-error.ts";
import { CSRF_FIELD } from "../csrf.ts";
import { html, type SafeHtml } from "./html.ts";

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}" />`;
}

/** A POST form with this session's CSRF token. `attrs` are trusted (built with `html`). */
export function postForm(action: string, csrfToken: string, body: SafeHtml, attrs?: SafeHtml): SafeHtml {
  return html`<form method="post" action="${action}" ${attrs ?? ""}>${csrfField(csrfToken)}${body}</form>`;
}

export interface FieldOptions {
  name: string;
  label: string;
  value?: string | null;
  type?: "text" | "password" | "date" | "url" | "email" | "search" | "number";
  hint?: string | SafeHtml;
  problems?: readonly FieldProblem[];
  required?: boolean;
  autocomplete?: string;
  placeholder?: string;
  inputmode?: string;
  /** Monospace, no spell checking: ids, secrets, URLs. */
  code?: boolean;
  /** Element id when the same field appears more than once on a page (default `f-<name>`). */
  id?: string;
}

export function problemFor(problems: readonly FieldProblem[] | undefined, name: string): string | undefined {
  return problems?.find((p) => p.field === name)?.reason;
}

/** Label, input, hint and error, tied together for screen readers (aria-describedby, aria-invalid). */
export function field(options: FieldOptions): SafeHtml {
  const id = options.id ?? `f-${options.name}`;
  const error = problemFor(options.problems, options.name);
  const described = [options.hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field${error ? " field-error" : ""}">
    <label for="${id}"
      >${options.label}${options.required ? html` <span class="req" aria-hidden="true">*</span>` : ""}</label
    >
    ${error ? html`<p class="error-text" id="${id}-error"><span class="visually-hidden">Error:</span> ${error}</p>` : ""}
    <input
      id="${id}"
      name="${options.name}"
      type="${options.type ?? "text"}"
      value="${options.value ?? ""}"
      ${
        options.required ? html` required` : ""
      }${options.autocomplete ? html` autocomplete="${options.autocomplete}"` : ""}${
        options.placeholder ? html` placeholder="${options.placeholder}"` : ""
      }${options.inputmode ? html` inputmode="${options.inputmode}"` : ""}${
        options.code ? html` class="code" spellcheck="false" autocapitalize="off"` : ""
      }${described ? html` aria-describedby="${described}"` : ""}${error ? html` aria-invalid="true"` : ""}
    />
    ${options.hint ? html`<p class="hint" id="${id}-hint">${options.hint}</p>` : ""}
  </div>`;
}

/** The list of every problem at the top of a form, each linking to its field (focus moves here on load). */
export function errorSummary(
  problems: readonly FieldProblem[] | undefined,
  labels: Record<string, string> = {},
  /** The field a problem links to, when its name is not an input's (`tiers[0].channelIds[2]`). */
  anchorOf: (field: string) => string = (f) => f,
): SafeHtml {
  if (!problems || problems.length === 0) return html``;
  return html`<div class="error-summary" role="alert" tabindex="-1" data-autofocus>
    <h2>There ${problems.length === 1 ? "is a problem" : `are ${problems.length} problems`}</h2>
    <ul>
      ${problems.map(
        (p) =>
          html`<li><a href="#f-${anchorOf(p.field)}">${labels[p.field] ?? p.field}: ${p.reason}</a></li>`,
      )}
    </ul>
  </div>`;
}

/** A labelled <select> with its hint and error, like `field`. `options`: [value, label] pairs. */
export function selectField(options: {
  name: string;
  label: string;
  value: string;
  choices: readonly (readonly [string, string])[];
  hint?: string;
  problems?: readonly FieldProblem[];
  id?: string;
}): SafeHtml {
  const id = options.id ?? `f-${options.name}`;
  const error = problemFor(options.problems, options.name);
  const described = [options.hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field${error ? " field-error" : ""}">
    <label for="${id}">${options.label}</label>
    ${error ? html`<p class="error-text" id="${id}-error"><span class="visually-hidden">Error:</span> ${error}</p>` : ""}
    <select
      id="${id}"
      name="${options.name}"
      ${described ? html`aria-describedby="${described}"` : ""}
      ${error ? html`aria-invalid="true"` : ""}
    >
      ${options.choices.map(
        ([value, label]) =>
          html`<option value="${value}" ${value === options.value ? html`selected` : ""}>${label}</option>`,
      )}
    </select>
    ${options.hint ? html`<p class="hint" id="${id}-hint">${options.hint}</p>` : ""}
  </div>`;
}
