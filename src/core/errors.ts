/**
 * Stable error codes. Callers branch on `code`, never on message text, so messages can improve freely.
 * Extend the union (and `HTTP_STATUS`) when a new kind of failure needs its own handling.
 */
export type ErrorCode =
  | "ERR_CONFIG"
  | "ERR_VALIDATION"
  | "ERR_NOT_FOUND"
  | "ERR_CONFLICT"
  | "ERR_STORAGE_UNAVAILABLE"
  | "ERR_MIGRATION"
  | "ERR_UNAUTHORIZED"
  | "ERR_SECRET_UNREADABLE"
  | "ERR_ORG_INCOMPLETE"
  | "ERR_OAUTH_STATE"
  | "ERR_OAUTH_REJECTED"
  | "ERR_TOKEN_REFRESH"
  | "ERR_CHANNEL_IN_USE"
  | "ERR_CHANNEL_DISABLED"
  | "ERR_DELIVERY_STATE"
  | "ERR_FORBIDDEN"
  | "ERR_CSRF"
  | "ERR_LOGIN_THROTTLED"
  | "ERR_INTERNAL";

// One table so the HTTP layer never invents its own mapping; a storage outage must be 5xx so Graph retries.
const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  ERR_CONFIG: 500,
  ERR_VALIDATION: 400,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_STORAGE_UNAVAILABLE: 503,
  ERR_MIGRATION: 500,
  ERR_UNAUTHORIZED: 401,
  ERR_SECRET_UNREADABLE: 500,
  // The org exists but lacks what connecting needs (tenant, client id, secret): the admin must finish setup.
  ERR_ORG_INCOMPLETE: 409,
  // A forged, replayed or expired OAuth `state`.
  ERR_OAUTH_STATE: 400,
  // Microsoft answered the sign-in with an error, or the account is not the one this org may use.
  ERR_OAUTH_REJECTED: 400,
  ERR_TOKEN_REFRESH: 502,
  // A policy still routes to the channel: deleting it would silently drop recipients from an escalation ladder.
  ERR_CHANNEL_IN_USE: 409,
  // Replaying into a disabled or deleted channel would only fail again.
  ERR_CHANNEL_DISABLED: 409,
  // Only dead deliveries can be replayed.
  ERR_DELIVERY_STATE: 409,
  // Signed in, but the account's role does not allow this (web app).
  ERR_FORBIDDEN: 403,
  // A state-changing web request without this session's CSRF token, or one a browser marked as cross-site.
  ERR_CSRF: 403,
  // Too many failed sign-ins for this username or address; answered with Retry-After.
  ERR_LOGIN_THROTTLED: 429,
  ERR_INTERNAL: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** Base class for every error the relay raises on purpose. Messages must never contain secret values. */
export class RelayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  get httpStatus(): number {
    return httpStatusFor(this.code);
  }
}

export interface ConfigProblem {
  /** The environment variable at fault, e.g. `RELAY_PORT`. */
  key: string;
  /** Why it was rejected; describes the expected form, never repeats the value. */
  reason: string;
}

export class ConfigError extends RelayError {
  declare readonly code: "ERR_CONFIG";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.key}: ${p.reason}`);
    const noun = problems.length === 1 ? "problem" : "problems";
    super("ERR_CONFIG", `Invalid configuration (${problems.length} ${noun}):\n${lines.join("\n")}`);
    this.problems = Object.freeze([...problems]);
  }
}
