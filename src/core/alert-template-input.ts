import { TEMPLATE_KINDS, checkTemplate, type AlertTemplate, type TemplateKind } from "./alert-template.ts";
import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

export function parseTemplateKind(raw: string): TemplateKind | undefined {
  return (TEMPLATE_KINDS as readonly string[]).includes(raw) ? (raw as TemplateKind) : undefined;
}

/**
 * `PUT /api/org/{orgId}/templates/{kind}` `{title, text}`; for a preview both are optional and fall back to
 * `fallback` (the template in force). Unknown variables are refused here, on save, never at alert time.
 */
export function parseTemplateInput(
  kind: TemplateKind,
  body: unknown,
  fallback?: AlertTemplate,
): ParseResult<AlertTemplate> {
  const fields =
    body === undefined || body === null
      ? {}
      : typeof body === "object" && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : undefined;
  if (fields === undefined)
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(fields))
    if (key !== "title" && key !== "text")
      problems.push({ field: key, reason: "is not a known field (expected title, text)" });
  const pick = (field: "title" | "text"): string => {
    const raw = fields[field] ?? fallback?.[field];
    if (typeof raw === "string") return raw;
    problems.push({ field, reason: raw === undefined ? "is required" : "must be a string" });
    return "";
  };
  const template = { title: pick("title"), text: pick("text") };
  if (problems.length === 0) problems.push(...checkTemplate(kind, template));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: template };
}
