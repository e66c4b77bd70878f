import type { FastifyInstance } from "fastify";
import type { BoardCard } from "../core/board-view-model.ts";
import { can } from "../core/role-permissions.ts";
import { boardCardEvent } from "./board-card-event.ts";
import type { BoardData } from "./board-data.ts";
import type { BoardHub } from "./board-hub.ts";
import { openEventStream, type EventStream } from "./event-stream.ts";
import type { WebContext } from "./web-context.ts";
import { requirePermission, signedIn } from "./web-request.ts";
import { boardView } from "./views/board-view.ts";

const DEFAULT_HEARTBEAT_MS = 15_000;
// After a dropped connection the browser tries again this soon (then resyncs from the snapshot).
const RETRY_MS = 2000;

/**
 * `GET /board`: open emergencies and the recently acknowledged ones. `GET /board/events`: the same, live, as
 * server-sent events: a `snapshot` on every (re)connect, so nothing is missed while disconnected, then a `card`
 * per change and a `heartbeat` that also re-checks the session (a signed-out or disabled account's stream ends).
 */
export function registerBoardRoutes(
  scope: FastifyInstance,
  context: WebContext,
  board: { data: BoardData; hub: BoardHub; headers: Record<string, string> },
): void {
  const { deps } = context;
  const read = { preHandler: requirePermission("board.read") };
  const heartbeatMs = deps.alerting.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const streams = new Set<EventStream>();

  scope.addHook("preClose", async () => {
    for (const stream of streams) stream.close();
  });

  scope.get("/board", read, async (request, reply) => {
    const [open, acknowledged] = await Promise.all([board.data.open(), board.data.recentlyAcknowledged()]);
    return context.send(
      reply,
      200,
      boardView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        open,
        acknowledged,
        now: deps.clock.now(),
      }),
    );
  });

  scope.get("/board/events", read, async (request, reply) => {
    const session = signedIn(request);
    const viewer = { account: session.account, csrfToken: session.csrfToken };
    const sessionId = context.cookies.readSession(request);
    // Subscribed before the snapshot is read: a change in between is sent (again), never lost.
    const queued: BoardCard[] = [];
    let live = false;
    const stream = openEventStream(reply, board.headers, { retryMs: RETRY_MS });
    streams.add(stream);
    const remove = board.hub.add((card) => {
      if (!live) queued.push(card);
      else stream.send("card", boardCardEvent(card, viewer, deps.clock.now()));
    });
    // An open board counts as activity (resolving touches the session): a desk display must not sign itself out
    // while nothing happens. The absolute lifetime, signing out and disabling the account still end the stream.
    const heartbeat = setInterval(() => {
      void (async () => {
        const current = sessionId === undefined ? undefined : await context.sessions.resolve(sessionId);
        if (
          current === undefined ||
          current.account.role !== session.account.role ||
          !can(current.account.role, "board.read")
        ) {
          // The page reloads: the sign-in form, or the board as the account's new role sees it.
          stream.send("signed-out", {});
          stream.close();
          return;
        }
        stream.send("heartbeat", { now: deps.clock.now() });
      })().catch((error: unknown) => request.log.warn({ err: error }, "board heartbeat failed"));
    }, heartbeatMs);
    stream.onClose(() => {
      clearInterval(heartbeat);
      remove();
      streams.delete(stream);
    });
    try {
      const [open, acknowledged] = await Promise.all([board.data.open(), board.data.recentlyAcknowledged()]);
      const now = deps.clock.now();
      stream.send("snapshot", {
        now,
        open: open.map((c) => boardCardEvent(c, viewer, now)),
        acknowledged: acknowledged.map((c) => boardCardEvent(c, viewer, now)),
      });
      live = true;
      for (const card of queued.splice(0))
        stream.send("card", boardCardEvent(card, viewer, deps.clock.now()));
    } catch (error) {
      request.log.error({ err: error }, "could not read the board for a new stream");
      stream.close();
    }
  });
}
