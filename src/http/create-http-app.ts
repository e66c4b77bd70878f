import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import {
  TLS_MIN_VERSION,
  inspectCertificatePair,
  watchCertificateFiles,
  type CertificateWatchOptions,
  type SecureContextTarget,
} from "./certificate-reloader.ts";

export interface HttpAppDeps {
  logger: Logger;
  /** Resolves when storage answers; rejects with the reason otherwise. */
  checkStorage(): Promise<void>;
  /** How long `/readyz` waits for `checkStorage` before it answers 503 (default 2000 ms). */
  readyTimeoutMs?: number;
  /** False once shutdown began or background jobs stopped. */
  jobsRunning(): boolean;
  trustProxy: boolean;
  /** Serve HTTPS (TLS 1.2+); with `watch`, the certificate is reloaded when either file changes. */
  https?: { cert: string; key: string; watch?: CertificateWatchOptions };
  /** The registry `/metrics` serves; pass one to add the relay's own metrics to it (default: a new one). */
  registry?: Registry;
}

/** Builds the relay's HTTP app without listening (fastify's build/listen split keeps it testable with inject()). */
export function createHttpApp(deps: HttpAppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    trustProxy: deps.trustProxy,
    ...(deps.https
      ? { https: { cert: deps.https.cert, key: deps.https.key, minVersion: TLS_MIN_VERSION } }
      : {}),
  }) as unknown as FastifyInstance;
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry, prefix: "relay_" });
  if (deps.https) watchCertificate(app, deps.https, deps.logger, registry);

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const checks: Record<string, string> = {};
    // Bounded: a load balancer's health check needs its 503 while the database does not answer at all (a pool
    // waiting for a connection would otherwise hold the request past the checker's own timeout).
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = deps.readyTimeoutMs ?? 2000;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([deps.checkStorage(), timedOut]);
      checks.storage = "ok";
    } catch (error) {
      checks.storage = `unreachable: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    checks.jobs = deps.jobsRunning() ? "ok" : "stopped";
    const ready = Object.values(checks).every((v) => v === "ok");
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });
  app.get("/metrics", async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return app;
}

function watchCertificate(
  app: FastifyInstance,
  https: NonNullable<HttpAppDeps["https"]>,
  logger: Logger,
  registry: Registry,
): void {
  const expiry = new Gauge({
    name: "relay_tls_certificate_expiry_timestamp_seconds",
    help: "When the certificate the relay serves HTTPS with expires (Unix time)",
    registers: [registry],
  });
  try {
    expiry.set(inspectCertificatePair(https.cert, https.key).validTo.getTime() / 1000);
  } catch {
    // Fastify refused or will refuse this pair itself; nothing to report here.
  }
  if (!https.watch) return;
  const reloads = new Counter({
    name: "relay_tls_certificate_reloads_total",
    help: "Attempts to reload the HTTPS certificate after its files changed, by result",
    labelNames: ["result"],
    registers: [registry],
  });
  const reloader = watchCertificateFiles(app.server as unknown as SecureContextTarget, https.watch, {
    logger,
    onResult: (result, certificate) => {
      reloads.inc({ result });
      if (certificate) expiry.set(certificate.validTo.getTime() / 1000);
    },
  });
  app.addHook("onClose", async () => reloader.close());
}
