import { readFile } from "node:fs/promises";
import { sql } from "kysely";
import { loadConfig, type Config } from "./config.ts";
import { ConfigError } from "./core/errors.ts";
import { probeEndpoint } from "./microsoft/probe-endpoint.ts";
import { openDatabase } from "./storage/open-database.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Runs every check and prints each as PASS/FAIL with its fix. Returns the process exit code. */
export async function runDoctor(env: Record<string, string | undefined>): Promise<number> {
  const checks: Check[] = [];
  let config: Config | undefined;
  try {
    config = loadConfig(env, { requirePublicUrl: true });
    checks.push({ name: "configuration", ok: true, detail: "every RELAY_* setting is valid" });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    checks.push({
      name: "configuration",
      ok: false,
      detail: error.message,
      fix: "set the keys named above (README, Configuration)",
    });
  }
  if (config) {
    checks.push(await checkStorage(config));
    const extraCaPem = config.microsoftCaFile ? await readFile(config.microsoftCaFile, "utf8") : undefined;
    for (const [name, url, fix] of [
      [
        "Entra ID sign-in reachable",
        `${config.loginBaseUrl}/common/discovery/v2.0/keys`,
        "allow outbound HTTPS (443) to login.microsoftonline.com",
      ],
      [
        "Microsoft Graph reachable",
        `${config.graphBaseUrl}/v1.0/$metadata`,
        "allow outbound HTTPS (443) to graph.microsoft.com",
      ],
    ] as const) {
      const probe = await probeEndpoint(url, extraCaPem ? { extraCaPem } : {});
      checks.push(
        probe.ok
          ? { name, ok: true, detail: `${url} answered ${probe.status}` }
          : { name, ok: false, detail: `${url}: ${probe.error}`, fix },
      );
    }
  }
  for (const check of checks) {
    console.log(`${check.ok ? "PASS" : "FAIL"}  ${check.name}: ${check.detail}`);
    if (!check.ok && check.fix) console.log(`      fix: ${check.fix}`);
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}

async function checkStorage(config: Config): Promise<Check> {
  try {
    const storage = await openDatabase(config.database);
    try {
      await sql`select 1`.execute(storage.db);
      return { name: "storage", ok: true, detail: `${storage.engine} reachable` };
    } finally {
      await storage.close();
    }
  } catch (error) {
    return {
      name: "storage",
      ok: false,
      detail: (error as Error).message,
      fix:
        config.database.engine === "sqlite"
          ? "make RELAY_DATA_DIR writable"
          : "check RELAY_DATABASE_URL and that PostgreSQL accepts connections",
    };
  }
}
