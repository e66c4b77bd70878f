import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { RelayError } from "../core/errors.ts";
import type { Database } from "./schema.ts";

const INT8_OID = 20;

export interface PostgresOptions {
  url: string;
  poolMax?: number;
  /** Errors on idle pooled connections (server restart, network drop); the pool discards the connection. */
  onBackgroundError?: (error: Error) => void;
}

export async function openPostgresDatabase(options: PostgresOptions): Promise<Kysely<Database>> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 10_000,
    application_name: "teams-emergency-relay",
    types: relayTypes,
  });
  // Without a listener, an idle connection's error event would crash the process.
  pool.on("error", options.onBackgroundError ?? (() => {}));
  try {
    await pool.query("select 1");
  } catch (error) {
    await pool.end().catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new RelayError(
      "ERR_STORAGE_UNAVAILABLE",
      `Cannot connect to PostgreSQL at ${redactDatabaseUrl(options.url)}: ${reason}`,
      { cause: error },
    );
  }
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The URL with its password replaced, safe for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    parsed.searchParams.forEach((_, key) => {
      if (/pass|secret|key/i.test(key)) parsed.searchParams.set(key, "***");
    });
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

// Scoped to our pool rather than `pg.types.setTypeParser`, which would change every pg user in the process.
// Epoch-ms times and COUNT(*) are int8; strings there would leak into the domain as "1764..." + 1 bugs.
const relayTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

function parseInt8(text: string): number {
  const value = Number(text);
  // pg turns a parser exception into a rejected query, which beats a silently rounded id or time.
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value ${text} does not fit a JS number`);
  return value;
}
