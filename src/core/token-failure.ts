// Classifies a failed Entra ID token request (code redemption or refresh) into what must happen next.
// Rules: reference/entra-auth-and-stack.md §1.7 (AADSTS table) and §2.4(4). Transport and HTTP status first
// (429 and 5xx are always transient), then the AADSTS number for the finer buckets, then `error` + `suberror`.
// `error_description` is never parsed: Microsoft says its text changes.

/**
 * - `retry`: transient; back off (first retry >= 5 s) and honour `Retry-After`.
 * - `reauth`: a human must run the connect flow again for the service user.
 * - `admin`: an Entra admin or the relay operator must fix configuration; re-authorizing alone does not help.
 * - `defect`: a relay bug or a mis-registered app; stop, retrying makes it worse (AADSTS50196).
 *
 * Same union as `FailureBucket` in src/storage/schema.ts (core imports nothing outside itself).
 */
export type FailureBucket = "retry" | "reauth" | "admin" | "defect";

export interface TokenFailureInput {
  /** HTTP status of the token endpoint's answer; absent when none arrived. */
  status?: number;
  /** OAuth `error` (or msal's `errorCode` for client-side failures such as `no_tokens_found`). */
  error?: string;
  /** Entra's `suberror` (`basic_action`, `consent_required`, `message_only`, `bad_token`, ...). */
  subError?: string;
  /** `error_codes[0]` (msal's `errorNo`). */
  aadsts?: number;
  /** No usable answer: timed out, connection failed, or a body that was not JSON. */
  transport?: "timeout" | "network" | "invalid_body";
}

export interface TokenFailureClass {
  bucket: FailureBucket;
  /** One sentence for the status page and operational alerts. Never contains tokens or secrets. */
  reason: string;
}

interface CodeRule {
  bucket: FailureBucket;
  reason: string;
}

function rules(codes: readonly number[], bucket: FailureBucket, reason: string): [number, CodeRule][] {
  return codes.map((code) => [code, { bucket, reason }]);
}

/** AADSTS numbers with a known bucket. Exported for tests and for the admin UI's help texts. */
export const AADSTS_RULES: ReadonlyMap<number, Readonly<CodeRule>> = new Map<number, CodeRule>([
  // R: throttling and transient service errors.
  ...rules(
    [90055, 90024],
    "retry",
    "Entra ID is throttling token requests: retrying after the time it asked for.",
  ),
  ...rules(
    [50033, 90006, 90033, 90090, 50087, 50000],
    "retry",
    "Entra ID reported a transient service error: retrying with backoff.",
  ),

  // H: the service user must sign in again through the connect flow.
  ...rules(
    [700082],
    "reauth",
    "Refresh token expired after 90 days of inactivity: reconnect the service user.",
  ),
  ...rules(
    [70008],
    "reauth",
    "The sign-in grant expired or was revoked: reconnect the service user (or restart the connect flow).",
  ),
  ...rules(
    [50173],
    "reauth",
    "The sign-in grant was revoked (password reset or session revocation): reconnect the service user.",
  ),
  ...rules(
    [70043],
    "reauth",
    "A Conditional Access sign-in frequency policy ended the session: reconnect the service user, and ask the Entra admin which policy applies to it.",
  ),
  ...rules(
    [50076, 50079, 50078, 50074],
    "reauth",
    "Multi-factor authentication (or its registration) is required: reconnect the service user interactively.",
  ),
  ...rules(
    [65001, 65004, 90094, 90008],
    "reauth",
    "Consent to the relay's permissions is missing or was declined: grant consent (admin consent if the tenant requires it), then reconnect the service user.",
  ),
  ...rules(
    [50058],
    "reauth",
    "No interactive sign-in session exists: reconnect the service user interactively.",
  ),
  ...rules(
    [50020, 50034, 16000, 500208],
    "reauth",
    "The account used does not belong to this organization's tenant: reconnect with the service user's account.",
  ),
  ...rules(
    [70000],
    "reauth",
    "The granted permissions are unauthorized or expired: reconnect the service user.",
  ),

  // A: an admin or the operator must fix something. Conditional Access blocks are "A + H" in the reference:
  // signing in again cannot pass a policy that blocks the account, so the admin must act first.
  ...rules(
    [53003, 53000, 53001, 530032],
    "admin",
    "Blocked by a Conditional Access or device policy: an Entra admin must exempt or fix the policy for the service user, then reconnect it.",
  ),
  ...rules(
    [50057, 50053, 50055, 50144, 50105],
    "admin",
    "The service user is disabled, locked, has an expired password or is not assigned to the app: an Entra admin must fix the account, then reconnect it.",
  ),
  ...rules(
    [7000215],
    "admin",
    "The client secret is invalid: enter the current secret value (not its ID) for this organization.",
  ),
  ...rules(
    [7000222],
    "admin",
    "The client secret has expired: create a new secret in the app registration and enter it for this organization.",
  ),
  ...rules(
    [700027, 50012, 500133],
    "admin",
    "The client credential assertion was rejected (invalid or expired certificate, or clock skew): check the credential and the server clock.",
  ),
  ...rules(
    [700016, 7000112, 70001],
    "admin",
    "The app registration was not found in the tenant or is disabled: check the tenant and client IDs.",
  ),
  ...rules(
    [500011],
    "admin",
    "Microsoft Graph's service principal was not found in the tenant: check the tenant ID and grant consent.",
  ),
  ...rules([90002], "admin", "The tenant was not found: check the organization's tenant ID."),

  // D: a relay defect or a mis-registered app; retrying only makes Entra angrier.
  ...rules(
    [50196],
    "defect",
    "Entra ID detected a request loop (identical token requests repeated): a relay defect; token requests stop.",
  ),
  ...rules(
    [70011, 28002, 28003, 700022],
    "defect",
    "Entra ID rejected the requested scopes: a relay defect.",
  ),
  ...rules([54005], "defect", "The authorization code was already redeemed: start the connect flow again."),
  ...rules(
    [501481, 50147],
    "defect",
    "The PKCE code verifier did not match the challenge: start the connect flow again.",
  ),
  ...rules(
    [700084],
    "defect",
    "The refresh token has the fixed 24-hour SPA lifetime: register the redirect URI as platform 'Web' (not 'SPA'), then reconnect.",
  ),
  ...rules(
    [50011],
    "defect",
    "The redirect URI does not match the app registration: register exactly the callback URI the relay shows.",
  ),
  ...rules(
    [9002313, 900144, 90014, 900971, 7000218],
    "defect",
    "Entra ID rejected a malformed token request: a relay defect.",
  ),
]);

const RETRY_ERRORS = new Set(["temporarily_unavailable", "server_error", "network_error"]);
const REAUTH_ERRORS = new Set([
  "invalid_grant",
  "interaction_required",
  "consent_required",
  "login_required",
  "access_denied",
  // msal client-side: the cache holds no usable refresh token or no account for the org.
  "no_tokens_found",
  "no_account",
  "refresh_token_expired",
  "bad_token",
]);
const ADMIN_ERRORS = new Set(["invalid_client", "unauthorized_client", "invalid_resource", "invalid_tenant"]);
const DEFECT_ERRORS = new Set([
  "invalid_scope",
  "invalid_request",
  "unsupported_grant_type",
  "unsupported_response_type",
  "state_mismatch",
  "nonce_mismatch",
]);

/** Sub-errors that change the bucket of an otherwise generic `interaction_required` / `invalid_grant`. */
const SUBERROR_RULES: Readonly<Record<string, CodeRule>> = {
  // "message_only": the user can only be shown a message; nothing they do interactively helps (policy block).
  message_only: {
    bucket: "admin",
    reason:
      "Entra ID blocked the service user with a policy the user cannot resolve: an Entra admin must act, then reconnect it.",
  },
  user_password_expired: {
    bucket: "admin",
    reason: "The service user's password has expired: reset it, then reconnect the service user.",
  },
  user_disabled: {
    bucket: "admin",
    reason: "The service user is disabled: an Entra admin must enable it, then reconnect it.",
  },
};

export function classifyTokenFailure(input: TokenFailureInput): TokenFailureClass {
  const { status, error, subError, aadsts, transport } = input;

  // 1. No answer at all: always transient.
  if (transport === "timeout") {
    return { bucket: "retry", reason: "Entra ID did not answer in time: retrying with backoff." };
  }
  if (transport === "network") {
    return { bucket: "retry", reason: "Entra ID could not be reached: retrying with backoff." };
  }

  // 2. HTTP status: throttling and server errors are transient whatever the body says.
  if (status === 429) {
    return {
      bucket: "retry",
      reason: "Entra ID is throttling token requests: retrying after the time it asked for.",
    };
  }
  if (status !== undefined && status >= 500 && status <= 599) {
    return {
      bucket: "retry",
      reason: `Entra ID answered HTTP ${status} (a server error): retrying with backoff.`,
    };
  }

  // 3. A known AADSTS number gives the finest bucket (invalid_grant is reauth unless the code says otherwise).
  if (aadsts !== undefined) {
    const rule = AADSTS_RULES.get(aadsts);
    if (rule !== undefined) return { bucket: rule.bucket, reason: rule.reason };
  }

  // 4. `suberror` refines a generic error.
  if (subError !== undefined && subError !== "") {
    const rule = SUBERROR_RULES[subError];
    if (rule !== undefined) return { bucket: rule.bucket, reason: rule.reason };
  }

  // 5. The OAuth `error`.
  if (transport === "invalid_body") {
    return {
      bucket: "retry",
      reason: `Entra ID answered${status === undefined ? "" : ` HTTP ${status}`} without a readable body: retrying with backoff.`,
    };
  }
  if (error !== undefined && error !== "") {
    if (RETRY_ERRORS.has(error)) {
      return { bucket: "retry", reason: "Entra ID is temporarily unavailable: retrying with backoff." };
    }
    if (REAUTH_ERRORS.has(error)) return { bucket: "reauth", reason: reauthReason(error, aadsts) };
    if (ADMIN_ERRORS.has(error)) return { bucket: "admin", reason: adminReason(error, aadsts) };
    if (DEFECT_ERRORS.has(error)) {
      return {
        bucket: "defect",
        reason: `Entra ID rejected the token request (${error}${codeSuffix(aadsts)}): a relay defect.`,
      };
    }
  }

  // 6. Status alone.
  if (status === 401) {
    return {
      bucket: "admin",
      reason: "Entra ID rejected the app's credentials (HTTP 401): check the client ID and secret.",
    };
  }
  return {
    bucket: "defect",
    reason: `Unexpected token failure (${describe(input)}): a relay defect; token requests stop.`,
  };
}

function reauthReason(error: string, aadsts: number | undefined): string {
  switch (error) {
    case "no_account":
    case "no_tokens_found":
    case "refresh_token_expired":
    case "bad_token":
      return "The relay holds no usable sign-in for the service user: reconnect the service user.";
    case "consent_required":
      return "Consent to the relay's permissions is missing: grant consent, then reconnect the service user.";
    case "access_denied":
      return `Sign-in was denied${codeSuffix(aadsts)}: reconnect the service user.`;
    case "interaction_required":
    case "login_required":
      return `Entra ID requires an interactive sign-in${codeSuffix(aadsts)}: reconnect the service user.`;
    default:
      return `Entra ID no longer accepts the service user's grant${codeSuffix(aadsts)}: reconnect the service user.`;
  }
}

function adminReason(error: string, aadsts: number | undefined): string {
  switch (error) {
    case "invalid_client":
      return `Entra ID rejected the app's credentials${codeSuffix(aadsts)}: check the client ID and secret.`;
    case "unauthorized_client":
      return `The app registration is not allowed in this tenant${codeSuffix(aadsts)}: check the tenant and client IDs.`;
    case "invalid_tenant":
      return "The tenant was not found: check the organization's tenant ID.";
    default:
      return `Entra ID could not find the requested resource in the tenant${codeSuffix(aadsts)}: check the tenant ID and consent.`;
  }
}

function codeSuffix(aadsts: number | undefined): string {
  return aadsts === undefined ? "" : `, AADSTS${aadsts}`;
}

function describe(input: TokenFailureInput): string {
  const parts: string[] = [];
  if (input.status !== undefined) parts.push(`HTTP ${input.status}`);
  if (input.error) parts.push(input.error);
  if (input.subError) parts.push(input.subError);
  if (input.aadsts !== undefined) parts.push(`AADSTS${input.aadsts}`);
  return parts.length === 0 ? "no details" : parts.join(", ");
}
