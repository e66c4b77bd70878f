import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.ts";
import type { Database } from "./schema.ts";

/** `kv` key holding the hex SHA-256 of the admin API bearer token; the token itself is never stored. */
export const ADMIN_TOKEN_KEY = "admin_token_sha256";

/**
 * Makes sure an admin token exists. A configured token (RELAY_ADMIN_TOKEN) replaces the stored hash on every
 * start, so rotating the variable rotates the token. Without one, the first start generates a token, stores its
 * hash and returns it once for the caller to print; later starts return nothing (the token cannot be
 * recovered: set RELAY_ADMIN_TOKEN to replace it). Of several instances starting together, only the one whose
 * hash was stored returns a token.
 */
export async function ensureAdminToken(options: {
  db: Kysely<Database>;
  clock: Clock;
  configuredToken?: string;
}): Promise<{ generatedToken?: string }> {
  const { db, clock, configuredToken } = options;
  if (configuredToken !== undefined) {
    const hash = sha256Hex(configuredToken);
    const now = clock.now();
    await db
      .insertInto("kv")
      .values({ key: ADMIN_TOKEN_KEY, value: hash, updated_at: now })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: hash, updated_at: now }))
      .execute();
    return {};
  }

  const generatedToken = randomBytes(32).toString("base64url");
  const hash = sha256Hex(generatedToken);
  await db
    .insertInto("kv")
    .values({ key: ADMIN_TOKEN_KEY, value: hash, updated_at: clock.now() })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  // Read back rather than trusting affected-row counts, which the two drivers report differently.
  const stored = await storedHash(db);
  return stored === hash ? { generatedToken } : {};
}

/** True when `presented` is the admin token. Compares fixed-length hashes in constant time. */
export async function verifyAdminToken(db: Kysely<Database>, presented: string): Promise<boolean> {
  if (typeof presented !== "string" || presented.length === 0) return false;
  const stored = await storedHash(db);
  if (stored === undefined || !/^[0-9a-f]{64}$/.test(stored)) return false;
  const expected = Buffer.from(stored, "hex");
  const actual = createHash("sha256").update(presented, "utf8").digest();
  return timingSafeEqual(expected, actual);
}

async function storedHash(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom("kv").select("value").where("key", "=", ADMIN_TOKEN_KEY).executeTakeFirst();
  return row?.value;
}

function sha256Hex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
