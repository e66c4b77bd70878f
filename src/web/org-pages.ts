import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RelayError } from "../core/errors.ts";
import { parseCreateOrg } from "../core/org-input.ts";
import type { Org } from "../core/org.ts";
import type { FieldProblem } from "../core/validation-error.ts";
import { changedOnly, parseOrgForm } from "./org-form.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission } from "./web-request.ts";
import { orgChecksView } from "./views/org-checks-view.ts";
import { orgSetupView, type SetupStep } from "./views/org-setup-view.ts";
import { orgStatusView, type OrgStatusData } from "./views/org-status-view.ts";
import { orgsView, type OrgSummary } from "./views/orgs-view.ts";

type OrgRequest = FastifyRequest<{ Params: { id: string } }>;

const GAP_EVENT = "webhook_delivery_gap";

/** `2026-11-30 06:16 UTC`: flash messages are plain text, without the pages' local-time rewriting. */
const utcMinute = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;

/** Orgs: the list (with the wizard's first step), the setup wizard, the status page and its actions. */
export function registerOrgPages(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const read = { preHandler: requirePermission("orgs.read") };
  const manage = { preHandler: requirePermission("orgs.manage") };

  const loadOrg = async (id: string): Promise<Org> => {
    const org = await deps.orgs.get(id);
    if (org === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no organization with this id.");
    return org;
  };

  const summaries = async (): Promise<OrgSummary[]> =>
    Promise.all(
      (await deps.orgs.list()).map(async (org) => ({
        org,
        status: await deps.tokens.status(org.id),
        subscriptions: await deps.subscriptions.status(org.id),
      })),
    );

  const listPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    form?: { name: string; problems: FieldProblem[] },
  ) =>
    context.send(
      reply,
      status,
      orgsView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        orgs: await summaries(),
        now: deps.clock.now(),
        ...(form ? { form } : {}),
      }),
    );

  scope.get("/orgs", read, async (request, reply) => listPage(request, reply, 200));

  scope.post("/orgs", manage, async (request, reply) => {
    const form = formOf(request);
    const parsed = parseCreateOrg({ name: form.name ?? "" });
    if (!parsed.ok)
      return listPage(request, reply, 400, { name: form.name ?? "", problems: parsed.problems });
    const org = await deps.orgs.create(parsed.value);
    await context.audit(request, {
      action: "org.create",
      targetType: "org",
      targetId: org.id,
      summary: `Created organization ${org.name}`,
    });
    await context.flash(request, "success", `Organization ${org.name} created. Follow the steps below.`);
    return context.seeOther(reply, `/orgs/${org.id}/setup`);
  });

  const setupPage = async (
    request: OrgRequest,
    reply: FastifyReply,
    status: number,
    failed?: { step: SetupStep; problems: FieldProblem[]; values: Record<string, string> },
  ) => {
    const org = await loadOrg(request.params.id);
    return context.send(
      reply,
      status,
      orgSetupView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        status: await deps.tokens.status(org.id),
        publicUrl: deps.publicUrl,
        inbound: deps.inbound,
        ...(failed ? { failed } : {}),
      }),
    );
  };

  scope.get<{ Params: { id: string } }>("/orgs/:id/setup", manage, async (request, reply) =>
    setupPage(request, reply, 200),
  );

  scope.post<{ Params: { id: string } }>("/orgs/:id/setup", manage, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const form = formOf(request);
    const step: SetupStep = form.step === "network" ? "network" : form.step === "name" ? "name" : "app";
    const parsed = parseOrgForm(form);
    if (!parsed.ok) {
      // The secret is never sent back into the page, even the one just typed.
      const { clientSecret: _secret, _csrf: _token, ...values } = form;
      return setupPage(request, reply, 400, { step, problems: parsed.problems, values });
    }
    const patch = changedOnly(org, parsed.value);
    const fields = Object.keys(patch);
    if (fields.length === 0) {
      await context.flash(request, "info", "Nothing changed.");
    } else {
      const updated = await deps.orgs.update(org.id, patch);
      await deps.onOrgUpdated?.(updated, fields);
      await context.audit(request, {
        action: "org.update",
        targetType: "org",
        targetId: org.id,
        // Field names only: the secret's value never reaches the audit log.
        summary: `Changed ${fields.join(", ")} of ${updated.name}`,
        details: { fields },
      });
      await context.flash(request, "success", `Saved: ${fields.join(", ")}.`);
    }
    return context.seeOther(
      reply,
      `/orgs/${org.id}/setup#step-${step === "app" ? "connect" : step === "network" ? "connect" : "register"}`,
    );
  });

  scope.post<{ Params: { id: string } }>("/orgs/:id/connect", manage, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const replaceUser = formOf(request).replaceUser === "true";
    try {
      const { authorizeUrl } = await deps.connect.start(org.id, { replaceUser });
      await context.audit(request, {
        action: "org.connect",
        targetType: "org",
        targetId: org.id,
        summary: `Started connecting ${org.name}${replaceUser ? " (a different service user allowed)" : ""}`,
      });
      return context.seeOther(reply, authorizeUrl);
    } catch (error) {
      if (!(error instanceof RelayError) || error.code !== "ERR_ORG_INCOMPLETE") throw error;
      await context.flash(
        request,
        "error",
        "Enter the tenant ID, client ID and client secret first (step 3).",
      );
      return context.seeOther(reply, `/orgs/${org.id}/setup#step-app`);
    }
  });

  scope.get<{ Params: { id: string } }>("/orgs/:id", read, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const recent = await deps.events.listRecent({ orgId: org.id, limit: 200 });
    const subscriptions = await deps.subscriptions.status(org.id);
    const data: OrgStatusData = {
      org,
      status: await deps.tokens.status(org.id),
      subscriptions,
      messageCounts: await deps.messageCounts(org.id),
      gaps: recent.filter((e) => e.kind === GAP_EVENT),
      events: recent.slice(0, 25),
    };
    return context.send(
      reply,
      200,
      orgStatusView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        now: deps.clock.now(),
        ...data,
      }),
    );
  });

  scope.get<{ Params: { id: string } }>("/orgs/:id/checks", manage, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const checks = await deps.runChecks(org.id);
    return context.send(
      reply,
      200,
      orgChecksView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        checks,
      }),
    );
  });

  scope.post<{ Params: { id: string } }>("/orgs/:id/test-connection", manage, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const before = await deps.tokens.status(org.id);
    if (before.connection.state === "disconnected") {
      await context.flash(request, "error", "Not connected yet: connect the service user first.");
      return context.seeOther(reply, `/orgs/${org.id}`);
    }
    let failure: string | undefined;
    try {
      await deps.tokens.refresh(org.id, "manual");
    } catch (error) {
      failure = error instanceof RelayError ? error.message : "the refresh failed; see the relay's log";
    }
    const after = await deps.tokens.status(org.id);
    const ok = failure === undefined && after.connection.state === "connected";
    await context.audit(request, {
      action: "org.test_connection",
      targetType: "org",
      targetId: org.id,
      summary: `Tested the connection of ${org.name}: ${ok ? "works" : after.connection.state}`,
    });
    await context.flash(
      request,
      ok ? "success" : "error",
      ok
        ? "Connection works: a new access token was issued."
        : `Connection test failed (${after.connection.state})${
            (failure ?? after.connection.lastError?.message)
              ? `: ${failure ?? after.connection.lastError?.message}`
              : ""
          }.`,
    );
    return context.seeOther(reply, `/orgs/${org.id}`);
  });

  scope.post<{ Params: { id: string } }>("/orgs/:id/renew", manage, async (request, reply) => {
    const org = await loadOrg(request.params.id);
    const { connection } = await deps.tokens.status(org.id);
    if (connection.state === "disconnected") {
      await context.flash(request, "error", "Not connected yet: connect the service user first.");
      return context.seeOther(reply, `/orgs/${org.id}`);
    }
    let failure: string | undefined;
    try {
      await deps.subscriptions.renew(org.id);
    } catch (error) {
      failure = error instanceof RelayError ? error.message : "the renewal failed; see the relay's log";
    }
    const live = (await deps.subscriptions.status(org.id)).find((s) => s.state === "active");
    const problem = failure ?? (await deps.subscriptions.status(org.id)).find((s) => s.lastError)?.lastError;
    const ok = failure === undefined && live !== undefined && problem === undefined;
    await context.audit(request, {
      action: "org.renew_subscription",
      targetType: "org",
      targetId: org.id,
      summary: `Renewed the subscription of ${org.name}: ${ok ? "done" : "failed"}`,
    });
    await context.flash(
      request,
      ok ? "success" : "error",
      ok
        ? `Subscription renewed; it now expires ${live!.expiresAt ? utcMinute(live!.expiresAt) : "later"}.`
        : `Renewal did not succeed${problem ? `: ${problem}` : ""}. The relay keeps retrying.`,
    );
    return context.seeOther(reply, `/orgs/${org.id}`);
  });
}
