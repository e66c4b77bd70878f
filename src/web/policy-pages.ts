import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { parsePolicyInput, parsePolicyPatch } from "../core/alert-policy-input.ts";
import type { AlertPolicy } from "../core/alert-policy.ts";
import { RelayError } from "../core/errors.ts";
import { policyFieldsOf } from "../core/policy-fields.ts";
import type { FieldProblem } from "../core/validation-error.ts";
import {
  policyBodyFromForm,
  policyFormAction,
  policyFormFromPolicy,
  policyFormFromRequest,
  withTierAdded,
  withTierRemoved,
  type PolicyFormValues,
} from "./policy-form.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission } from "./web-request.ts";
import { policiesView } from "./views/policies-view.ts";
import { policyFormView } from "./views/policy-form-view.ts";

/**
 * The org's policies: list, add, edit (tiers added and removed on the page, without script), delete. Saving goes
 * through the admin API's parser (core/alert-policy-input.ts): the same checks, the same messages.
 */
export function registerPolicyPages(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const { channels, policies } = deps.alerting;
  const read = { preHandler: requirePermission("alerting.read") };
  const manage = { preHandler: requirePermission("alerting.manage") };

  const loadOrg = async (id: string) => {
    const org = await deps.orgs.get(id);
    if (org === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no organization with this id.");
    return org;
  };
  const loadPolicy = async (orgId: string, id: string) => {
    const policy = await policies.get(orgId, id);
    if (policy === undefined)
      throw new RelayError("ERR_NOT_FOUND", "There is no such policy in this organization.");
    return policy;
  };

  const formPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    org: { id: string; name: string },
    policy: AlertPolicy | undefined,
    values: PolicyFormValues,
    problems?: FieldProblem[],
  ) =>
    context.send(
      reply,
      status,
      policyFormView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        ...(policy ? { policy } : {}),
        channels: await channels.list(org.id),
        values,
        ...(problems ? { problems } : {}),
      }),
    );

  scope.get<{ Params: { orgId: string } }>("/orgs/:orgId/policies", read, async (request, reply) => {
    const org = await loadOrg(request.params.orgId);
    return context.send(
      reply,
      200,
      policiesView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        policies: await policies.list(org.id),
        channels: await channels.list(org.id),
      }),
    );
  });

  scope.get<{ Params: { orgId: string } }>("/orgs/:orgId/policies/new", manage, async (request, reply) => {
    const org = await loadOrg(request.params.orgId);
    return formPage(request, reply, 200, org, undefined, policyFormFromPolicy(undefined));
  });

  scope.get<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/policies/:id",
    read,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const policy = await loadPolicy(org.id, request.params.id);
      return formPage(request, reply, 200, org, policy, policyFormFromPolicy(policy));
    },
  );

  const save = (mode: "create" | "update") =>
    async function (
      request: FastifyRequest<{ Params: { orgId: string; id?: string } }>,
      reply: FastifyReply,
    ) {
      const org = await loadOrg(request.params.orgId);
      const current = mode === "update" ? await loadPolicy(org.id, request.params.id!) : undefined;
      const orgChannels = await channels.list(org.id);
      const form = formOf(request);
      const values = policyFormFromRequest(
        form,
        orgChannels.map((c) => c.id),
      );
      const action = policyFormAction(form);
      if (action.kind === "add-tier")
        return formPage(request, reply, 200, org, current, withTierAdded(values));
      if (action.kind === "remove-tier")
        return formPage(request, reply, 200, org, current, withTierRemoved(values, action.index));
      const known = new Set(orgChannels.map((c) => c.id));
      const body = policyBodyFromForm(values);
      const parsed = current
        ? parsePolicyPatch(body, policyFieldsOf(current), known)
        : parsePolicyInput(body, known);
      if (!parsed.ok) return formPage(request, reply, 400, org, current, values, parsed.problems);
      const now = deps.clock.now();
      const saved = current
        ? await policies.replace(org.id, current.id, parsed.value, now)
        : await policies.create(org.id, parsed.value, now);
      if (saved === undefined) throw new RelayError("ERR_NOT_FOUND", "The policy was deleted meanwhile.");
      await context.audit(request, {
        action: current ? "policy.update" : "policy.create",
        targetType: "policy",
        targetId: saved.id,
        summary: `${current ? "Saved" : "Added"} the policy ${saved.name} of ${org.name} (${saved.tiers.length} tier${saved.tiers.length === 1 ? "" : "s"})`,
        details: {
          orgId: org.id,
          callType: saved.callType,
          tiers: saved.tiers.map((t) => ({ afterSeconds: t.afterSeconds, channelIds: t.channelIds })),
        },
      });
      await context.flash(request, "success", `Policy ${saved.name} saved.`);
      return context.seeOther(reply, `/orgs/${org.id}/policies`);
    };

  scope.post<{ Params: { orgId: string } }>("/orgs/:orgId/policies", manage, save("create"));
  scope.post<{ Params: { orgId: string; id: string } }>("/orgs/:orgId/policies/:id", manage, save("update"));

  scope.post<{ Params: { orgId: string; id: string } }>(
    "/orgs/:orgId/policies/:id/delete",
    manage,
    async (request, reply) => {
      const org = await loadOrg(request.params.orgId);
      const policy = await loadPolicy(org.id, request.params.id);
      await policies.delete(org.id, policy.id);
      await context.audit(request, {
        action: "policy.delete",
        targetType: "policy",
        targetId: policy.id,
        summary: `Deleted the policy ${policy.name} of ${org.name}`,
      });
      await context.flash(request, "success", `Policy ${policy.name} deleted.`);
      return context.seeOther(reply, `/orgs/${org.id}/policies`);
    },
  );
}
