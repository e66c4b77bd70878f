// One relay instance in its own process, for bench/multi-instance.bench.ts: configured from RELAY_* variables, logging
// at info level into a stream that drops it (as bench/notification-intake.bench.ts does). BENCH_RELAY_MODE=intake
// starts the reduced relay of that benchmark (no jobs, no inbox worker, plus its no-op route), so acknowledgements
// are measured alone; otherwise the whole relay runs. Prints `ready <url>` once listening; SIGTERM stops it.
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../src/config.ts";
import { GRAPH_ROUTE_LOG_LEVEL } from "../src/http/graph-notification-routes.ts";
import { startRelay } from "../src/main.ts";

const intakeOnly = process.env.BENCH_RELAY_MODE === "intake";
const relay = await startRelay(loadConfig(process.env, { requirePublicUrl: true }), {
  logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  ...(intakeOnly
    ? {
        jobIntervalMs: false as const,
        wakeInboxOnDelivery: false,
        extraRoutes: (app: FastifyInstance) => {
          // The same no-op route as bench/notification-intake.bench.ts: the server's own ceiling.
          app.post("/bench/noop", { logLevel: GRAPH_ROUTE_LOG_LEVEL }, async (_req, reply) =>
            reply.code(202).send(),
          );
        },
      }
    : {}),
});
console.log(`ready ${relay.url}`);
process.on("SIGTERM", () => {
  relay.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
