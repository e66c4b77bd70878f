import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AlertChannel, ChannelDrivers, ParsedChannelConfig } from "../core/alert-channel.ts";
import { parseChannelCommon } from "../core/alert-channel-input.ts";
import { parsePolicyInput, parsePolicyPatch } from "../core/alert-policy-input.ts";
import {
  DEFAULT_TEMPLATES,
  TEMPLATE_KINDS,
  TEMPLATE_VARIABLES,
  type TemplateKind,
} from "../core/alert-template.ts";
import { parseTemplateInput, parseTemplateKind } from "../core/alert-template-input.ts";
import {
  channelConfigOf,
  channelInUseError,
  channelTypeOf,
  parseChannelConfig,
} from "../core/channel-config-input.ts";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";
import { policyFieldsOf } from "../core/policy-fields.ts";
import { previewTemplate } from "../core/template-preview.ts";
import { ValidationError, type FieldProblem } from "../core/validation-error.ts";
import type { TestAlertSender } from "../flows/send-test-alert.ts";
import type { AlertChannelStore } from "../storage/alert-channel-store.ts";
import type { AlertPolicyStore } from "../storage/alert-policy-store.ts";
import type { AlertTemplateStore } from "../storage/alert-template-store.ts";
import type { AdminGuard } from "./admin-auth.ts";
import { channelView, policyView } from "./alert-views.ts";
import { requireJsonBody } from "./org-routes.ts";

export interface AlertConfigRoutesDeps {
  orgs: { get(id: string): Promise<{ id: string; name: string } | undefined> };
  channels: AlertChannelStore;
  policies: AlertPolicyStore;
  templates: AlertTemplateStore;
  drivers: Pick<ChannelDrivers, "parse" | "describe">;
  testSender: TestAlertSender;
  clock: Clock;
  publicUrl: string;
  requireAdmin: AdminGuard;
}

type OrgParams = { orgId: string };
type ItemParams = { orgId: string; id: string };
type KindParams = { orgId: string; kind: string };

const BODY_LIMIT = 64 * 1024;

/**
 * The org's alerting setup over the admin API: channels (with "send test"), policies and templates (with a
 * preview). Input is checked whole (every bad field named) before anything changes; channel secrets never
 * appear in a response, except secrets the relay generated, once, in the create response.
 */
export function registerAlertConfigRoutes(app: FastifyInstance, deps: AlertConfigRoutesDeps): void {
  const orgExists = async (request: FastifyRequest) => {
    const { orgId } = request.params as OrgParams;
    if ((await deps.orgs.get(orgId)) === undefined)
      throw new RelayError("ERR_NOT_FOUND", `Org ${orgId} not found`);
  };
  const admin = { onRequest: deps.requireAdmin, preHandler: orgExists, bodyLimit: BODY_LIMIT };
  const adminWithBody = { ...admin, preValidation: requireJsonBody };
  const now = () => deps.clock.now();

  // --- Channels ---

  const view = async (channel: AlertChannel) => {
    const opened = await deps.channels.withSecrets(channel.id).catch(() => undefined);
    const target = opened?.target ?? {
      id: channel.id,
      type: channel.type,
      settings: channel.settings,
      secrets: {},
    };
    return {
      ...channelView(channel, deps.drivers.describe(target)),
      ...(opened === undefined ? { secretsUnreadable: true } : {}),
    };
  };
  const channelOf = async (orgId: string, id: string) => {
    const channel = await deps.channels.get(orgId, id);
    if (channel === undefined)
      throw new RelayError("ERR_NOT_FOUND", `Channel ${id} not found in org ${orgId}`);
    return channel;
  };

  app.get<{ Params: OrgParams }>("/api/org/:orgId/channels", admin, async (request) => {
    const list = await deps.channels.list(request.params.orgId);
    return { channels: await Promise.all(list.map(view)) };
  });

  app.post<{ Params: OrgParams }>("/api/org/:orgId/channels", adminWithBody, async (request, reply) => {
    const common = parseChannelCommon(request.body, "create");
    const problems: FieldProblem[] = common.ok ? [] : [...common.problems];
    // The type's own fields are checked even when a common one is wrong: every bad field at once.
    const type = channelTypeOf(request.body);
    const config = common.ok ? common.value.config : channelConfigOf(request.body);
    const parsed =
      type === undefined ? undefined : parseChannelConfig(() => deps.drivers.parse(type, config), problems);
    if (problems.length > 0 || !common.ok || parsed === undefined)
      throw new ValidationError(problems, "channel");
    const channel = await deps.channels.create(
      {
        orgId: request.params.orgId,
        type: common.value.type!,
        name: common.value.name!,
        enabled: common.value.enabled ?? true,
        settings: parsed.settings,
        secrets: parsed.secrets,
      },
      now(),
    );
    request.log.info(
      { orgId: channel.orgId, channelId: channel.id, type: channel.type },
      "alert channel created",
    );
    return reply.code(201).send({
      ...(await view(channel)),
      // Shown once: the relay keeps only the sealed copy.
      ...(parsed.generatedSecrets ? { generatedSecrets: parsed.generatedSecrets } : {}),
    });
  });

  app.get<{ Params: ItemParams }>("/api/org/:orgId/channels/:id", admin, async (request) =>
    view(await channelOf(request.params.orgId, request.params.id)),
  );

  app.patch<{ Params: ItemParams }>("/api/org/:orgId/channels/:id", adminWithBody, async (request) => {
    const { orgId, id } = request.params;
    const channel = await channelOf(orgId, id);
    const common = parseChannelCommon(request.body, "update");
    const problems: FieldProblem[] = common.ok ? [] : [...common.problems];
    const config = common.ok ? common.value.config : channelConfigOf(request.body);
    let parsed: ParsedChannelConfig | undefined;
    if (Object.keys(config).length > 0) {
      const current = await deps.channels.withSecrets(id);
      const existing = { settings: channel.settings, secrets: current?.target.secrets ?? {} };
      parsed = parseChannelConfig(() => deps.drivers.parse(channel.type, config, existing), problems);
    }
    if (problems.length > 0 || !common.ok) throw new ValidationError(problems, "channel");
    const updated = await deps.channels.update(
      orgId,
      id,
      {
        ...(common.value.name !== undefined ? { name: common.value.name } : {}),
        ...(common.value.enabled !== undefined ? { enabled: common.value.enabled } : {}),
        ...(parsed ? { settings: parsed.settings, secrets: parsed.secrets } : {}),
      },
      now(),
    );
    if (updated === undefined)
      throw new RelayError("ERR_NOT_FOUND", `Channel ${id} not found in org ${orgId}`);
    // Field names only: values may be secret.
    request.log.info(
      { orgId, channelId: id, fields: Object.keys(request.body as object) },
      "alert channel updated",
    );
    return view(updated);
  });

  app.delete<{ Params: ItemParams }>("/api/org/:orgId/channels/:id", admin, async (request, reply) => {
    const { orgId, id } = request.params;
    await channelOf(orgId, id);
    const inUse = channelInUseError(await deps.policies.list(orgId), id);
    if (inUse) throw inUse;
    await deps.channels.delete(orgId, id);
    request.log.info({ orgId, channelId: id }, "alert channel deleted");
    return reply.code(204).send();
  });

  app.post<{ Params: ItemParams }>("/api/org/:orgId/channels/:id/test", admin, async (request) => {
    const result = await deps.testSender.send(request.params.orgId, request.params.id);
    request.log.info(
      { channelId: request.params.id, outcome: result.outcome, status: result.status },
      "test alert sent",
    );
    return result;
  });

  // --- Policies ---

  const policyOf = async (orgId: string, id: string) => {
    const policy = await deps.policies.get(orgId, id);
    if (policy === undefined) throw new RelayError("ERR_NOT_FOUND", `Policy ${id} not found in org ${orgId}`);
    return policy;
  };
  const channelIds = async (orgId: string) => new Set((await deps.channels.list(orgId)).map((c) => c.id));

  app.get<{ Params: OrgParams }>("/api/org/:orgId/policies", admin, async (request) => ({
    policies: (await deps.policies.list(request.params.orgId)).map(policyView),
  }));

  app.post<{ Params: OrgParams }>("/api/org/:orgId/policies", adminWithBody, async (request, reply) => {
    const { orgId } = request.params;
    const parsed = parsePolicyInput(request.body, await channelIds(orgId));
    if (!parsed.ok) throw new ValidationError(parsed.problems, "policy");
    const policy = await deps.policies.create(orgId, parsed.value, now());
    request.log.info({ orgId, policyId: policy.id }, "alert policy created");
    return reply.code(201).send(policyView(policy));
  });

  app.get<{ Params: ItemParams }>("/api/org/:orgId/policies/:id", admin, async (request) =>
    policyView(await policyOf(request.params.orgId, request.params.id)),
  );

  app.patch<{ Params: ItemParams }>("/api/org/:orgId/policies/:id", adminWithBody, async (request) => {
    const { orgId, id } = request.params;
    const current = await policyOf(orgId, id);
    const parsed = parsePolicyPatch(request.body, policyFieldsOf(current), await channelIds(orgId));
    if (!parsed.ok) throw new ValidationError(parsed.problems, "policy");
    const updated = await deps.policies.replace(orgId, id, parsed.value, now());
    if (updated === undefined)
      throw new RelayError("ERR_NOT_FOUND", `Policy ${id} not found in org ${orgId}`);
    return policyView(updated);
  });

  app.delete<{ Params: ItemParams }>("/api/org/:orgId/policies/:id", admin, async (request, reply) => {
    if (!(await deps.policies.delete(request.params.orgId, request.params.id)))
      throw new RelayError(
        "ERR_NOT_FOUND",
        `Policy ${request.params.id} not found in org ${request.params.orgId}`,
      );
    return reply.code(204).send();
  });

  // --- Templates ---

  const kindOf = (raw: string): TemplateKind => {
    const kind = parseTemplateKind(raw);
    if (kind === undefined)
      throw new RelayError("ERR_NOT_FOUND", `No template kind ${raw} (kinds: ${TEMPLATE_KINDS.join(", ")})`);
    return kind;
  };

  app.get<{ Params: OrgParams }>("/api/org/:orgId/templates", admin, async (request) => {
    const overrides = await deps.templates.overrides(request.params.orgId);
    return {
      templates: TEMPLATE_KINDS.map((kind) => {
        const override = overrides[kind];
        return {
          kind,
          title: override?.title ?? DEFAULT_TEMPLATES[kind].title,
          text: override?.text ?? DEFAULT_TEMPLATES[kind].text,
          isDefault: override === undefined,
          updatedAt: override ? new Date(override.updatedAt).toISOString() : null,
          variables: TEMPLATE_VARIABLES[kind],
        };
      }),
    };
  });

  app.put<{ Params: KindParams }>("/api/org/:orgId/templates/:kind", adminWithBody, async (request) => {
    const kind = kindOf(request.params.kind);
    const parsed = parseTemplateInput(kind, request.body);
    if (!parsed.ok) throw new ValidationError(parsed.problems, "template");
    const stored = await deps.templates.put(request.params.orgId, kind, parsed.value, now());
    return { ...stored, updatedAt: new Date(stored.updatedAt).toISOString(), isDefault: false };
  });

  app.delete<{ Params: KindParams }>("/api/org/:orgId/templates/:kind", admin, async (request, reply) => {
    await deps.templates.delete(request.params.orgId, kindOf(request.params.kind));
    return reply.code(204).send();
  });

  // Renders a sample call (every variable filled) with the body's template, or the one in force.
  app.post<{ Params: KindParams }>(
    "/api/org/:orgId/templates/:kind/preview",
    adminWithBody,
    async (request) => {
      const { orgId } = request.params;
      const kind = kindOf(request.params.kind);
      const inForce = (await deps.templates.overrides(orgId))[kind] ?? DEFAULT_TEMPLATES[kind];
      const parsed = parseTemplateInput(kind, request.body ?? {}, inForce);
      if (!parsed.ok) throw new ValidationError(parsed.problems, "template");
      const org = (await deps.orgs.get(orgId))!;
      return {
        kind,
        message: previewTemplate(kind, parsed.value, { id: org.id, name: org.name }, deps.publicUrl, now()),
      };
    },
  );
}
