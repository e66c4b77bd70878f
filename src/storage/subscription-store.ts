import type { Kysely, Selectable } from "kysely";
import type { KnownSubscription, SubscriptionLookup } from "../core/intake-ports.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type {
  NewSubscription,
  PendingSubscription,
  Subscription,
  SubscriptionRepository,
  SubscriptionUpdate,
} from "../core/subscription.ts";
import type { Database, SubscriptionState, SubscriptionsTable } from "./schema.ts";

/** A subscription as the keeper and the status API see it; the clientState comes out only through `find`. */
export type StoredSubscription = Subscription;

/** Binds a sealed clientState to its row. */
export function clientStateAad(id: string): string {
  return `subscriptions:client_state:${id}`;
}

/** Pending rows live in the same table under an id Graph never uses (its ids are GUIDs). */
export function pendingSubscriptionId(orgId: string): string {
  return `pending:${orgId}`;
}

const LIVE_STATES: SubscriptionState[] = ["active", "failing"];

/** `subscriptions`: Graph subscriptions per org, clientState sealed; also the intake's lookup by subscription id. */
export class SubscriptionStore implements SubscriptionLookup, SubscriptionRepository {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, secretBox: SecretBox) {
    this.#db = db;
    this.#box = secretBox;
  }

  /** The live subscription with this Graph id and its clear clientState; undefined when unknown or removed. */
  async find(subscriptionId: string): Promise<KnownSubscription | undefined> {
    const row = await this.#db
      .selectFrom("subscriptions")
      .select(["id", "org_id", "client_state_ciphertext", "include_resource_data"])
      .where("id", "=", subscriptionId)
      .where("state", "in", LIVE_STATES)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      orgId: row.org_id,
      clientState: this.#box.open(row.client_state_ciphertext, clientStateAad(row.id)),
      includeResourceData: Number(row.include_resource_data) === 1,
    };
  }

  /** Moves `last_notification_at` forward (never back: the worker may process items out of order). */
  async touchNotification(subscriptionId: string, at: number): Promise<void> {
    await this.#db
      .updateTable("subscriptions")
      .set({ last_notification_at: at })
      .where("id", "=", subscriptionId)
      .where((eb) => eb.or([eb("last_notification_at", "is", null), eb("last_notification_at", "<", at)]))
      .execute();
  }

  async get(id: string): Promise<StoredSubscription | undefined> {
    const row = await this.#db
      .selectFrom("subscriptions")
      .selectAll()
      .where("id", "=", id)
      .where("state", "!=", "pending")
      .executeTakeFirst();
    return row ? toSubscription(row) : undefined;
  }

  /** The org's subscriptions, newest first; removed ones only when asked. Pending creations are not listed. */
  async listByOrg(orgId: string, options: { includeRemoved?: boolean } = {}): Promise<StoredSubscription[]> {
    let query = this.#db
      .selectFrom("subscriptions")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("state", "!=", "pending");
    if (!options.includeRemoved) query = query.where("state", "!=", "removed");
    const rows = await query.orderBy("created_at", "desc").orderBy("id").execute();
    return rows.map(toSubscription);
  }

  /** Stores a subscription Graph confirmed (created or adopted). */
  async save(subscription: NewSubscription, now: number): Promise<StoredSubscription> {
    const row = subscriptionRow(subscription, this.#box, now);
    const { id: _id, created_at: _createdAt, ...updates } = row;
    await this.#db
      .insertInto("subscriptions")
      .values(row)
      .onConflict((oc) => oc.column("id").doUpdateSet(updates))
      .execute();
    return toSubscription(row);
  }

  async update(id: string, patch: SubscriptionUpdate, now: number): Promise<void> {
    await this.#db
      .updateTable("subscriptions")
      .set({
        ...(patch.expiresAt !== undefined ? { expires_at: patch.expiresAt } : {}),
        ...(patch.state !== undefined ? { state: patch.state } : {}),
        ...(patch.lastRenewedAt !== undefined ? { last_renewed_at: patch.lastRenewedAt } : {}),
        ...(patch.lastError !== undefined ? { last_error: truncate(patch.lastError) } : {}),
        ...(patch.encryptionCertificateId !== undefined
          ? { encryption_certificate_id: patch.encryptionCertificateId }
          : {}),
        updated_at: now,
      })
      .where("id", "=", id)
      .where("state", "!=", "pending")
      .execute();
  }

  /** Graph removed it (or it expired): notifications naming it are no longer accepted. */
  async markRemoved(id: string, now: number): Promise<void> {
    await this.update(id, { state: "removed" }, now);
  }

  // --- The creation in progress --------------------------------------------------------------------------------

  async pending(orgId: string): Promise<PendingSubscription | undefined> {
    const id = pendingSubscriptionId(orgId);
    const row = await this.#db
      .selectFrom("subscriptions")
      .selectAll()
      .where("id", "=", id)
      .where("state", "=", "pending")
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      orgId: row.org_id,
      clientState: this.#box.open(row.client_state_ciphertext, clientStateAad(id)),
      resource: row.resource,
      changeType: row.change_type,
      includeResourceData: Number(row.include_resource_data) === 1,
      encryptionCertificateId: row.encryption_certificate_id,
      requestedExpiresAt: Number(row.expires_at),
      lastError: row.last_error,
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    };
  }

  /** Persists the choice (clientState, certificate) before the POST; replaces an earlier pending choice. */
  async savePending(
    pending: Omit<PendingSubscription, "lastError" | "createdAt" | "updatedAt">,
    now: number,
  ): Promise<void> {
    const id = pendingSubscriptionId(pending.orgId);
    const row: Selectable<SubscriptionsTable> = {
      id,
      org_id: pending.orgId,
      resource: pending.resource,
      change_type: pending.changeType,
      client_state_ciphertext: this.#box.seal(pending.clientState, clientStateAad(id)),
      include_resource_data: pending.includeResourceData ? 1 : 0,
      encryption_certificate_id: pending.encryptionCertificateId,
      expires_at: pending.requestedExpiresAt,
      state: "pending",
      last_renewed_at: null,
      last_notification_at: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    };
    const { id: _id, created_at: _createdAt, last_error: _lastError, ...updates } = row;
    await this.#db
      .insertInto("subscriptions")
      .values(row)
      .onConflict((oc) => oc.column("id").doUpdateSet(updates))
      .execute();
  }

  async recordPendingError(orgId: string, error: string, now: number): Promise<void> {
    await this.#db
      .updateTable("subscriptions")
      .set({ last_error: truncate(error), updated_at: now })
      .where("id", "=", pendingSubscriptionId(orgId))
      .execute();
  }

  /**
   * Graph created (or we adopted) the pending subscription: in one transaction, store it under Graph's id with the
   * pending clientState and drop the pending row.
   */
  async promotePending(
    orgId: string,
    confirmed: Omit<NewSubscription, "orgId" | "clientState">,
    now: number,
  ): Promise<StoredSubscription> {
    const pending = await this.pending(orgId);
    if (!pending) throw new Error(`no pending subscription for org ${orgId}`);
    return this.#db.transaction().execute(async (trx) => {
      const row = subscriptionRow({ ...confirmed, orgId, clientState: pending.clientState }, this.#box, now);
      const { id: _id, created_at: _createdAt, ...updates } = row;
      await trx
        .insertInto("subscriptions")
        .values(row)
        .onConflict((oc) => oc.column("id").doUpdateSet(updates))
        .execute();
      await trx.deleteFrom("subscriptions").where("id", "=", pendingSubscriptionId(orgId)).execute();
      return toSubscription(row);
    });
  }

  async clearPending(orgId: string): Promise<void> {
    await this.#db.deleteFrom("subscriptions").where("id", "=", pendingSubscriptionId(orgId)).execute();
  }
}

function subscriptionRow(
  subscription: NewSubscription,
  box: SecretBox,
  now: number,
): Selectable<SubscriptionsTable> {
  return {
    id: subscription.id,
    org_id: subscription.orgId,
    resource: subscription.resource,
    change_type: subscription.changeType,
    client_state_ciphertext: box.seal(subscription.clientState, clientStateAad(subscription.id)),
    include_resource_data: subscription.includeResourceData ? 1 : 0,
    encryption_certificate_id: subscription.encryptionCertificateId,
    expires_at: subscription.expiresAt,
    state: "active",
    last_renewed_at: null,
    last_notification_at: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

function truncate(text: string | null): string | null {
  return text === null ? null : text.slice(0, 500);
}

function toSubscription(row: Selectable<SubscriptionsTable>): StoredSubscription {
  return {
    id: row.id,
    orgId: row.org_id,
    resource: row.resource,
    changeType: row.change_type,
    includeResourceData: Number(row.include_resource_data) === 1,
    encryptionCertificateId: row.encryption_certificate_id,
    expiresAt: Number(row.expires_at),
    state: row.state as Subscription["state"],
    lastRenewedAt: row.last_renewed_at === null ? null : Number(row.last_renewed_at),
    lastNotificationAt: row.last_notification_at === null ? null : Number(row.last_notification_at),
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
