import type { Account } from "../core/account.ts";
import { normalizeUsername } from "../core/account-input.ts";
import type { Clock } from "../core/clock.ts";
import {
  ADDRESS_THROTTLE,
  USERNAME_THROTTLE,
  afterFailure,
  isForgotten,
  lockRemaining,
  type ThrottlePolicy,
} from "../core/login-throttle.ts";
import type { AccountStore } from "../storage/account-store.ts";
import type { LoginThrottleStore } from "../storage/login-throttle-store.ts";
import type { PasswordHasher } from "./password-hasher.ts";

export type SignInResult =
  | { ok: true; account: Account }
  /** Wrong username, wrong password or a disabled account: one answer, so none of them can be told apart. */
  | { ok: false; reason: "invalid"; lockStarted: boolean }
  | { ok: false; reason: "locked"; retryAfterMs: number };

export interface SignIn {
  attempt(username: string, password: string, clientAddress: string): Promise<SignInResult>;
}

/** Checks a password under the rate limits of core/login-throttle.ts (per username and per client address). */
export function createSignIn(deps: {
  accounts: AccountStore;
  hasher: PasswordHasher;
  throttle: LoginThrottleStore;
  clock: Clock;
}): SignIn {
  const { accounts, hasher, throttle, clock } = deps;
  return {
    async attempt(rawUsername, password, clientAddress) {
      const username = normalizeUsername(rawUsername).slice(0, 200);
      const keys: [string, ThrottlePolicy][] = [
        [`user:${username}`, USERNAME_THROTTLE],
        [`addr:${clientAddress}`, ADDRESS_THROTTLE],
      ];
      const states = await Promise.all(keys.map(([key]) => throttle.get(key)));
      const now = clock.now();
      // A locked key is refused before any password check, so guessing stops even with the right password.
      const retryAfterMs = Math.max(...states.map((state) => lockRemaining(state, now)));
      if (retryAfterMs > 0) return { ok: false, reason: "locked", retryAfterMs };

      const credentials = await accounts.credentials(username);
      let valid = false;
      if (credentials === undefined) await hasher.verifyDummy(password);
      else valid = await hasher.verify(password, credentials.passwordHash);
      if (valid && credentials !== undefined && !credentials.account.disabled) {
        // Only the username's count resets: one good password must not reset an address spraying others.
        await throttle.delete(`user:${username}`);
        await accounts.recordLogin(credentials.account.id);
        return { ok: true, account: credentials.account };
      }

      let lockStarted = false;
      const failedAt = clock.now();
      for (const [index, [key, policy]] of keys.entries()) {
        const before = states[index];
        const next = afterFailure(
          before && isForgotten(before, failedAt, policy) ? undefined : before,
          failedAt,
          policy,
        );
        if (next.lockedUntil > failedAt) lockStarted = true;
        await throttle.put(key, next);
      }
      return { ok: false, reason: "invalid", lockStarted };
    },
  };
}
