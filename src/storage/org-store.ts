import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";
import type { NewOrg, Org, OrgPatch } from "../core/org.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database, OrgsTable } from "./schema.ts";

/** `org_` + 16 lowercase hex characters (64 random bits). */
export function newOrgId(): string {
  return `org_${randomBytes(8).toString("hex")}`;
}

/** Binds a sealed client secret to its row, so a ciphertext copied into another org does not open. */
export function clientSecretAad(orgId: string): string {
  return `orgs:client_secret:${orgId}`;
}

/**
 * The `orgs` table. Input arrives already validated (core/org-input.ts). The client secret goes in sealed and
 * comes out only through `readClientSecret`; `Org` values carry `hasClientSecret` instead.
 */
export class OrgStore {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, secretBox: SecretBox, clock: Clock) {
    this.#db = db;
    this.#box = secretBox;
    this.#clock = clock;
  }

  async create(input: NewOrg): Promise<Org> {
    const now = this.#clock.now();
    const row: Selectable<OrgsTable> = {
      id: newOrgId(),
      name: input.name,
      tenant_id: null,
      client_id: null,
      client_secret_ciphertext: null,
      client_secret_expires_at: null,
      webhook_base_url: input.webhookBaseUrl ?? null,
      expected_service_user_upn: input.expectedServiceUserUpn ?? null,
      secret_expiry_warned_days: null,
      notification_mode: input.notificationMode ?? "rich",
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto("orgs").values(row).execute();
    return toOrg(row);
  }

  async get(id: string): Promise<Org | undefined> {
    const row = await this.#db.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : toOrg(row);
  }

  /** Oldest first. */
  async list(): Promise<Org[]> {
    const rows = await this.#db.selectFrom("orgs").selectAll().orderBy("created_at").orderBy("id").execute();
    return rows.map(toOrg);
  }

  /**
   * Applies the fields present in `patch` (`null` clears). A new client secret, or a different expiry, resets
   * `secretExpiryWarnedDays` so expiry warnings start over. Throws ERR_NOT_FOUND for an unknown id.
   */
  async update(id: string, patch: OrgPatch): Promise<Org> {
    return this.#db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirst();
      if (current === undefined) throw notFound(id);

      const next: Selectable<OrgsTable> = { ...current, updated_at: this.#clock.now() };
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.tenantId !== undefined) next.tenant_id = patch.tenantId;
      if (patch.clientId !== undefined) next.client_id = patch.clientId;
      if (patch.webhookBaseUrl !== undefined) next.webhook_base_url = patch.webhookBaseUrl;
      if (patch.expectedServiceUserUpn !== undefined)
        next.expected_service_user_upn = patch.expectedServiceUserUpn;
      if (patch.notificationMode !== undefined) next.notification_mode = patch.notificationMode;
      let resetWarnings = false;
      if (patch.clientSecret !== undefined) {
        next.client_secret_ciphertext =
          patch.clientSecret === null ? null : this.#box.seal(patch.clientSecret, clientSecretAad(id));
        resetWarnings = true;
      }
      if (
        patch.clientSecretExpiresAt !== undefined &&
        patch.clientSecretExpiresAt !== current.client_secret_expires_at
      ) {
        next.client_secret_expires_at = patch.clientSecretExpiresAt;
        resetWarnings = true;
      }
      if (resetWarnings) next.secret_expiry_warned_days = null;

      const { id: _id, created_at: _createdAt, ...changes } = next;
      await trx.updateTable("orgs").set(changes).where("id", "=", id).execute();
      return toOrg(next);
    });
  }

  /** True when the org existed. Its connection, token cache and pending sign-ins go with it (foreign keys). */
  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom("orgs").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * The clear client secret, for the flows that talk to Entra; undefined when the org or its secret is missing.
   * Throws ERR_SECRET_UNREADABLE when the stored envelope does not open (key changed, row tampered).
   */
  async readClientSecret(id: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom("orgs")
      .select("client_secret_ciphertext")
      .where("id", "=", id)
      .executeTakeFirst();
    if (row?.client_secret_ciphertext == null) return undefined;
    return this.#box.open(row.client_secret_ciphertext, clientSecretAad(id));
  }

  /**
   * Records that the `days`-left expiry warning went out. Pass `forExpiresAt` (the expiry the warning was
   * computed from) to make it conditional: if the admin entered a new secret or expiry meanwhile, nothing is
   * marked and the new expiry gets its own warnings.
   */
  async markSecretExpiryWarned(id: string, days: number, forExpiresAt?: number | null): Promise<void> {
    let query = this.#db.updateTable("orgs").set({ secret_expiry_warned_days: days }).where("id", "=", id);
    if (forExpiresAt !== undefined) {
      query =
        forExpiresAt === null
          ? query.where("client_secret_expires_at", "is", null)
          : query.where("client_secret_expires_at", "=", forExpiresAt);
    }
    await query.execute();
  }
}

function notFound(id: string): RelayError {
  return new RelayError("ERR_NOT_FOUND", `Org ${id} not found`);
}

function toOrg(row: Selectable<OrgsTable>): Org {
  return {
    id: row.id,
    name: row.name,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    hasClientSecret: row.client_secret_ciphertext !== null,
    clientSecretExpiresAt: row.client_secret_expires_at,
    webhookBaseUrl: row.webhook_base_url,
    expectedServiceUserUpn: row.expected_service_user_upn,
    secretExpiryWarnedDays: row.secret_expiry_warned_days,
    notificationMode: row.notification_mode === "basic" ? "basic" : "rich",
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
