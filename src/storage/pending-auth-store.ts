import type { Kysely } from "kysely";
import type { PendingAuthRequest } from "../core/ports.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "./schema.ts";

export type PendingAuth = PendingAuthRequest;

/** Binds a sealed PKCE verifier to its request's row. */
export function codeVerifierAad(state: string): string {
  return `oauth_pending:code_verifier:${state}`;
}

/** OAuth requests in flight, in the database so the callback may reach any instance. Each is taken once. */
export class PendingAuthStore {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  async create(pending: PendingAuth): Promise<void> {
    await this.#db
      .insertInto("oauth_pending")
      .values({
        state: pending.state,
        org_id: pending.orgId,
        code_verifier_ciphertext: this.#box.seal(pending.codeVerifier, codeVerifierAad(pending.state)),
        nonce: pending.nonce,
        login_hint: pending.loginHint,
        replace_user: pending.replaceUser ? 1 : 0,
        created_at: pending.createdAt,
        expires_at: pending.expiresAt,
      })
      .execute();
  }

  /** Deletes and returns the request: a replayed `state` finds nothing. */
  async take(state: string): Promise<PendingAuth | undefined> {
    const row = await this.#db
      .deleteFrom("oauth_pending")
      .where("state", "=", state)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      state: row.state,
      orgId: row.org_id,
      codeVerifier: this.#box.open(row.code_verifier_ciphertext, codeVerifierAad(row.state)),
      nonce: row.nonce,
      loginHint: row.login_hint,
      replaceUser: row.replace_user === 1,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async purgeExpired(now: number): Promise<void> {
    await this.#db.deleteFrom("oauth_pending").where("expires_at", "<", now).execute();
  }
}
