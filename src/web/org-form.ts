import { parseUpdateOrg, type ParseResult } from "../core/org-input.ts";
import type { Org, OrgPatch } from "../core/org.ts";

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const CLEARABLE = ["tenantId", "clientId", "webhookBaseUrl", "expectedServiceUserUpn"] as const;

/**
 * The setup wizard's form fields as the admin API's PATCH body, then core/org-input.ts's parser, so the web form
 * shows exactly the API's field errors. A field absent from the form stays as it is; an emptied one is cleared;
 * an empty secret field keeps the stored secret (it is never shown back). A date-only expiry (the portal shows
 * a date) means the start of that day in UTC, so warnings come early rather than late.
 */
export function parseOrgForm(form: Record<string, string>): ParseResult<OrgPatch> {
  const body: Record<string, unknown> = {};
  if ("name" in form) body.name = form.name;
  for (const name of CLEARABLE) {
    if (name in form) body[name] = form[name]!.trim() === "" ? null : form[name];
  }
  if ("clientSecret" in form && form.clientSecret!.trim() !== "") body.clientSecret = form.clientSecret;
  if ("clientSecretExpiresAt" in form) {
    const raw = form.clientSecretExpiresAt!.trim();
    body.clientSecretExpiresAt = raw === "" ? null : DATE_ONLY.test(raw) ? `${raw}T00:00:00Z` : raw;
  }
  if ("notificationMode" in form) body.notificationMode = form.notificationMode;
  return parseUpdateOrg(body);
}

/** Only what differs from the stored org, so saving an unchanged form does not replace the subscription. */
export function changedOnly(org: Org, patch: OrgPatch): OrgPatch {
  const changed: OrgPatch = {};
  if (patch.name !== undefined && patch.name !== org.name) changed.name = patch.name;
  if (patch.tenantId !== undefined && patch.tenantId !== org.tenantId) changed.tenantId = patch.tenantId;
  if (patch.clientId !== undefined && patch.clientId !== org.clientId) changed.clientId = patch.clientId;
  if (patch.clientSecret !== undefined) changed.clientSecret = patch.clientSecret;
  if (patch.clientSecretExpiresAt !== undefined && patch.clientSecretExpiresAt !== org.clientSecretExpiresAt)
    changed.clientSecretExpiresAt = patch.clientSecretExpiresAt;
  if (patch.webhookBaseUrl !== undefined && patch.webhookBaseUrl !== org.webhookBaseUrl)
    changed.webhookBaseUrl = patch.webhookBaseUrl;
  if (
    patch.expectedServiceUserUpn !== undefined &&
    patch.expectedServiceUserUpn !== org.expectedServiceUserUpn
  )
    changed.expectedServiceUserUpn = patch.expectedServiceUserUpn;
  if (patch.notificationMode !== undefined && patch.notificationMode !== org.notificationMode)
    changed.notificationMode = patch.notificationMode;
  return changed;
}
