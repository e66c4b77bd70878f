import type { EmulatorContext } from "../emulator-context.ts";
import type { EndpointHealth } from "../emulator-state.ts";

// https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#throttling (2026-04-22):
// slow = over 10% of responses exceed the 3 s timeout within 10 min -> new notifications delayed 10 min;
// drop = over 15% exceed the 10 s retry timeout within 10 min -> notifications dropped for 10 min.
const WINDOW_MS = 10 * 60_000;
const SLOW_RATIO = 0.1;
const DROP_RATIO = 0.15;

export type ThrottleState = "normal" | "slow" | "drop";

/** Graph throttles by endpoint, not by subscription. */
export function endpointKey(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function healthOf(ctx: EmulatorContext, key: string): EndpointHealth {
  let health = ctx.state.endpoints.get(key);
  if (!health) {
    health = { samples: [], slowUntil: 0, dropUntil: 0 };
    ctx.state.endpoints.set(key, health);
  }
  return health;
}

export function throttleStateOf(ctx: EmulatorContext, key: string, now: number): ThrottleState {
  const health = ctx.state.endpoints.get(key);
  if (!health) return "normal";
  if (now < health.dropUntil) return "drop";
  if (now < health.slowUntil) return "slow";
  return "normal";
}

/** Records one response (or timeout) and re-judges the endpoint's state. */
export function recordEndpointResponse(
  ctx: EmulatorContext,
  key: string,
  now: number,
  sample: { overFirstTimeout: boolean; overRetryTimeout: boolean },
): ThrottleState {
  const health = healthOf(ctx, key);
  health.samples.push({ at: now, ...sample });
  health.samples = health.samples.filter((s) => s.at > now - WINDOW_MS);
  const total = health.samples.length;
  if (total >= ctx.settings.throttleMinSamples) {
    const overRetry = health.samples.filter((s) => s.overRetryTimeout).length / total;
    const overFirst = health.samples.filter((s) => s.overFirstTimeout).length / total;
    if (overRetry > DROP_RATIO) health.dropUntil = Math.max(health.dropUntil, now + WINDOW_MS);
    else if (overFirst > SLOW_RATIO) health.slowUntil = Math.max(health.slowUntil, now + WINDOW_MS);
  }
  return throttleStateOf(ctx, key, now);
}
