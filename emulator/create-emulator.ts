import formbody from "@fastify/formbody";
import Fastify, { type FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { registerControlRoutes } from "./control-routes.ts";
import { createDeliveryEngine } from "./delivery/delivery-engine.ts";
import { createAdvanceableClock, type EmulatorClock } from "./emulator-clock.ts";
import { DEFAULT_SETTINGS, type EmulatorContext, type EmulatorSettings } from "./emulator-context.ts";
import { createEmulatorState, type EmulatorState } from "./emulator-state.ts";
import { registerGraphRoutes } from "./graph/graph-routes.ts";
import { registerIdentityRoutes } from "./identity/identity-routes.ts";
import { createSigningKeys } from "./identity/signing-keys.ts";
import { createLocalCa, type LocalCa } from "./tls/local-ca.ts";

export interface EmulatorOptions extends Partial<EmulatorSettings> {
  /** Shared with the service in tests; `POST /_emulator/clock` advances it when it has `advance`. */
  clock?: EmulatorClock;
  /** HTTPS with this CA and certificate; generated when omitted; `false` serves plain HTTP. */
  tls?: LocalCa | false;
  host?: string;
  port?: number;
  /** How often (real time) the delivery engine looks for due work. */
  pumpIntervalMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface Emulator {
  /** e.g. `https://127.0.0.1:8443`: use it as both login and Graph base URL. */
  readonly url: string;
  /** PEM of the CA behind the emulator's certificate (null over plain HTTP); trust it for its URLs. */
  readonly caPem: string | null;
  readonly state: EmulatorState;
  readonly settings: EmulatorSettings;
  /** Sends everything due now and waits for in-flight deliveries. */
  settle(): Promise<void>;
  close(): Promise<void>;
  /** For in-process callers that do not want HTTP for the control API. */
  readonly app: FastifyInstance;
}

/**
 * Starts a Microsoft 365 emulator: Entra ID identity platform, Microsoft Graph (Teams chats and subscriptions)
 * and Graph's webhook delivery, driven by the given clock. Listens before it resolves.
 */
export async function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const {
    clock: baseClock,
    tls: tlsOption,
    host = "127.0.0.1",
    port = 0,
    pumpIntervalMs = 50,
    log,
    ...overrides
  } = options;
  const tls = tlsOption === false ? null : (tlsOption ?? (await createLocalCa()));
  const settings: EmulatorSettings = { ...DEFAULT_SETTINGS, ...overrides };
  if (tls) settings.trustedCaPems = [tls.caCertPem, ...settings.trustedCaPems];
  let baseUrl = "";
  let engineRef: ReturnType<typeof createDeliveryEngine> | undefined;
  let wakeQueued = false;
  const ctx: EmulatorContext = {
    state: createEmulatorState(),
    clock: createAdvanceableClock(baseClock ?? { now: () => Date.now() }),
    keys: await createSigningKeys(),
    settings,
    baseUrl: () => baseUrl,
    caPem: tls?.caCertPem ?? null,
    wake() {
      if (wakeQueued) return;
      wakeQueued = true;
      setImmediate(() => {
        wakeQueued = false;
        engineRef?.pump();
      });
    },
    log: log ?? (() => {}),
  };
  const engine = createDeliveryEngine(ctx);
  engineRef = engine;

  const app = Fastify({
    ...(tls ? { https: { cert: tls.certPem, key: tls.keyPem, minVersion: "TLSv1.2" as const } } : {}),
    forceCloseConnections: true,
    bodyLimit: 4 * 1024 * 1024,
    logger: false,
  }) as unknown as FastifyInstance;
  await app.register(formbody);
  registerIdentityRoutes(app, ctx);
  await app.register(async (scope) => registerGraphRoutes(scope, ctx));
  await app.register(async (scope) => registerControlRoutes(scope, ctx, () => engine.settle()));

  await app.listen({ host, port });
  const address = app.server.address() as AddressInfo;
  const printableHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  baseUrl = `${tls ? "https" : "http"}://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : printableHost}:${address.port}`;
  engine.start(pumpIntervalMs);

  return {
    url: baseUrl,
    caPem: ctx.caPem,
    state: ctx.state,
    settings,
    app,
    settle: () => engine.settle(),
    async close() {
      engine.stop();
      await app.close();
    },
  };
}
