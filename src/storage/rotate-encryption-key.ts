import { sql, type Kysely } from "kysely";
import { RelayError } from "../core/errors.ts";
import type { SecretBox } from "../core/secret-box.ts";
import { channelSecretsAad } from "./alert-channel-store.ts";
import { deliveryMessageAad } from "./alert-outbox-store.ts";
import { privateKeyAad } from "./encryption-certificate-store.ts";
import { KEY_CHECK_AAD, KEY_CHECK_KEY } from "./encryption-key-check.ts";
import { clientSecretAad } from "./org-store.ts";
import { codeVerifierAad } from "./pending-auth-store.ts";
import type { Database } from "./schema.ts";
import { clientStateAad } from "./subscription-store.ts";
import { tokenCacheAad } from "./token-cache-store.ts";

export interface SealedColumn {
  table: keyof Database;
  column: string;
  /** The row's key column, whose value the `aad` is built from. */
  key: string;
  aad(keyValue: string): string;
  /** Only rows matching this column = value (the kv table holds one sealed entry among plain ones). */
  only?: { column: string; value: string };
}

/**
 * Every column holding a value sealed with RELAY_ENCRYPTION_KEY. A new sealed column must be added here, or key
 * rotation leaves it unreadable (test/integration/rotate-encryption-key.test.ts compares this list with the
 * schema's `*_ciphertext` columns).
 */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: "orgs", column: "client_secret_ciphertext", key: "id", aad: clientSecretAad },
  { table: "ms_token_caches", column: "cache_ciphertext", key: "org_id", aad: tokenCacheAad },
  { table: "oauth_pending", column: "code_verifier_ciphertext", key: "state", aad: codeVerifierAad },
  { table: "encryption_certificates", column: "private_key_ciphertext", key: "id", aad: privateKeyAad },
  { table: "subscriptions", column: "client_state_ciphertext", key: "id", aad: clientStateAad },
  { table: "alert_channels", column: "secrets_ciphertext", key: "id", aad: channelSecretsAad },
  { table: "alert_deliveries", column: "message_ciphertext", key: "id", aad: deliveryMessageAad },
  {
    table: "kv",
    column: "value",
    key: "key",
    aad: () => KEY_CHECK_AAD,
    only: { column: "key", value: KEY_CHECK_KEY },
  },
];

const PAGE = 500;

/**
 * Re-seals every sealed value from `from` to `to` in ONE transaction: afterwards the database opens only with the
 * new key, or (on any error, e.g. a value the old key cannot open) nothing changed. Every instance must be stopped
 * meanwhile: one still running with the old key would fail on the new values and seal new ones with the old key.
 * Returns how many values each `table.column` had.
 */
export async function rotateEncryptionKey(
  db: Kysely<Database>,
  from: SecretBox,
  to: SecretBox,
): Promise<Record<string, number>> {
  return db.transaction().execute(async (trx) => {
    const counts: Record<string, number> = {};
    for (const sealed of SEALED_COLUMNS) {
      const name = `${sealed.table}.${sealed.column}`;
      counts[name] = 0;
      // Keyset pages: a large outbox is never held in memory at once.
      let after: string | undefined;
      for (;;) {
        const { rows } = await sql<{ k: string; v: string }>`
          select ${sql.ref(sealed.key)} as k, ${sql.ref(sealed.column)} as v from ${sql.table(sealed.table)}
          where ${sql.ref(sealed.column)} is not null
            ${sealed.only ? sql`and ${sql.ref(sealed.only.column)} = ${sealed.only.value}` : sql``}
            ${after === undefined ? sql`` : sql`and ${sql.ref(sealed.key)} > ${after}`}
          order by ${sql.ref(sealed.key)}
          limit ${PAGE}`.execute(trx);
        for (const row of rows) {
          let clear: string;
          try {
            clear = from.open(row.v, sealed.aad(row.k));
          } catch (error) {
            throw new RelayError(
              "ERR_SECRET_UNREADABLE",
              `Cannot open ${name} of row ${row.k} with the current key; nothing was changed. ` +
                `(${error instanceof Error ? error.message : String(error)})`,
            );
          }
          await sql`update ${sql.table(sealed.table)} set ${sql.ref(sealed.column)} = ${to.seal(clear, sealed.aad(row.k))}
            where ${sql.ref(sealed.key)} = ${row.k}`.execute(trx);
          counts[name] += 1;
        }
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1]!.k;
      }
    }
    return counts;
  });
}
