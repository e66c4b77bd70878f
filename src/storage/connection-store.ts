import type { Kysely, Selectable } from "kysely";
import type { Connection } from "../core/connection.ts";
import type { Database, MsConnectionsTable } from "./schema.ts";

function toConnection(row: Selectable<MsConnectionsTable>): Connection {
  return {
    orgId: row.org_id,
    state: row.state,
    tenantId: row.tenant_id,
    userId: row.user_id,
    userPrincipalName: row.user_principal_name,
    userDisplayName: row.user_display_name,
    homeAccountId: row.home_account_id,
    accessTokenExpiresAt: row.access_token_expires_at,
    lastRefreshAt: row.last_refresh_at,
    consecutiveFailures: row.consecutive_failures,
    lastError:
      row.last_error_bucket === null
        ? null
        : {
            bucket: row.last_error_bucket,
            aadsts: row.last_error_aadsts,
            message: row.last_error_message ?? "",
          },
    connectedAt: row.connected_at,
    updatedAt: row.updated_at,
  };
}

/** `ms_connections`: one row per connected org. */
export class ConnectionStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(orgId: string): Promise<Connection | undefined> {
    const row = await this.#db
      .selectFrom("ms_connections")
      .selectAll()
      .where("org_id", "=", orgId)
      .executeTakeFirst();
    return row ? toConnection(row) : undefined;
  }

  async save(connection: Connection): Promise<void> {
    const values = {
      org_id: connection.orgId,
      state: connection.state,
      tenant_id: connection.tenantId,
      user_id: connection.userId,
      user_principal_name: connection.userPrincipalName,
      user_display_name: connection.userDisplayName,
      home_account_id: connection.homeAccountId,
      access_token_expires_at: connection.accessTokenExpiresAt,
      last_refresh_at: connection.lastRefreshAt,
      consecutive_failures: connection.consecutiveFailures,
      last_error_bucket: connection.lastError?.bucket ?? null,
      last_error_aadsts: connection.lastError?.aadsts ?? null,
      last_error_message: connection.lastError?.message ?? null,
      connected_at: connection.connectedAt,
      updated_at: connection.updatedAt,
    };
    const { org_id: _key, ...updates } = values;
    await this.#db
      .insertInto("ms_connections")
      .values(values)
      .onConflict((oc) => oc.column("org_id").doUpdateSet(updates))
      .execute();
  }
}
