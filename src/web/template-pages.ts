import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  DEFAULT_TEMPLATES,
  TEMPLATE_KINDS,
  type AlertTemplate,
  type TemplateKind,
} from "../core/alert-template.ts";
import { parseTemplateInput, parseTemplateKind } from "../core/alert-template-input.ts";
import { RelayError } from "../core/errors.ts";
import { previewTemplate } from "../core/template-preview.ts";
import type { FieldProblem } from "../core/validation-error.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission } from "./web-request.ts";
import { templatesView, type TemplateState } from "./views/templates-view.ts";

type KindRequest = FastifyRequest<{ Params: { orgId: string; kind: string } }>;

/**
 * The org's alert templates: edit, preview (rendered by the server with a sample call, the admin API's preview),
 * restore the built-in one. The page's script asks `.../preview` as the admin types; the Preview button does the
 * same with a full page.
 */
export function registerTemplatePages(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const { templates } = deps.alerting;
  const read = { preHandler: requirePermission("alerting.read") };
  const manage = { preHandler: requirePermission("alerting.manage") };

  const loadOrg = async (id: string) => {
    const org = await deps.orgs.get(id);
    if (org === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no organization with this id.");
    return { id: org.id, name: org.name };
  };
  const kindOf = (raw: string): TemplateKind => {
    const kind = parseTemplateKind(raw);
    if (kind === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no such template.");
    return kind;
  };
  const render = (kind: TemplateKind, template: AlertTemplate, org: { id: string; name: string }) => {
    const message = previewTemplate(kind, template, org, deps.publicUrl, deps.clock.now());
    return { title: message.title, text: message.text };
  };
  /** The form's fields as the API's body; browsers send textarea line breaks as CRLF. */
  const bodyOf = (request: FastifyRequest) => {
    const form = formOf(request);
    return { title: form.title ?? "", text: (form.text ?? "").replace(/\r\n?/g, "\n") };
  };

  const page = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    org: { id: string; name: string },
    edited?: { kind: TemplateKind; template: AlertTemplate; problems?: FieldProblem[] },
  ) => {
    const overrides = await templates.overrides(org.id);
    const states: TemplateState[] = TEMPLATE_KINDS.map((kind) => {
      const inForce = overrides[kind] ?? DEFAULT_TEMPLATES[kind];
      if (edited?.kind === kind) {
        return {
          kind,
          template: edited.template,
          isDefault: overrides[kind] === undefined,
          preview: edited.problems ? { problems: edited.problems } : render(kind, edited.template, org),
          ...(edited.problems ? { problems: edited.problems } : {}),
        };
      }
      return {
        kind,
        template: inForce,
        isDefault: overrides[kind] === undefined,
        preview: render(kind, inForce, org),
      };
    });
    return context.send(
      reply,
      status,
      templatesView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        org,
        templates: states,
      }),
    );
  };

  scope.get<{ Params: { orgId: string } }>("/orgs/:orgId/templates", read, async (request, reply) =>
    page(request, reply, 200, await loadOrg(request.params.orgId)),
  );

  scope.post<{ Params: { orgId: string; kind: string } }>(
    "/orgs/:orgId/templates/:kind",
    manage,
    async (request: KindRequest, reply) => {
      const org = await loadOrg(request.params.orgId);
      const kind = kindOf(request.params.kind);
      const body = bodyOf(request);
      const parsed = parseTemplateInput(kind, body);
      if (!parsed.ok)
        return page(request, reply, 400, org, { kind, template: body, problems: parsed.problems });
      if (formOf(request).action === "preview")
        return page(request, reply, 200, org, { kind, template: parsed.value });
      await templates.put(org.id, kind, parsed.value, deps.clock.now());
      await context.audit(request, {
        action: "template.update",
        targetType: "template",
        targetId: `${org.id}/${kind}`,
        summary: `Saved the ${kind} template of ${org.name}`,
      });
      await context.flash(request, "success", `The ${kind} template is saved.`);
      return context.seeOther(reply, `/orgs/${org.id}/templates#template-${kind}`);
    },
  );

  scope.post<{ Params: { orgId: string; kind: string } }>(
    "/orgs/:orgId/templates/:kind/reset",
    manage,
    async (request: KindRequest, reply) => {
      const org = await loadOrg(request.params.orgId);
      const kind = kindOf(request.params.kind);
      if (await templates.delete(org.id, kind)) {
        await context.audit(request, {
          action: "template.reset",
          targetType: "template",
          targetId: `${org.id}/${kind}`,
          summary: `Restored the built-in ${kind} template of ${org.name}`,
        });
      }
      await context.flash(request, "success", `The ${kind} template is the built-in one again.`);
      return context.seeOther(reply, `/orgs/${org.id}/templates#template-${kind}`);
    },
  );

  // The live preview: JSON for the page's script (nothing is saved).
  scope.post<{ Params: { orgId: string; kind: string } }>(
    "/orgs/:orgId/templates/:kind/preview",
    manage,
    async (request: KindRequest, reply) => {
      const org = await loadOrg(request.params.orgId);
      const kind = kindOf(request.params.kind);
      const parsed = parseTemplateInput(kind, bodyOf(request));
      if (!parsed.ok) return reply.send({ ok: false, problems: parsed.problems });
      return reply.send({ ok: true, ...render(kind, parsed.value, org) });
    },
  );
}
