import type { FastifyInstance, FastifyRequest } from "fastify";
import { RelayError } from "../core/errors.ts";
import { parseCreateOrg, parseUpdateOrg } from "../core/org-input.ts";
import {
  missingForConnect,
  redirectUriFor,
  type ConnectField,
  type NotificationMode,
  type Org,
} from "../core/org.ts";
import { ValidationError } from "../core/validation-error.ts";
import type { OrgStore } from "../storage/org-store.ts";
import type { AdminGuard } from "./admin-auth.ts";

export interface OrgRoutesDeps {
  orgs: OrgStore;
  /** RELAY_PUBLIC_URL, for each org's redirect URI. */
  publicUrl: string;
  requireAdmin: AdminGuard;
  /** After an update: the subscription keeper re-checks the org when how Graph notifies it changed. */
  onOrgUpdated?: (org: Org, fields: readonly string[]) => Promise<void>;
}

/** An org as the admin API shows it: never the client secret, only whether one is stored. */
export interface OrgView {
  id: string;
  name: string;
  tenantId: string | null;
  clientId: string | null;
  hasClientSecret: boolean;
  /** ISO-8601. */
  clientSecretExpiresAt: string | null;
  webhookBaseUrl: string | null;
  expectedServiceUserUpn: string | null;
  secretExpiryWarnedDays: number | null;
  notificationMode: NotificationMode;
  createdAt: string;
  updatedAt: string;
  /** What to register in the app registration (platform Web), exactly. */
  redirectUri: string;
  /** Empty when the service user can be connected. */
  missingForConnect: ConnectField[];
}

export function orgView(org: Org, publicUrl: string): OrgView {
  return {
    id: org.id,
    name: org.name,
    tenantId: org.tenantId,
    clientId: org.clientId,
    hasClientSecret: org.hasClientSecret,
    clientSecretExpiresAt: org.clientSecretExpiresAt === null ? null : iso(org.clientSecretExpiresAt),
    webhookBaseUrl: org.webhookBaseUrl,
    expectedServiceUserUpn: org.expectedServiceUserUpn,
    secretExpiryWarnedDays: org.secretExpiryWarnedDays,
    notificationMode: org.notificationMode,
    createdAt: iso(org.createdAt),
    updatedAt: iso(org.updatedAt),
    redirectUri: redirectUriFor(publicUrl, org.id),
    missingForConnect: missingForConnect(org),
  };
}

// Org bodies are a few hundred bytes; no reason to read a megabyte from anyone.
const BODY_LIMIT = 16 * 1024;

/** The admin API for orgs. Every route is admin-only; input is validated whole before anything changes. */
export function registerOrgRoutes(app: FastifyInstance, deps: OrgRoutesDeps): void {
  const { orgs, publicUrl } = deps;
  // onRequest: credentials are checked before the body is read or parsed.
  const admin = { onRequest: deps.requireAdmin, bodyLimit: BODY_LIMIT };
  // Bodies are JSON only. Fastify also parses text/plain (and form bodies once @fastify/formbody is registered
  // for the OAuth form_post callback); refusing them keeps cross-site HTML forms out once a session cookie is
  // accepted alongside the bearer token.
  const adminWithBody = { ...admin, preValidation: requireJsonBody };

  app.get("/api/orgs", admin, async () => {
    const list = await orgs.list();
    return { orgs: list.map((org) => orgView(org, publicUrl)) };
  });

  app.post("/api/orgs", adminWithBody, async (request, reply) => {
    const parsed = parseCreateOrg(request.body);
    if (!parsed.ok) throw new ValidationError(parsed.problems, "org");
    const org = await orgs.create(parsed.value);
    request.log.info({ orgId: org.id }, "org created");
    return reply.code(201).send(orgView(org, publicUrl));
  });

  app.get<{ Params: { id: string } }>("/api/orgs/:id", admin, async (request) => {
    const org = await orgs.get(request.params.id);
    if (org === undefined) throw notFound(request.params.id);
    return orgView(org, publicUrl);
  });

  app.patch<{ Params: { id: string } }>("/api/orgs/:id", adminWithBody, async (request) => {
    const parsed = parseUpdateOrg(request.body);
    if (!parsed.ok) throw new ValidationError(parsed.problems, "org");
    // The store throws ERR_NOT_FOUND for an unknown id.
    const org = await orgs.update(request.params.id, parsed.value);
    const fields = Object.keys(parsed.value);
    // Field names only: values may be secret.
    request.log.info({ orgId: org.id, fields }, "org updated");
    await deps.onOrgUpdated?.(org, fields);
    return orgView(org, publicUrl);
  });

  app.delete<{ Params: { id: string } }>("/api/orgs/:id", admin, async (request, reply) => {
    if (!(await orgs.delete(request.params.id))) throw notFound(request.params.id);
    request.log.info({ orgId: request.params.id }, "org deleted");
    return reply.code(204).send();
  });
}

export async function requireJsonBody(request: FastifyRequest): Promise<void> {
  const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (type !== undefined && type !== "application/json") {
    throw new ValidationError([{ field: "content-type", reason: "must be application/json" }], "request");
  }
}

function notFound(id: string): RelayError {
  return new RelayError("ERR_NOT_FOUND", `Org ${id} not found`);
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
