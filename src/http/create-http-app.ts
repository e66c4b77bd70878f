import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";

export interface HttpAppDeps {
  logger: Logger;
  /** Resolves when storage answers; rejects with the reason otherwise. */
  checkStorage(): Promise<void>;
  /** False once shutdown began or background jobs stopped. */
  jobsRunning(): boolean;
  trustProxy: boolean;
  https?: { cert: string; key: string };
  /** The registry `/metrics` serves; pass one to add the relay's own metrics to it (default: a new one). */
  registry?: Registry;
}

/** Builds the relay's HTTP app without listening (fastify's build/listen split keeps it testable with inject()). */
export function createHttpApp(deps: HttpAppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    trustProxy: deps.trustProxy,
    ...(deps.https ? { https: { ...deps.https, minVersion: "TLSv1.2" as const } } : {}),
  }) as unknown as FastifyInstance;
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry, prefix: "relay_" });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const checks: Record<string, string> = {};
    try {
      await deps.checkStorage();
      checks.storage = "ok";
    } catch (error) {
      checks.storage = `unreachable: ${(error as Error).message}`;
    }
    checks.jobs = deps.jobsRunning() ? "ok" : "stopped";
    const ready = Object.values(checks).every((v) => v === "ok");
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });
  app.get("/metrics", async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return app;
}
