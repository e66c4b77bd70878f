import type { Kysely } from "kysely";
import { RelayError } from "../core/errors.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "./schema.ts";

/** `kv` key of a known marker sealed with the key this database's secrets are sealed with. */
export const KEY_CHECK_KEY = "encryption_key_check";
export const KEY_CHECK_AAD = "kv:value:encryption_key_check";
export const KEY_CHECK_MARKER = "teams-emergency-relay encryption key check v1";

/**
 * Refuses to start with an encryption key other than the one the database's secrets are sealed with. Several
 * instances share one PostgreSQL database; one started with another RELAY_ENCRYPTION_KEY would fail on every
 * secret it reads and, worse, seal new ones that no other instance can open. The first start seals a known marker
 * (and, on a database from before this check, first makes sure its existing secrets carry this key's id); every
 * later start of any instance must open it. Throws ERR_CONFIG; the message names key ids, never keys.
 */
export async function verifyEncryptionKey(db: Kysely<Database>, box: SecretBox, now: number): Promise<void> {
  let stored = await readMarker(db);
  if (stored === undefined) {
    const sealed = box.seal(KEY_CHECK_MARKER, KEY_CHECK_AAD);
    const existing = await anySealedSecret(db);
    if (existing !== undefined && keyIdOf(existing) !== keyIdOf(sealed))
      throw mismatch(keyIdOf(existing), sealed);
    // Of several instances starting on a new database, the first marker stays; the others check against it.
    await db
      .insertInto("kv")
      .values({ key: KEY_CHECK_KEY, value: sealed, updated_at: now })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    stored = (await readMarker(db))!;
  }
  let opened: string | undefined;
  try {
    opened = box.open(stored, KEY_CHECK_AAD);
  } catch {
    // Wrong key, or a tampered marker: either way this instance must not seal anything with its key.
  }
  if (opened !== KEY_CHECK_MARKER) throw mismatch(keyIdOf(stored), box.seal(KEY_CHECK_MARKER, KEY_CHECK_AAD));
}

async function readMarker(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom("kv").select("value").where("key", "=", KEY_CHECK_KEY).executeTakeFirst();
  return row?.value;
}

/** One secret sealed before the marker existed (databases from earlier versions), if there is any. */
async function anySealedSecret(db: Kysely<Database>): Promise<string | undefined> {
  const org = await db
    .selectFrom("orgs")
    .select("client_secret_ciphertext as value")
    .where("client_secret_ciphertext", "is not", null)
    .limit(1)
    .executeTakeFirst();
  if (org?.value) return org.value;
  const cache = await db
    .selectFrom("ms_token_caches")
    .select("cache_ciphertext as value")
    .limit(1)
    .executeTakeFirst();
  return cache?.value;
}

/** Envelopes are `v1.<keyId>.<iv>.<tag>.<ciphertext>`; the id is 8 hex characters of SHA-256(key). */
function keyIdOf(envelope: string): string {
  return envelope.split(".")[1] ?? "unknown";
}

function mismatch(databaseKeyId: string, ourEnvelope: string): RelayError {
  return new RelayError(
    "ERR_CONFIG",
    `RELAY_ENCRYPTION_KEY does not match this database: its secrets are sealed with key id ${databaseKeyId}, ` +
      `this instance's key has id ${keyIdOf(ourEnvelope)}. Every instance sharing a database needs the same key: ` +
      "set the one the other instances use (or restore the data directory's encryption.key). To change the key, " +
      "stop every instance and run `teams-emergency-relay rotate-key` (docs/operations.md).",
  );
}
