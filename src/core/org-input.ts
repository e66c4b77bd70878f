import { NOTIFICATION_MODES, type NewOrg, type NotificationMode, type OrgPatch } from "./org.ts";
import type { FieldProblem } from "./validation-error.ts";

// Parsing of the admin API's org bodies. Pure: every bad field is reported at once, values are normalised
// (GUIDs lowercased, URLs without trailing slash, times as epoch ms), and no reason ever repeats a value, so a
// pasted secret cannot leak through an error response or a log line.

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

/** The tenant of personal Microsoft accounts (MSA); a Teams service user is always a work account. */
export const CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad";

export const MAX_NAME_LENGTH = 200;
export const MAX_CLIENT_SECRET_LENGTH = 1024;
const MAX_URL_LENGTH = 2048;
const MAX_UPN_LENGTH = 256;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Date, `T`, time with optional seconds and fraction, and a mandatory zone: an expiry without a zone is ambiguous.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;
// Same rule as the emulator's user creation: one `@`, no whitespace.
const UPN = /^[^@\s]+@[^@\s]+$/;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const TENANT_ALIASES = new Set(["common", "organizations", "consumers"]);

const CREATE_FIELDS = ["name", "webhookBaseUrl", "expectedServiceUserUpn", "notificationMode"] as const;
const UPDATE_FIELDS = [
  "name",
  "tenantId",
  "clientId",
  "clientSecret",
  "clientSecretExpiresAt",
  "webhookBaseUrl",
  "expectedServiceUserUpn",
  "notificationMode",
] as const;
// Known to the API but set after creation, because the redirect URI the app registration needs contains the id.
const UPDATE_ONLY_FIELDS = new Set<string>(
  UPDATE_FIELDS.filter((f) => !(CREATE_FIELDS as readonly string[]).includes(f)),
);

/** `POST /api/orgs`: `name` (required), `webhookBaseUrl`, `expectedServiceUserUpn`. */
export function parseCreateOrg(body: unknown): ParseResult<NewOrg> {
  const fields = objectBody(body);
  if (fields === undefined) return notAnObject();
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, CREATE_FIELDS, problems, (field) =>
    UPDATE_ONLY_FIELDS.has(field)
      ? "cannot be set when creating an org; create it first (its redirect URI contains the org id), then PATCH /api/orgs/{id}"
      : undefined,
  );
  const value: NewOrg = { name: "" };
  if (!("name" in fields) || fields.name === undefined) {
    problems.push({ field: "name", reason: "is required" });
  } else {
    const name = parseName(fields.name, problems);
    if (name !== undefined) value.name = name;
  }
  if ("webhookBaseUrl" in fields) {
    const url = nullable(fields.webhookBaseUrl, (raw) => parseWebhookBaseUrl(raw, problems));
    if (url !== undefined) value.webhookBaseUrl = url;
  }
  if ("expectedServiceUserUpn" in fields) {
    const upn = nullable(fields.expectedServiceUserUpn, (raw) => parseUpn(raw, problems));
    if (upn !== undefined) value.expectedServiceUserUpn = upn;
  }
  if ("notificationMode" in fields) {
    const mode = parseNotificationMode(fields.notificationMode, problems);
    if (mode !== undefined) value.notificationMode = mode;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}

/**
 * `PATCH /api/orgs/{id}`: any subset of the org's fields. A field left out stays as it is; `null` clears it
 * (except `name`). `clientSecretExpiresAt` is an ISO-8601 date-time with a zone, returned as epoch ms.
 */
export function parseUpdateOrg(body: unknown): ParseResult<OrgPatch> {
  const fields = objectBody(body);
  if (fields === undefined) return notAnObject();
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, UPDATE_FIELDS, problems, () => undefined);
  const value: OrgPatch = {};

  if ("name" in fields) {
    const name = parseName(fields.name, problems);
    if (name !== undefined) value.name = name;
  }
  if ("tenantId" in fields) {
    const tenantId = nullable(fields.tenantId, (raw) => parseTenantId(raw, problems));
    if (tenantId !== undefined) value.tenantId = tenantId;
  }
  if ("clientId" in fields) {
    const clientId = nullable(fields.clientId, (raw) => parseGuid(raw, "clientId", problems, clientIdHelp));
    if (clientId !== undefined) value.clientId = clientId;
  }
  if ("clientSecret" in fields) {
    const secret = nullable(fields.clientSecret, (raw) => parseClientSecret(raw, problems));
    if (secret !== undefined) value.clientSecret = secret;
  }
  if ("clientSecretExpiresAt" in fields) {
    const expiresAt = nullable(fields.clientSecretExpiresAt, (raw) => parseExpiry(raw, problems));
    if (expiresAt !== undefined) value.clientSecretExpiresAt = expiresAt;
  }
  if ("webhookBaseUrl" in fields) {
    const url = nullable(fields.webhookBaseUrl, (raw) => parseWebhookBaseUrl(raw, problems));
    if (url !== undefined) value.webhookBaseUrl = url;
  }
  if ("expectedServiceUserUpn" in fields) {
    const upn = nullable(fields.expectedServiceUserUpn, (raw) => parseUpn(raw, problems));
    if (upn !== undefined) value.expectedServiceUserUpn = upn;
  }
  if ("notificationMode" in fields) {
    const mode = parseNotificationMode(fields.notificationMode, problems);
    if (mode !== undefined) value.notificationMode = mode;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}

function parseNotificationMode(raw: unknown, problems: FieldProblem[]): NotificationMode | undefined {
  if (typeof raw === "string" && (NOTIFICATION_MODES as readonly string[]).includes(raw))
    return raw as NotificationMode;
  problems.push({
    field: "notificationMode",
    reason:
      'must be "rich" (notifications carry the encrypted message) or "basic" (the relay fetches each message)',
  });
  return undefined;
}

function objectBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  return body as Record<string, unknown>;
}

function notAnObject(): { ok: false; problems: FieldProblem[] } {
  return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
}

function rejectUnknown(
  fields: Record<string, unknown>,
  known: readonly string[],
  problems: FieldProblem[],
  explain: (field: string) => string | undefined,
): void {
  for (const field of Object.keys(fields)) {
    if (known.includes(field)) continue;
    problems.push({
      field,
      reason: explain(field) ?? `is not a known field (expected ${known.join(", ")})`,
    });
  }
}

/** `null` passes through as "clear"; `undefined` (a problem) stays undefined. */
function nullable<T>(raw: unknown, parse: (raw: unknown) => T | undefined): T | null | undefined {
  return raw === null ? null : parse(raw);
}

function parseName(raw: unknown, problems: FieldProblem[]): string | undefined {
  const reason = `must be a string of 1 to ${MAX_NAME_LENGTH} characters`;
  if (typeof raw !== "string") return problem(problems, "name", reason);
  const name = raw.trim();
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return problem(problems, "name", reason);
  if (CONTROL_CHARACTERS.test(name)) {
    return problem(problems, "name", "must not contain control characters (line breaks, tabs)");
  }
  return name;
}

const tenantIdHelp =
  "must be the Directory (tenant) ID from the app registration's overview, a GUID such as 00000000-0000-0000-0000-000000000000";
const clientIdHelp =
  "must be the Application (client) ID from the app registration's overview, a GUID such as 00000000-0000-0000-0000-000000000000";

function parseGuid(raw: unknown, field: string, problems: FieldProblem[], help: string): string | undefined {
  if (typeof raw !== "string" || !GUID.test(raw.trim())) return problem(problems, field, help);
  return raw.trim().toLowerCase();
}

function parseTenantId(raw: unknown, problems: FieldProblem[]): string | undefined {
  if (typeof raw === "string" && TENANT_ALIASES.has(raw.trim().toLowerCase())) {
    return problem(
      problems,
      "tenantId",
      "must be the org's own Directory (tenant) ID GUID, not common, organizations or consumers: the relay signs in to one tenant",
    );
  }
  const tenantId = parseGuid(raw, "tenantId", problems, tenantIdHelp);
  if (tenantId === CONSUMER_TENANT_ID) {
    return problem(
      problems,
      "tenantId",
      "is the tenant of personal Microsoft accounts, which cannot be used: the service user must be a work account in the org's own Entra tenant",
    );
  }
  return tenantId;
}

function parseClientSecret(raw: unknown, problems: FieldProblem[]): string | undefined {
  const reason = `must be a non-empty string of at most ${MAX_CLIENT_SECRET_LENGTH} characters (the secret's Value, not its Secret ID)`;
  if (typeof raw !== "string") return problem(problems, "clientSecret", reason);
  // Pasting from the portal often brings a trailing newline; Entra secrets never start or end with whitespace.
  const secret = raw.trim();
  if (secret.length === 0 || secret.length > MAX_CLIENT_SECRET_LENGTH) {
    return problem(problems, "clientSecret", reason);
  }
  if (CONTROL_CHARACTERS.test(secret)) {
    return problem(problems, "clientSecret", "must not contain control characters (line breaks, tabs)");
  }
  return secret;
}

function parseExpiry(raw: unknown, problems: FieldProblem[]): number | undefined {
  const reason =
    "must be an ISO-8601 date-time with a time zone, such as 2027-05-31T00:00:00Z (the secret's Expires date), or null";
  if (typeof raw !== "string") return problem(problems, "clientSecretExpiresAt", reason);
  const match = DATE_TIME.exec(raw.trim());
  if (!match) return problem(problems, "clientSecretExpiresAt", reason);
  const numbers = match.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, zoneHour = 0, zoneMinute = 0] =
    numbers;
  // Date.parse accepts 2026-02-30 (as March 2nd), so check the calendar ourselves.
  const daysInMonth = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
  const valid =
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    zoneHour <= 23 &&
    zoneMinute <= 59;
  const epochMs = valid ? Date.parse(raw.trim()) : NaN;
  if (!Number.isFinite(epochMs)) return problem(problems, "clientSecretExpiresAt", reason);
  return epochMs;
}

function parseWebhookBaseUrl(raw: unknown, problems: FieldProblem[]): string | undefined {
  const field = "webhookBaseUrl";
  if (typeof raw !== "string" || raw.trim() === "" || raw.length > MAX_URL_LENGTH) {
    return problem(problems, field, "must be an absolute https URL such as https://relay.example.com");
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return problem(problems, field, "must be an absolute https URL such as https://relay.example.com");
  }
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    return problem(
      problems,
      field,
      "must use https (Graph only delivers to https; http is allowed for localhost only)",
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return problem(problems, field, "must be an https URL");
  }
  if (url.username !== "" || url.password !== "") {
    return problem(problems, field, "must not contain credentials");
  }
  if (url.search !== "" || url.hash !== "" || /[?#]/.test(raw)) {
    return problem(problems, field, "must not contain a query string or fragment");
  }
  return url.href.replace(/\/+$/, "");
}

function parseUpn(raw: unknown, problems: FieldProblem[]): string | undefined {
  const field = "expectedServiceUserUpn";
  const reason = "must be a user principal name such as relay-service@contoso.com";
  if (typeof raw !== "string") return problem(problems, field, reason);
  const upn = raw.trim();
  if (upn.length > MAX_UPN_LENGTH || !UPN.test(upn)) return problem(problems, field, reason);
  return upn;
}

function problem(problems: FieldProblem[], field: string, reason: string): undefined {
  problems.push({ field, reason });
  return undefined;
}
