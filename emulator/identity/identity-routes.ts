import type { FastifyInstance, FastifyReply } from "fastify";
import { LOGIN_HOST, type EmulatorContext } from "../emulator-context.ts";
import { newGuid } from "../ids.ts";
import { handleAuthorize } from "./authorize-endpoint.ts";
import { entraErrorBody } from "./entra-errors.ts";
import { resolveTenant } from "./resolve-tenant.ts";
import { handleTokenRequest } from "./token-endpoint.ts";

type Params = { tenant: string };

/** Identity platform v2 endpoints under `/{tenant}/...`, as served by login.microsoftonline.com. */
export function registerIdentityRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.get<{ Params: Params; Querystring: Record<string, string> }>(
    "/:tenant/oauth2/v2.0/authorize",
    async (req, reply) => {
      const result = handleAuthorize(ctx, req.params.tenant, req.query);
      return reply.code(result.status).headers(result.headers).send(result.body);
    },
  );
  app.post<{ Params: Params; Querystring: Record<string, string>; Body: Record<string, string> }>(
    "/:tenant/oauth2/v2.0/authorize",
    async (req, reply) => {
      const result = handleAuthorize(ctx, req.params.tenant, { ...req.query, ...(req.body ?? {}) });
      return reply.code(result.status).headers(result.headers).send(result.body);
    },
  );
  app.post<{ Params: Params; Body: Record<string, string> }>(
    "/:tenant/oauth2/v2.0/token",
    async (req, reply) => {
      if (!isForm(req.headers["content-type"])) {
        // Entra reads no parameter from a body that is not a form, so the first required one is "missing".
        const { status, body } = entraErrorBody(900144, ctx.clock.now(), {
          traceId: newGuid(),
          correlationId: newGuid(),
        });
        return reply.code(status).send(body);
      }
      const result = await handleTokenRequest(
        ctx,
        req.params.tenant,
        req.body ?? {},
        req.headers.authorization,
      );
      if (result.hang) return hang(reply);
      return reply
        .code(result.status)
        .headers(result.headers ?? {})
        .send(result.body);
    },
  );

  app.get<{ Params: Params }>("/:tenant/v2.0/.well-known/openid-configuration", async (req, reply) => {
    const tenant = resolveTenant(ctx.state, req.params.tenant);
    if (!tenant) {
      const { status, body } = entraErrorBody(
        90002,
        ctx.clock.now(),
        { traceId: newGuid(), correlationId: newGuid() },
        { detail: `Tenant '${req.params.tenant}' not found.` },
      );
      return reply.code(status).send(body);
    }
    const segment = tenant === "multi" ? req.params.tenant : tenant.id;
    const base = `${ctx.baseUrl()}/${segment}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      // Issuers keep Microsoft's host so claim checks written for production hold against the emulator.
      issuer: tenant === "multi" ? `${LOGIN_HOST}/{tenantid}/v2.0` : `${LOGIN_HOST}/${tenant.id}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${ctx.baseUrl()}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "acr",
        "nonce",
        "preferred_username",
        "name",
        "tid",
        "ver",
        "at_hash",
        "c_hash",
        "email",
      ],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: "NA",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  });
  for (const path of ["/:tenant/discovery/v2.0/keys", "/:tenant/discovery/keys"]) {
    app.get(path, async () => ctx.keys.jwks);
  }
  app.get("/common/discovery/instance", async () => ({
    tenant_discovery_endpoint: `${ctx.baseUrl()}/common/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [
      {
        preferred_network: "login.microsoftonline.com",
        preferred_cache: "login.windows.net",
        aliases: ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"],
      },
    ],
  }));
}

function isForm(contentType: string | undefined): boolean {
  return (contentType ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded");
}

/** A `hang` fault: keep the socket open until the client gives up or the emulator closes. */
function hang(reply: FastifyReply): Promise<never> {
  reply.hijack();
  return new Promise<never>(() => {});
}
