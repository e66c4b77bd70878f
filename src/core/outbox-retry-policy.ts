// When an alert delivery is tried again, and when the relay gives up on it. Bounded on purpose: a channel that
// keeps failing for an hour is not going to deliver a useful emergency alert, and the dead letter (replayable,
// with an operational event) is the honest state.
import type { RetrySettings } from "./alert-policy.ts";
import type { ChannelSendResult } from "./alert.ts";

export interface RetryLimits {
  maxAttempts: number;
  /** No attempt starts later than this after the delivery was created. */
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** About 10 attempts over ~40 minutes (5 s doubling, capped at 15 min), inside a one-hour window. */
export const EMERGENCY_RETRY: RetryLimits = {
  maxAttempts: 10,
  windowMs: 3_600_000,
  baseDelayMs: 5_000,
  maxDelayMs: 15 * 60_000,
};

/** Operational alerts may take longer to get through: nobody's life depends on the next minute. */
export const OPERATIONAL_RETRY: RetryLimits = {
  maxAttempts: 12,
  windowMs: 6 * 3_600_000,
  baseDelayMs: 10_000,
  maxDelayMs: 60 * 60_000,
};

export const RETRY_BOUNDS = {
  maxAttempts: { min: 1, max: 50 },
  windowSeconds: { min: 60, max: 7 * 86_400 },
} as const;

/** A policy's own bounds over the defaults. */
export function retryLimitsFor(settings: RetrySettings | null, defaults: RetryLimits): RetryLimits {
  if (settings === null) return defaults;
  return { ...defaults, maxAttempts: settings.maxAttempts, windowMs: settings.windowSeconds * 1000 };
}

export type AttemptDecision =
  | { status: "delivered" }
  | { status: "retry"; at: number }
  | { status: "dead"; reason: string; disableChannel: boolean };

/**
 * What follows one attempt. `attempts` counts attempts made, this one included. `random` is in [0, 1) and
 * spreads retries (±25 %) so a receiver coming back is not hit by every relay at once. A `Retry-After` is
 * honoured even beyond the backoff; one that ends after the window gives up.
 */
export function decideAfterAttempt(input: {
  result: ChannelSendResult;
  attempts: number;
  maxAttempts: number;
  deadlineAt: number;
  now: number;
  random: number;
  limits: Pick<RetryLimits, "baseDelayMs" | "maxDelayMs">;
}): AttemptDecision {
  const { result, attempts, maxAttempts, deadlineAt, now, limits } = input;
  switch (result.outcome) {
    case "delivered":
      return { status: "delivered" };
    case "gone":
      return {
        status: "dead",
        reason: "the receiver answered 410 Gone; channel disabled",
        disableChannel: true,
      };
    case "failed":
      return {
        status: "dead",
        reason: "the channel refused the alert (not retryable)",
        disableChannel: false,
      };
    case "retry":
      break;
  }
  if (attempts >= maxAttempts) {
    return { status: "dead", reason: `gave up after ${attempts} attempts`, disableChannel: false };
  }
  const backoff = Math.min(limits.baseDelayMs * 2 ** Math.max(0, attempts - 1), limits.maxDelayMs);
  const jittered = Math.round(backoff * (0.75 + 0.5 * clamp01(input.random)));
  const retryAfter = result.retryAfterMs !== null && result.retryAfterMs > 0 ? result.retryAfterMs : 0;
  const at = now + Math.max(jittered, retryAfter);
  if (at <= deadlineAt) return { status: "retry", at };
  // One last try when the window ends, unless the receiver itself asked for more time than is left.
  if (now + retryAfter <= deadlineAt && now < deadlineAt) return { status: "retry", at: deadlineAt };
  return {
    status: "dead",
    reason: `gave up after ${attempts} attempts: the retry window ended`,
    disableChannel: false,
  };
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 0.999_999) : 0.5;
}
