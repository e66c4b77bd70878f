import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { TokenCachePersistence } from "../core/token-cache.ts";
import type { Database } from "./schema.ts";

/** Binds a sealed cache to its row: a ciphertext copied into another org's row does not open. */
export function tokenCacheAad(orgId: string): string {
  return `ms_token_caches:cache_ciphertext:${orgId}`;
}

/**
 * One encrypted msal token cache per org (`ms_token_caches`). The blob holds the refresh token, so it is only
 * ever stored sealed. Writes bump `version`; a persistence object that loaded version N refuses to overwrite a
 * row someone else changed since (per-org locking should make that impossible; this catches it if not).
 */
export class TokenCacheStore {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, secretBox: SecretBox, clock: Clock) {
    this.#db = db;
    this.#box = secretBox;
    this.#clock = clock;
  }

  /**
   * The org's cache for one operation. `save` without a prior `load` (code redemption) replaces the row
   * unconditionally; after a `load` it only replaces the version it read, else throws ERR_CONFLICT.
   */
  persistenceFor(orgId: string): TokenCachePersistence {
    let loadedVersion: number | undefined;
    return {
      load: async () => {
        const row = await this.#db
          .selectFrom("ms_token_caches")
          .select(["cache_ciphertext", "version"])
          .where("org_id", "=", orgId)
          .executeTakeFirst();
        if (row === undefined) {
          loadedVersion = undefined;
          return undefined;
        }
        const blob = this.#box.open(row.cache_ciphertext, tokenCacheAad(orgId));
        loadedVersion = Number(row.version);
        return blob;
      },
      save: async (serialized: string) => {
        const ciphertext = this.#box.seal(serialized, tokenCacheAad(orgId));
        const now = this.#clock.now();
        if (loadedVersion === undefined) {
          const row = await this.#db
            .insertInto("ms_token_caches")
            .values({ org_id: orgId, cache_ciphertext: ciphertext, version: 1, updated_at: now })
            .onConflict((oc) =>
              oc.column("org_id").doUpdateSet((eb) => ({
                cache_ciphertext: eb.ref("excluded.cache_ciphertext"),
                version: eb("ms_token_caches.version", "+", 1),
                updated_at: eb.ref("excluded.updated_at"),
              })),
            )
            .returning("version")
            .executeTakeFirstOrThrow();
          loadedVersion = Number(row.version);
          return;
        }
        const row = await this.#db
          .updateTable("ms_token_caches")
          .set((eb) => ({
            cache_ciphertext: ciphertext,
            version: eb("version", "+", 1),
            updated_at: now,
          }))
          .where("org_id", "=", orgId)
          .where("version", "=", loadedVersion)
          .returning("version")
          .executeTakeFirst();
        if (row === undefined) {
          throw new RelayError(
            "ERR_CONFLICT",
            `The token cache of org ${orgId} was changed or removed by another writer since it was read; not overwritten`,
          );
        }
        loadedVersion = Number(row.version);
      },
    };
  }

  /** Current version of the org's row, or undefined when it has none. */
  async version(orgId: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom("ms_token_caches")
      .select("version")
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.version);
  }

  /** Forgets the org's tokens (disconnect). Returns whether a row existed. */
  async delete(orgId: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("ms_token_caches")
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
