import { randomBytes } from "node:crypto";
import type { AccountStore } from "../storage/account-store.ts";
import type { PasswordHasher } from "./password-hasher.ts";

export const FIRST_ADMIN_USERNAME = "admin";

export interface FirstAdmin {
  username: string;
  /** Only when generated here: shown once, never stored in clear. */
  password?: string;
}

/**
 * Creates the first admin account when there is no account at all, with `configuredPassword`
 * (RELAY_INITIAL_ADMIN_PASSWORD) or a random one returned for the caller to print once. Returns undefined when
 * accounts exist already, or another instance starting at the same time created it first.
 */
export async function ensureFirstAdmin(options: {
  accounts: AccountStore;
  hasher: PasswordHasher;
  configuredPassword?: string;
}): Promise<FirstAdmin | undefined> {
  const { accounts, hasher, configuredPassword } = options;
  if ((await accounts.count()) > 0) return undefined;
  // 18 random bytes: 24 base64url characters, about 144 bits.
  const password = configuredPassword ?? randomBytes(18).toString("base64url");
  try {
    await accounts.create({
      username: FIRST_ADMIN_USERNAME,
      displayName: "Administrator",
      role: "admin",
      passwordHash: await hasher.hash(password),
    });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_CONFLICT") return undefined;
    throw error;
  }
  return configuredPassword === undefined
    ? { username: FIRST_ADMIN_USERNAME, password }
    : { username: FIRST_ADMIN_USERNAME };
}
