import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { Account, Role } from "../core/account.ts";
import { isRole } from "../core/account.ts";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";
import type { Database, WebAccountsTable } from "./schema.ts";

export interface NewAccount {
  username: string;
  displayName: string | null;
  role: Role;
  passwordHash: string;
}

/** An account with its password hash, for the sign-in check only. */
export interface AccountCredentials {
  account: Account;
  passwordHash: string;
}

/**
 * The web app's `web_accounts` table. Input arrives validated (core/account-input.ts) and hashed
 * (web/password-hasher.ts); `Account` values never carry the hash.
 */
export class AccountStore {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Throws ERR_CONFLICT when the username is taken. */
  async create(input: NewAccount): Promise<Account> {
    const now = this.#clock.now();
    const row: Selectable<WebAccountsTable> = {
      id: `acc_${randomBytes(8).toString("hex")}`,
      username: input.username,
      display_name: input.displayName,
      role: input.role,
      password_hash: input.passwordHash,
      disabled_at: null,
      created_at: now,
      updated_at: now,
      last_login_at: null,
      password_changed_at: now,
    };
    // Read back rather than trusting affected-row counts, which the two drivers report differently.
    await this.#db
      .insertInto("web_accounts")
      .values(row)
      .onConflict((oc) => oc.column("username").doNothing())
      .execute();
    const stored = await this.get(row.id);
    if (stored === undefined) {
      throw new RelayError("ERR_CONFLICT", `The username ${input.username} is already taken`);
    }
    return stored;
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom("web_accounts")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async get(id: string): Promise<Account | undefined> {
    const row = await this.#db.selectFrom("web_accounts").selectAll().where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  /** `username` as normalised by core/account-input.ts normalizeUsername. */
  async credentials(username: string): Promise<AccountCredentials | undefined> {
    const row = await this.#db
      .selectFrom("web_accounts")
      .selectAll()
      .where("username", "=", username)
      .executeTakeFirst();
    return row === undefined ? undefined : { account: toAccount(row), passwordHash: row.password_hash };
  }

  async passwordHash(id: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom("web_accounts")
      .select("password_hash")
      .where("id", "=", id)
      .executeTakeFirst();
    return row?.password_hash;
  }

  /** Admins first, then by username. */
  async list(): Promise<Account[]> {
    const rows = await this.#db.selectFrom("web_accounts").selectAll().orderBy("username").execute();
    return rows.map(toAccount);
  }

  /** Enabled admins, for the "never remove the last admin" rule. */
  async countActiveAdmins(): Promise<number> {
    const row = await this.#db
      .selectFrom("web_accounts")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("role", "=", "admin")
      .where("disabled_at", "is", null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setRole(id: string, role: Role): Promise<Account> {
    return this.#update(id, { role });
  }

  async setDisabled(id: string, disabled: boolean): Promise<Account> {
    return this.#update(id, { disabled_at: disabled ? this.#clock.now() : null });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<Account> {
    return this.#update(id, { password_hash: passwordHash, password_changed_at: this.#clock.now() });
  }

  async recordLogin(id: string): Promise<void> {
    await this.#db
      .updateTable("web_accounts")
      .set({ last_login_at: this.#clock.now() })
      .where("id", "=", id)
      .execute();
  }

  async #update(
    id: string,
    values: Partial<Omit<Selectable<WebAccountsTable>, "id" | "username" | "created_at">>,
  ): Promise<Account> {
    await this.#db
      .updateTable("web_accounts")
      .set({ ...values, updated_at: this.#clock.now() })
      .where("id", "=", id)
      .execute();
    const account = await this.get(id);
    if (account === undefined) throw new RelayError("ERR_NOT_FOUND", `No account ${id}`);
    return account;
  }
}

function toAccount(row: Selectable<WebAccountsTable>): Account {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    // An unknown role (a newer version's, or a hand edit) gets the least rights, never more.
    role: isRole(row.role) ? row.role : "viewer",
    disabled: row.disabled_at !== null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastLoginAt: row.last_login_at === null ? null : Number(row.last_login_at),
    passwordChangedAt: Number(row.password_changed_at),
  };
}
