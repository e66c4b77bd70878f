import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { responderNameFromForm } from "../core/acknowledgement-input.ts";
import type { Acknowledger } from "../flows/acknowledge-emergency.ts";
import { ackConfirmView, ackNotFoundView, ackResultView } from "./views/ack-page-view.ts";

// The token in the path is the credential: the page must not leak it (no referrer, no caching, no framing) and
// must not load anything from elsewhere.
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "x-robots-tag": "noindex, nofollow",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};
const FORM_LIMIT = 4 * 1024;

/** `GET /ack/{token}` shows the confirm page; `POST /ack/{token}` (its form, field `by`) acknowledges. */
export function registerAckRoutes(app: FastifyInstance, deps: { acknowledger: Acknowledger }): void {
  void app.register(async (scope) => {
    // The confirm page's form posts urlencoded; nothing else is accepted here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: FORM_LIMIT },
      (_req: FastifyRequest, body: string | Buffer, done: (error: Error | null, body?: unknown) => void) =>
        done(null, Object.fromEntries(new URLSearchParams(body.toString()))),
    );

    const send = (reply: FastifyReply, status: number, html: string) =>
      reply.code(status).headers(PAGE_HEADERS).send(html);

    scope.get<{ Params: { token: string } }>("/ack/:token", async (request, reply) => {
      const link = await deps.acknowledger.lookup(request.params.token);
      if (link === undefined) return send(reply, 404, ackNotFoundView());
      return send(reply, 200, ackConfirmView({ emergency: link.emergency, channelName: link.channelName }));
    });

    scope.post<{ Params: { token: string } }>("/ack/:token", async (request, reply) => {
      const body = request.body as Record<string, unknown> | undefined;
      const result = await deps.acknowledger.byLink(request.params.token, responderNameFromForm(body?.by));
      if (result === undefined) return send(reply, 404, ackNotFoundView());
      // The path holds the token: log the emergency, never the URL.
      request.log.info(
        { emergencyId: result.emergency.id, acknowledged: result.acknowledged },
        "acknowledgement by link",
      );
      return send(reply, 200, ackResultView(result));
    });
  });
}
