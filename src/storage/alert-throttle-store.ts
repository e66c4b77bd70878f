import type { Kysely } from "kysely";
import type { AlertThrottle } from "../core/alert-ports.ts";
import type { Database } from "./schema.ts";

/**
 * `alert_throttle`: at most one alert per key and window (operational alerts of one kind for one org), across
 * instances. Claiming is a conditional write, so of two concurrent claimers one wins.
 */
export class AlertThrottleStore implements AlertThrottle {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** True when nothing was claimed for `key` within `windowMs` before `now`; the claim is then recorded. */
  async claim(key: string, now: number, windowMs: number): Promise<boolean> {
    const inserted = await this.#db
      .insertInto("alert_throttle")
      .values({ key, last_at: now })
      .onConflict((oc) => oc.column("key").doNothing())
      .executeTakeFirst();
    if ((inserted.numInsertedOrUpdatedRows ?? 0n) > 0n) return true;
    const updated = await this.#db
      .updateTable("alert_throttle")
      .set({ last_at: now })
      .where("key", "=", key)
      .where("last_at", "<=", now - windowMs)
      .executeTakeFirst();
    return updated.numUpdatedRows > 0n;
  }
}
