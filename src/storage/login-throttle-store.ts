import type { Kysely } from "kysely";
import type { ThrottleState } from "../core/login-throttle.ts";
import type { Database } from "./schema.ts";

/**
 * Failed sign-ins per key (`user:<name>`, `addr:<ip>`), in the database so a restart does not reset a lockout and
 * several instances share it. The policy lives in core/login-throttle.ts.
 */
export class LoginThrottleStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(key: string): Promise<ThrottleState | undefined> {
    const row = await this.#db
      .selectFrom("web_login_throttle")
      .selectAll()
      .where("key", "=", key)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { failures: row.failures, lastFailureAt: row.last_failure_at, lockedUntil: row.locked_until };
  }

  async put(key: string, state: ThrottleState): Promise<void> {
    const values = {
      failures: state.failures,
      last_failure_at: state.lastFailureAt,
      locked_until: state.lockedUntil,
    };
    await this.#db
      .insertInto("web_login_throttle")
      .values({ key, ...values })
      .onConflict((oc) => oc.column("key").doUpdateSet(values))
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.#db.deleteFrom("web_login_throttle").where("key", "=", key).execute();
  }

  /** Drops entries whose last failure is older than `before` and that hold no lock past it. */
  async purge(before: number): Promise<void> {
    await this.#db
      .deleteFrom("web_login_throttle")
      .where("last_failure_at", "<", before)
      .where("locked_until", "<", before)
      .execute();
  }
}
