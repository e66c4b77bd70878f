import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { MAX_RESPONDER_NAME_LENGTH } from "../core/acknowledgement-input.ts";
import { RelayError } from "../core/errors.ts";
import { parseNoteBody } from "../core/note-input.ts";
import { safeReturnPath } from "../core/safe-return-path.ts";
import { boardCardEvent } from "./board-card-event.ts";
import type { BoardData } from "./board-data.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission, signedIn } from "./web-request.ts";
import { emergencyDetailView } from "./views/emergency-detail-view.ts";

type EmergencyRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * `/emergencies/{id}`: the call, its deliveries and timeline. Acknowledge and note forms post here from the board
 * and the detail page; the board's script posts them with fetch (`accept: application/json`) and gets the
 * updated card back, a plain form gets a redirect.
 */
export function registerEmergencyPages(scope: FastifyInstance, context: WebContext, data: BoardData): void {
  const { deps } = context;
  const { emergencies, deliveries, acknowledger } = deps.alerting;

  const loadRecord = async (id: string) => {
    const record = await emergencies.get(id);
    if (record === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no emergency with this id.");
    return record;
  };

  scope.get<{ Params: { id: string } }>(
    "/emergencies/:id",
    { preHandler: requirePermission("board.read") },
    async (request, reply) => {
      const record = await loadRecord(request.params.id);
      const [card, timeline, rows] = await Promise.all([
        data.card(record.id),
        emergencies.timeline(record.id),
        deliveries.list({ emergencyId: record.id }),
      ]);
      const attempts = await deliveries.attempts(rows.map((d) => d.id));
      return context.send(
        reply,
        200,
        emergencyDetailView({
          viewer: context.viewer(request),
          flash: await context.takeFlash(request),
          record,
          card: card!,
          timeline,
          deliveries: rows,
          attempts,
          now: deps.clock.now(),
        }),
      );
    },
  );

  scope.post<{ Params: { id: string } }>(
    "/emergencies/:id/ack",
    { preHandler: requirePermission("emergencies.acknowledge") },
    async (request, reply) => {
      const record = await loadRecord(request.params.id);
      const result = await acknowledger.byWeb(record.id, responderName(request));
      const first = result.emergency.acknowledgement;
      const what = `${record.isTest ? "test call" : "emergency"} ${record.dialString ?? ""} of ${record.callerName ?? "an unknown caller"}`;
      if (result.acknowledged) {
        await context.audit(request, {
          action: "emergency.acknowledge",
          targetType: "emergency",
          targetId: record.id,
          summary: `Acknowledged the ${what}${result.cancelled > 0 ? `; ${result.cancelled} pending notification(s) cancelled` : ""}`,
        });
      }
      const message = result.acknowledged
        ? `Acknowledged. ${result.cancelled > 0 ? `Escalation stopped (${result.cancelled} pending notification${result.cancelled === 1 ? "" : "s"} cancelled).` : "Nobody else will be escalated to."}`
        : `Already acknowledged by ${first?.by ?? "someone who gave no name"}.`;
      return answer(request, reply, record.id, result.acknowledged ? "success" : "info", message);
    },
  );

  scope.post<{ Params: { id: string } }>(
    "/emergencies/:id/notes",
    { preHandler: requirePermission("emergencies.note") },
    async (request, reply) => {
      const record = await loadRecord(request.params.id);
      const parsed = parseNoteBody({ text: formOf(request).text ?? "" });
      if (!parsed.ok) {
        const reason = parsed.problems.map((p) => `${p.field}: ${p.reason}`).join("; ");
        if (wantsJson(request))
          return reply.code(400).send({ ok: false, message: `Note not added: ${reason}` });
        await context.flash(request, "error", `Note not added: ${reason}.`);
        return context.seeOther(reply, returnPath(request, record.id));
      }
      const by = responderName(request);
      await emergencies.addTimeline([
        {
          emergencyId: record.id,
          at: deps.clock.now(),
          kind: "note",
          message: parsed.value.text,
          details: { by },
        },
      ]);
      await context.audit(request, {
        action: "emergency.note",
        targetType: "emergency",
        targetId: record.id,
        // The note itself is in the emergency's timeline; the audit log says who added one.
        summary: `Added a note to emergency ${record.id}`,
      });
      return answer(request, reply, record.id, "success", "Note added.");
    },
  );

  async function answer(
    request: EmergencyRequest,
    reply: FastifyReply,
    id: string,
    kind: "success" | "info",
    message: string,
  ): Promise<FastifyReply> {
    if (wantsJson(request)) {
      const card = await data.card(id);
      const session = signedIn(request);
      return reply.send({
        ok: true,
        message,
        card: card
          ? boardCardEvent(card, { account: session.account, csrfToken: session.csrfToken }, deps.clock.now())
          : null,
      });
    }
    await context.flash(request, kind, message);
    return context.seeOther(reply, returnPath(request, id));
  }
}

/** Who the timeline names: the account's display name and username, so two people called Alex stay apart. */
function responderName(request: FastifyRequest): string {
  const { account } = signedIn(request);
  const name = account.displayName ? `${account.displayName} (${account.username})` : account.username;
  return name.slice(0, MAX_RESPONDER_NAME_LENGTH);
}

function wantsJson(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("application/json");
}

function returnPath(request: FastifyRequest, id: string): string {
  return safeReturnPath(formOf(request).return, `/emergencies/${id}`);
}
