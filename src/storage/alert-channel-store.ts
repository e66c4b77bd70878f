import { randomBytes } from "node:crypto";
import type { ChannelRepository } from "../core/alert-ports.ts";
import type { Kysely, Selectable } from "kysely";
import type { AlertChannel, ChannelTarget } from "../core/alert-channel.ts";
import type { ChannelType } from "../core/alert.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { AlertChannelsTable, Database } from "./schema.ts";

/** Binds a channel's sealed secrets to its row: copied into another channel, they do not open. */
export function channelSecretsAad(channelId: string): string {
  return `alert_channels:secrets:${channelId}`;
}

export interface NewAlertChannel {
  orgId: string;
  type: ChannelType;
  name: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

export interface AlertChannelPatch {
  name?: string;
  enabled?: boolean;
  settings?: Record<string, unknown>;
  secrets?: Record<string, string>;
}

/** A channel with what sending needs: its opened secrets. Only flows that send get this. */
export interface ChannelWithSecrets {
  channel: AlertChannel;
  target: ChannelTarget;
}

/**
 * `alert_channels`. Secrets go in sealed (AES-256-GCM, bound to the row) and come out only through
 * `withSecrets`; `AlertChannel` values never carry them.
 */
export class AlertChannelStore implements ChannelRepository {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  async create(input: NewAlertChannel, now: number): Promise<AlertChannel> {
    const id = `ch_${randomBytes(8).toString("hex")}`;
    const row: Selectable<AlertChannelsTable> = {
      id,
      org_id: input.orgId,
      type: input.type,
      name: input.name,
      enabled: input.enabled ? 1 : 0,
      settings_json: JSON.stringify(input.settings),
      secrets_ciphertext: this.#seal(id, input.secrets),
      disabled_reason: null,
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto("alert_channels").values(row).execute();
    return toChannel(row);
  }

  async get(orgId: string, id: string): Promise<AlertChannel | undefined> {
    const row = await this.#db
      .selectFrom("alert_channels")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? undefined : toChannel(row);
  }

  /** Oldest first. */
  async list(orgId: string): Promise<AlertChannel[]> {
    const rows = await this.#db
      .selectFrom("alert_channels")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toChannel);
  }

  /** The channel and its opened secrets; throws ERR_SECRET_UNREADABLE when they do not open. */
  async withSecrets(id: string): Promise<ChannelWithSecrets | undefined> {
    const row = await this.#db
      .selectFrom("alert_channels")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const channel = toChannel(row);
    const secrets =
      row.secrets_ciphertext === null
        ? {}
        : (JSON.parse(this.#box.open(row.secrets_ciphertext, channelSecretsAad(id))) as Record<
            string,
            string
          >);
    return { channel, target: { id, type: channel.type, settings: channel.settings, secrets } };
  }

  /** Applies the fields present; enabling clears the reason the relay disabled it for. Undefined if unknown. */
  async update(
    orgId: string,
    id: string,
    patch: AlertChannelPatch,
    now: number,
  ): Promise<AlertChannel | undefined> {
    const changes: Partial<Selectable<AlertChannelsTable>> = { updated_at: now };
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.enabled !== undefined) {
      changes.enabled = patch.enabled ? 1 : 0;
      if (patch.enabled) changes.disabled_reason = null;
    }
    if (patch.settings !== undefined) changes.settings_json = JSON.stringify(patch.settings);
    if (patch.secrets !== undefined) changes.secrets_ciphertext = this.#seal(id, patch.secrets);
    const result = await this.#db
      .updateTable("alert_channels")
      .set(changes)
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    return this.get(orgId, id);
  }

  /** Disabled by the relay (HTTP 410 from the receiver); true when it was enabled until now. */
  async disable(id: string, reason: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable("alert_channels")
      .set({ enabled: 0, disabled_reason: reason.slice(0, 500), updated_at: now })
      .where("id", "=", id)
      .where("enabled", "=", 1)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("alert_channels")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  #seal(id: string, secrets: Record<string, string>): string | null {
    return Object.keys(secrets).length === 0
      ? null
      : this.#box.seal(JSON.stringify(secrets), channelSecretsAad(id));
  }
}

function toChannel(row: Selectable<AlertChannelsTable>): AlertChannel {
  return {
    id: row.id,
    orgId: row.org_id,
    type: row.type as ChannelType,
    name: row.name,
    enabled: row.enabled === 1,
    settings: JSON.parse(row.settings_json) as Record<string, unknown>,
    disabledReason: row.disabled_reason,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
