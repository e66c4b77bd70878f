/** Markup that is already safe: built by `html`, or a trusted constant passed through `raw`. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  // null, undefined and false render nothing, so `${cond && html`...`}` works.
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/**
 * Every interpolation is escaped unless it is SafeHtml (another `html` result), so a template cannot forget to
 * escape an org name or an error message. Attribute values must be quoted in the template.
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/** For trusted constants only (never request data). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
