import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AlertChannel, ParsedChannelConfig } from "../core/alert-channel.ts";
import { parseChannelCommon } from "../core/alert-channel-input.ts";
import { CHANNEL_TYPES, type ChannelType } from "../core/alert.ts";
import { channelConfigOf, channelInUseError, parseChannelConfig } from "../core/channel-config-input.ts";
import { RelayError } from "../core/errors.ts";
import type { FieldProblem } from "../core/validation-error.ts";
import { channelBodyFromForm, channelFormValues, withoutSecrets } from "./channel-form.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission } from "./web-request.ts";
import { alertingOrgsView } from "./views/alerting-orgs-view.ts";
import { channelFormView } from "./views/channel-form-view.ts";
import { channelsView, type ChannelRow } from "./views/channels-view.ts";

type ChannelRequest = FastifyRequest<{ Params: { orgId: string; id: string } }>;

/**
 * The org's alert channels: list, add (per type), edit, enable/disable, delete, send a test. Input goes through
 * the admin API's parsers (core/alert-channel-input.ts and each type's `parse`), so the messages are the same;
 * secrets are write-only.
 */
export function registerChannelPages(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const { channels, policies, drivers, testSender } = deps.alerting;
  const read = { preHandler: requirePermission("alerting.read") };
  const manage = { preHandler: requirePermission("alerting.manage") };
  const now = () => deps.clock.now();

  const loadOrg = async (id: string) => {
    const org = await deps.orgs.get(id);
    if (org === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no organization with this id.");
    return org;
  };
  const loadChannel = async (orgId: string, id: string) => {
    const channel = await channels.get(orgId, id);
    if (channel === undefined)
      throw new RelayError("ERR_NOT_FOUND", "There is no such channel in this organization.");
    return channel;
  };
  const describe = async (channel: AlertChannel) => {
    // Unreadable secrets (a changed encryption key) leave the channel listed, described without them.
    const opened = await channels.withSecrets(channel.id).catch(() => undefined);
    return drivers.describe(
      opened?.target ?? { id: channel.id, type: channel.type, settings: channel.settings, secrets: {} },
    );
  };

  const listPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    orgId: string,
    generated?: { channelName: string; secrets: Record<string, string> },
  ) => {
    const org = await loadOrg(orgId);
    const [list, policyList] = await Promise.all([channels.list(org.id), policies.list(org.id)]);
    const rows: ChannelRow[] = await Promise.all(
      list.map(async (channel) => ({
        channel,
        described: await describe(channel),
        usedBy: policyList
          .filter((p) => p.tiers.some((t) => t.channelIds.includes(channel.id)))
          .map((p) => p.name),
      })),
    );
    return context.send(
      reply,
      200,
      channelsView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        rows,
        ...(generated ? { generated } : {}),
      }),
    );
  };

  scope.get("/channels", read, async (request, reply) => {
    const orgs = await deps.orgs.list();
    if (orgs.length === 1) return context.seeOther(reply, `/orgs/${orgs[0]!.id}/channels`);
    const counts = await Promise.all(
      orgs.map(async (org) => ({
        org,
        channels: (await channels.list(org.id)).length,
        policies: (await policies.list(org.id)).length,
      })),
    );
    return context.send(
      reply,
      200,
      alertingOrgsView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        orgs: counts,
      }),
    );
  });

  scope.get<{ Params: { orgId: string } }>("/orgs/:orgId/channels", read, async (request, reply) =>
    listPage(request, reply, request.params.orgId),
  );

  scope.get<{ Params: { orgId: string }; Querystring: { type?: string } }>(
    "/orgs/:orgId/channels/new",
    manage,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const type = typeParam(request.query.type);
      if (type === undefined) return context.seeOther(reply, `/orgs/${org.id}/channels#add-channel`);
      return context.send(
        reply,
        200,
        channelFormView({
          viewer: context.viewer(request),
          flash: await context.takeFlash(request),
          org,
          type,
          values: { enabled: "on", ...(type === "email" ? { security: "starttls" } : {}) },
        }),
      );
    },
  );

  scope.post<{ Params: { orgId: string } }>("/orgs/:orgId/channels", manage, async (request, reply) => {
    const org = await loadOrg(request.params.orgId);
    const form = formOf(request);
    const type = typeParam(form.type);
    if (type === undefined) throw new RelayError("ERR_VALIDATION", "Choose a channel type first.");
    const body = channelBodyFromForm(type, form, "create");
    const common = parseChannelCommon(body, "create");
    const problems: FieldProblem[] = common.ok ? [] : [...common.problems];
    const parsed = parseChannelConfig(() => drivers.parse(type, channelConfigOf(body)), problems);
    if (!common.ok || parsed === undefined || problems.length > 0)
      return formAgain(request, reply, org, type, undefined, form, problems);
    const channel = await channels.create(
      {
        orgId: org.id,
        type,
        name: common.value.name!,
        enabled: common.value.enabled ?? true,
        settings: parsed.settings,
        secrets: parsed.secrets,
      },
      now(),
    );
    await context.audit(request, {
      action: "channel.create",
      targetType: "channel",
      targetId: channel.id,
      summary: `Added the ${type} channel ${channel.name} to ${org.name}`,
      details: { orgId: org.id, type, fields: fieldNames(body) },
    });
    await context.flash(request, "success", `Channel ${channel.name} added. Send a test to check it.`);
    // A generated secret is shown once, in this answer: it is never stored anywhere it could be shown again.
    if (parsed.generatedSecrets)
      return listPage(request, reply, org.id, {
        channelName: channel.name,
        secrets: parsed.generatedSecrets,
      });
    return context.seeOther(reply, `/orgs/${org.id}/channels`);
  });

  scope.get<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id",
    read,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const channel = await loadChannel(org.id, request.params.id);
      return context.send(
        reply,
        200,
        channelFormView({
          viewer: context.viewer(request),
          flash: await context.takeFlash(request),
          org,
          type: channel.type,
          channel,
          described: await describe(channel),
          values: channelFormValues(channel),
        }),
      );
    },
  );

  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id",
    manage,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const channel = await loadChannel(org.id, request.params.id);
      const form = formOf(request);
      const body = channelBodyFromForm(channel.type, form, "update");
      const common = parseChannelCommon(body, "update");
      const problems: FieldProblem[] = common.ok ? [] : [...common.problems];
      const current = await channels.withSecrets(channel.id);
      const existing = { settings: channel.settings, secrets: current?.target.secrets ?? {} };
      const parsed: ParsedChannelConfig | undefined = parseChannelConfig(
        () => drivers.parse(channel.type, channelConfigOf(body), existing),
        problems,
      );
      if (!common.ok || parsed === undefined || problems.length > 0)
        return formAgain(request, reply, org, channel.type, channel, form, problems);
      await channels.update(
        org.id,
        channel.id,
        {
          ...(common.value.name !== undefined ? { name: common.value.name } : {}),
          ...(common.value.enabled !== undefined ? { enabled: common.value.enabled } : {}),
          settings: parsed.settings,
          secrets: parsed.secrets,
        },
        now(),
      );
      const secretsChanged = Object.keys(parsed.secrets).filter(
        (name) => parsed.secrets[name] !== existing.secrets[name],
      );
      await context.audit(request, {
        action: "channel.update",
        targetType: "channel",
        targetId: channel.id,
        // Names only: a value may be a secret.
        summary: `Saved the channel ${common.value.name ?? channel.name}${secretsChanged.length > 0 ? ` (new ${secretsChanged.join(", ")})` : ""}`,
        details: { orgId: org.id, secretsChanged },
      });
      await context.flash(request, "success", `Channel ${common.value.name ?? channel.name} saved.`);
      return context.seeOther(reply, `/orgs/${org.id}/channels`);
    },
  );

  const toggle = (enabled: boolean) => async (request: ChannelRequest, reply: FastifyReply) => {
    const org = await loadOrg(request.params.orgId);
    const channel = await loadChannel(org.id, request.params.id);
    await channels.update(org.id, channel.id, { enabled }, now());
    await context.audit(request, {
      action: enabled ? "channel.enable" : "channel.disable",
      targetType: "channel",
      targetId: channel.id,
      summary: `${enabled ? "Enabled" : "Disabled"} the channel ${channel.name}`,
    });
    await context.flash(request, "success", `Channel ${channel.name} ${enabled ? "enabled" : "disabled"}.`);
    return context.seeOther(reply, `/orgs/${org.id}/channels`);
  };
  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id/enable",
    manage,
    toggle(true),
  );
  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id/disable",
    manage,
    toggle(false),
  );

  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id/delete",
    manage,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const channel = await loadChannel(org.id, request.params.id);
      const inUse = channelInUseError(await policies.list(org.id), channel.id);
      if (inUse) {
        await context.flash(request, "error", `Not deleted: ${inUse.message}.`);
        return context.seeOther(reply, `/orgs/${org.id}/channels`);
      }
      await channels.delete(org.id, channel.id);
      await context.audit(request, {
        action: "channel.delete",
        targetType: "channel",
        targetId: channel.id,
        summary: `Deleted the ${channel.type} channel ${channel.name}`,
      });
      await context.flash(request, "success", `Channel ${channel.name} deleted.`);
      return context.seeOther(reply, `/orgs/${org.id}/channels`);
    },
  );

  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/channels/:id/test",
    manage,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const channel = await loadChannel(org.id, request.params.id);
      const result = await testSender.send(org.id, channel.id);
      const ok = result.outcome === "delivered";
      const answer = result.detail ?? (result.status !== null ? `HTTP ${result.status}` : "no answer");
      await context.audit(request, {
        action: "channel.test",
        targetType: "channel",
        targetId: channel.id,
        summary: `Sent a test alert to ${channel.name}: ${result.outcome}`,
      });
      await context.flash(
        request,
        ok ? "success" : "error",
        ok
          ? `Test alert to ${channel.name} delivered (${answer}) in ${result.latencyMs} ms.`
          : `Test alert to ${channel.name} not delivered: ${result.outcome} (${answer}).`,
      );
      return context.seeOther(reply, `/orgs/${org.id}/channels`);
    },
  );

  async function formAgain(
    request: FastifyRequest,
    reply: FastifyReply,
    org: { id: string; name: string },
    type: ChannelType,
    channel: AlertChannel | undefined,
    form: Record<string, string>,
    problems: FieldProblem[],
  ) {
    return context.send(
      reply,
      400,
      channelFormView({
        viewer: context.viewer(request),
        flash: [],
        org,
        type,
        ...(channel ? { channel, described: await describe(channel) } : {}),
        values: withoutSecrets(type, form),
        problems,
      }),
    );
  }
}

function typeParam(raw: unknown): ChannelType | undefined {
  return typeof raw === "string" && (CHANNEL_TYPES as readonly string[]).includes(raw)
    ? (raw as ChannelType)
    : undefined;
}

function fieldNames(body: Record<string, unknown>): string[] {
  return Object.keys(body).filter((name) => body[name] !== undefined);
}
