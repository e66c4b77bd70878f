import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Named, expiring leases in the `leases` table: at most one owner per name across every instance sharing the
 * database. One atomic statement per operation, the same SQL on SQLite and PostgreSQL
 * (`INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`), so no engine-specific locking is needed.
 * Times are epoch ms passed in by the caller (its injected clock).
 */
export class LeaseStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Takes the lease for `ttlMs` if it is free, expired, or already `owner`'s (which extends it).
   * Returns whether `owner` holds it now.
   */
  async tryAcquire(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    checkTtl(ttlMs);
    const row = await this.#db
      .insertInto("leases")
      .values({ name, owner, expires_at: now + ttlMs })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet((eb) => ({
            owner: eb.ref("excluded.owner"),
            expires_at: eb.ref("excluded.expires_at"),
          }))
          .where((eb) =>
            eb.or([eb("leases.expires_at", "<=", now), eb("leases.owner", "=", eb.ref("excluded.owner"))]),
          ),
      )
      .returning("name")
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Extends a lease `owner` still holds (not yet expired). Returns false if it lapsed or belongs to another. */
  async renew(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    checkTtl(ttlMs);
    const row = await this.#db
      .updateTable("leases")
      .set({ expires_at: now + ttlMs })
      .where("name", "=", name)
      .where("owner", "=", owner)
      .where("expires_at", ">", now)
      .returning("name")
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Gives the lease up, only if `owner` holds it. Returns whether it did. */
  async release(name: string, owner: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("leases")
      .where("name", "=", name)
      .where("owner", "=", owner)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Gives up every lease `owner` holds (shutting down), so other instances need not wait for them to expire. */
  async releaseAllOf(owner: string): Promise<number> {
    const result = await this.#db.deleteFrom("leases").where("owner", "=", owner).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** The current holder, if the lease exists and has not expired at `now`. */
  async holder(name: string, now: number): Promise<{ owner: string; expiresAt: number } | undefined> {
    const row = await this.#db
      .selectFrom("leases")
      .select(["owner", "expires_at"])
      .where("name", "=", name)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return row === undefined ? undefined : { owner: row.owner, expiresAt: Number(row.expires_at) };
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError("ttlMs must be a positive integer");
}
