import type { EmulatorClock } from "./emulator-clock.ts";
import type { EmulatorState } from "./emulator-state.ts";
import type { SigningKeys } from "./identity/signing-keys.ts";

export interface EmulatorSettings {
  /** Redirect at once when `login_hint` names a tenant user, instead of showing the sign-in page. */
  autoConsent: boolean;
  /** Graph requires HTTPS notification URLs; tests and `--allow-http-webhooks` may relax that. */
  allowHttpWebhooks: boolean;
  /** Extra CAs trusted for webhook deliveries (the emulator's own CA is always trusted). */
  trustedCaPems: string[];
  /** https://learn.microsoft.com/graph/change-notifications-delivery-webhooks: 3 s first try, 10 s on retries, 10 s for validation. */
  firstAttemptTimeoutMs: number;
  retryTimeoutMs: number;
  validationTimeoutMs: number;
  /** Retries back off exponentially for up to 4 h (same page); the base and cap are not published. */
  retryBaseMs: number;
  retryMaxDelayMs: number;
  retryWindowMs: number;
  /** Throttling states are judged over a 10-minute window; below this many responses nothing is judged. */
  throttleMinSamples: number;
  /** `reauthorizationRequired` is sent this long before the subscription's token or the subscription expires, every 15 min. */
  reauthorizationLeadMs: number;
  /** After the authorizing token expired by this much without reauthorization, deliveries pause and changes are lost. */
  authorizationGraceMs: number;
  /** Items per POST. */
  maxBatchSize: number;
  /** `validationTokens` come as v1 (sts.windows.net issuer, `appid`) or v2 (login.microsoftonline.com issuer, `azp`) tokens. */
  validationTokenVersion: "1.0" | "2.0" | "alternate";
}

export const DEFAULT_SETTINGS: EmulatorSettings = {
  autoConsent: true,
  allowHttpWebhooks: false,
  trustedCaPems: [],
  firstAttemptTimeoutMs: 3_000,
  retryTimeoutMs: 10_000,
  validationTimeoutMs: 10_000,
  retryBaseMs: 10_000,
  retryMaxDelayMs: 30 * 60_000,
  retryWindowMs: 4 * 60 * 60_000,
  throttleMinSamples: 10,
  reauthorizationLeadMs: 15 * 60_000,
  authorizationGraceMs: 60 * 60_000,
  maxBatchSize: 50,
  validationTokenVersion: "alternate",
};

export interface EmulatorContext {
  state: EmulatorState;
  clock: Required<EmulatorClock>;
  keys: SigningKeys;
  settings: EmulatorSettings;
  /** The emulator's own origin, e.g. `https://127.0.0.1:8443` (known once listening). */
  baseUrl(): string;
  /** PEM of the CA the emulator serves with, when it serves HTTPS. */
  caPem: string | null;
  /** Wakes the delivery engine after state changed. */
  wake(): void;
  log(message: string, fields?: Record<string, unknown>): void;
}

/** The real hosts Microsoft puts in token claims; the emulator keeps them so claim checks stay production-shaped. */
export const LOGIN_HOST = "https://login.microsoftonline.com";
export const GRAPH_RESOURCE = "https://graph.microsoft.com";
export const GRAPH_RESOURCE_APP_ID = "00000003-0000-0000-c000-000000000000";
/** Microsoft Graph Change Tracking, the publisher of `validationTokens` (https://learn.microsoft.com/graph/change-notifications-with-resource-data). */
export const GRAPH_CHANGE_TRACKING_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086";
export const CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad";
