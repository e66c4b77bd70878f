import { createHash, randomBytes } from "node:crypto";
import type { Account } from "../core/account.ts";
import type { Clock } from "../core/clock.ts";
import { sessionVerdict, shouldTouch, type SessionLifetime } from "../core/session-policy.ts";
import type { AccountStore } from "../storage/account-store.ts";
import type { SessionStore } from "../storage/session-store.ts";
import { csrfTokenFor } from "./csrf.ts";

export interface ActiveSession {
  account: Account;
  /** What the store knows the session by; flash messages are kept under it. */
  idHash: string;
  csrfToken: string;
}

export interface WebSessions {
  /** A new session (rotation: the caller ends any previous one). Returns the cookie value, shown once. */
  start(accountId: string): Promise<{ sessionId: string; session: ActiveSession }>;
  /** The live session behind a cookie value, or undefined (unknown, expired, idle, account disabled). */
  resolve(sessionId: string): Promise<ActiveSession | undefined>;
  end(sessionId: string): Promise<void>;
}

const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionId(sessionId: string): string {
  return createHash("sha256").update(sessionId, "utf8").digest("hex");
}

export function createWebSessions(deps: {
  sessions: SessionStore;
  accounts: AccountStore;
  clock: Clock;
  lifetime: SessionLifetime;
}): WebSessions {
  const { sessions, accounts, clock, lifetime } = deps;
  return {
    async start(accountId) {
      const account = await accounts.get(accountId);
      if (account === undefined) throw new Error(`No account ${accountId}`);
      // 256 bits from the CSPRNG (OWASP asks for at least 64 bits of entropy).
      const sessionId = randomBytes(32).toString("base64url");
      const idHash = hashSessionId(sessionId);
      const now = clock.now();
      await sessions.create({ idHash, accountId, createdAt: now, lastSeenAt: now });
      return { sessionId, session: { account, idHash, csrfToken: csrfTokenFor(sessionId) } };
    },

    async resolve(sessionId) {
      if (!SESSION_ID_PATTERN.test(sessionId)) return undefined;
      const idHash = hashSessionId(sessionId);
      const stored = await sessions.get(idHash);
      if (stored === undefined) return undefined;
      const now = clock.now();
      if (sessionVerdict(stored, now, lifetime) !== "valid") {
        await sessions.delete(idHash);
        return undefined;
      }
      const account = await accounts.get(stored.accountId);
      if (account === undefined || account.disabled) {
        await sessions.delete(idHash);
        return undefined;
      }
      if (shouldTouch(stored, now)) await sessions.touch(idHash, now);
      return { account, idHash, csrfToken: csrfTokenFor(sessionId) };
    },

    async end(sessionId) {
      if (SESSION_ID_PATTERN.test(sessionId)) await sessions.delete(hashSessionId(sessionId));
    },
  };
}
