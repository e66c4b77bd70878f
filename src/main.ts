import { readFile } from "node:fs/promises";
import { sql } from "kysely";
import type { Config } from "./config.ts";
import { createHttpApp } from "./http/create-http-app.ts";
import { createLogger } from "./logger.ts";
import { migrateToLatest } from "./storage/migrate.ts";
import { openDatabase } from "./storage/open-database.ts";

export interface RunningRelay {
  url: string;
  close(): Promise<void>;
}

/** The composition root: config -> storage -> http. The only place that wires adapters together. */
export async function startRelay(
  config: Config,
  options: { logDestination?: NodeJS.WritableStream } = {},
): Promise<RunningRelay> {
  const logger = createLogger(config.logLevel, options.logDestination);
  const storage = await openDatabase(config.database);
  await migrateToLatest(storage.db, storage.engine);
  let stopping = false;
  const app = createHttpApp({
    logger,
    trustProxy: config.trustProxy,
    checkStorage: async () => {
      await sql`select 1`.execute(storage.db);
    },
    jobsRunning: () => !stopping,
    ...(config.tls
      ? {
          https: {
            cert: await readFile(config.tls.certFile, "utf8"),
            key: await readFile(config.tls.keyFile, "utf8"),
          },
        }
      : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  logger.info({ engine: storage.engine, port }, "relay listening");
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${port}`,
    async close() {
      stopping = true;
      await app.close();
      await storage.close();
    },
  };
}
