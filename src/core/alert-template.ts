// Alert text with `{{variables}}`: built-in defaults per kind, per-org overrides, checked on save (an unknown
// variable is a typo that would silently drop the location from a 911 alert) and rendered in one pass, so a
// value that looks like `{{x}}` (a caller's display name) stays literal.
import type { FieldProblem } from "./validation-error.ts";

export type TemplateKind = "emergency" | "escalation" | "test" | "operational";
export const TEMPLATE_KINDS: readonly TemplateKind[] = ["emergency", "escalation", "test", "operational"];

export interface AlertTemplate {
  /** Subject line: e-mail subject, card title, first SMS line. */
  title: string;
  /** Plain-text body. */
  text: string;
}

const CALL_VARIABLES = [
  "callType",
  "caller",
  "callerUpn",
  "dialString",
  "location",
  "locationQuality",
  "place",
  "civicAddress",
  "coordinates",
  "time",
  "orgName",
  "ackUrl",
  "mapUrl",
  "teamsUrl",
  "tier",
  "emergencyId",
] as const;

const OPERATIONAL_VARIABLES = ["orgName", "time", "severity", "eventKind", "eventMessage"] as const;

export type TemplateVariable = (typeof CALL_VARIABLES)[number] | (typeof OPERATIONAL_VARIABLES)[number];

export const TEMPLATE_VARIABLES: Readonly<Record<TemplateKind, readonly TemplateVariable[]>> = {
  emergency: CALL_VARIABLES,
  escalation: CALL_VARIABLES,
  test: CALL_VARIABLES,
  operational: OPERATIONAL_VARIABLES,
};

const CALL_BODY = [
  "{{caller}} dialed {{dialString}} from Microsoft Teams at {{time}}.",
  "",
  "Location: {{location}}",
  "Location quality: {{locationQuality}}",
  "Coordinates: {{coordinates}}",
  "Map: {{mapUrl}}",
  "",
  "Acknowledge (tell the others you are on it): {{ackUrl}}",
  "Teams chat: {{teamsUrl}}",
  "Organization: {{orgName}}",
].join("\n");

export const DEFAULT_TEMPLATES: Readonly<Record<TemplateKind, AlertTemplate>> = {
  emergency: {
    title: "EMERGENCY CALL {{dialString}}: {{caller}} at {{location}}",
    text: CALL_BODY,
  },
  test: {
    title: "TEST CALL {{dialString}} (not an emergency): {{caller}} at {{location}}",
    text: `This was a test call ({{dialString}}): no emergency services were involved.\n\n${CALL_BODY}`,
  },
  escalation: {
    title:
      "NOT ACKNOWLEDGED (escalation tier {{tier}}): {{callType}} {{dialString}} by {{caller}} at {{location}}",
    text: `Nobody has acknowledged this call yet, so you are being notified (escalation tier {{tier}}).\n\n${CALL_BODY}`,
  },
  operational: {
    title: "Teams Emergency Relay [{{severity}}] {{orgName}}: {{eventKind}}",
    text: [
      "{{eventMessage}}",
      "",
      "Event: {{eventKind}} ({{severity}})",
      "Time: {{time}}",
      "Organization: {{orgName}}",
      "",
      "Emergency alerts for this organization may not arrive until this is fixed.",
    ].join("\n"),
  },
};

export const MAX_TITLE_LENGTH = 300;
export const MAX_TEXT_LENGTH = 4000;

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

/** Every problem with a template for `kind`, as field problems on `title` and `text`. */
export function checkTemplate(kind: TemplateKind, template: AlertTemplate): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const known = TEMPLATE_VARIABLES[kind];
  for (const field of ["title", "text"] as const) {
    const value = template[field];
    const max = field === "title" ? MAX_TITLE_LENGTH : MAX_TEXT_LENGTH;
    if (value.trim() === "" || value.length > max) {
      problems.push({ field, reason: `must be a non-empty string of at most ${max} characters` });
      continue;
    }
    if (field === "title" && /[\r\n]/.test(value)) {
      problems.push({ field, reason: "must be one line (it becomes an e-mail subject)" });
    }
    const unknown = [...value.matchAll(PLACEHOLDER)]
      .map((m) => m[1]!)
      .filter((name) => !(known as readonly string[]).includes(name));
    if (unknown.length > 0) {
      const names = [...new Set(unknown)].map((n) => `{{${n}}}`).join(", ");
      problems.push({
        field,
        reason: `uses unknown variable${unknown.length === 1 ? "" : "s"} ${names}; a ${kind} template may use ${known.map((n) => `{{${n}}}`).join(", ")}`,
      });
    }
    // `{{` that is not a placeholder is almost always a mistyped one.
    if (value.replace(PLACEHOLDER, "").includes("{{")) {
      problems.push({ field, reason: "has a `{{` that does not start a variable such as {{caller}}" });
    }
  }
  return problems;
}

/**
 * Fills the variables in one pass. A line whose variables all rendered empty (no map link, no Teams link) is
 * left out, so alerts carry no dangling "Map:" lines; other empty values render as nothing.
 */
export function renderTemplate(
  template: AlertTemplate,
  values: Readonly<Record<string, string>>,
): AlertTemplate {
  return { title: renderText(template.title, values).trim(), text: renderText(template.text, values) };
}

function renderText(text: string, values: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    let used = 0;
    let filled = 0;
    const rendered = line.replace(PLACEHOLDER, (_match, name: string) => {
      used += 1;
      const value = values[name] ?? "";
      if (value !== "") filled += 1;
      return value;
    });
    if (used > 0 && filled === 0) continue;
    lines.push(rendered);
  }
  // Dropped lines can leave blank lines doubled or trailing.
  return lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
