import type { Kysely } from "kysely";
import type { PollWatermarkRepository } from "../core/message-ports.ts";
import type { Database } from "./schema.ts";

/** `poll_watermarks`: per org, how far reconciliation polling has seen every chat message. */
export class PollWatermarkStore implements PollWatermarkRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(orgId: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom("poll_watermarks")
      .select("watermark")
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.watermark);
  }

  /** One statement on both engines; a value at or below the stored one changes nothing (passes may overlap). */
  async advance(orgId: string, watermark: number, now: number): Promise<void> {
    await this.#db
      .insertInto("poll_watermarks")
      .values({ org_id: orgId, watermark, updated_at: now })
      .onConflict((oc) =>
        oc
          .column("org_id")
          .doUpdateSet((eb) => ({
            watermark: eb.ref("excluded.watermark"),
            updated_at: eb.ref("excluded.updated_at"),
          }))
          .where((eb) => eb("poll_watermarks.watermark", "<", eb.ref("excluded.watermark"))),
      )
      .execute();
  }
}
