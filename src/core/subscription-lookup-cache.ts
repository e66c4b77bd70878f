// The webhook looks up the subscription of every notification item; under load that was a query and an AES-GCM
// open per request for the same few rows. Known subscriptions are kept for a short while. Unknown ids are never
// cached: a subscription created a moment ago (by this or another instance) must be found at once.
import type { KnownSubscription, SubscriptionLookup } from "./intake-ports.ts";

export interface SubscriptionLookupCacheOptions {
  now: () => number;
  /** How long a found subscription is trusted; a removed one keeps being accepted (and then dropped by the worker) for at most this long. */
  ttlMs?: number;
  maxEntries?: number;
}

export function cacheSubscriptionLookup(
  lookup: Pick<SubscriptionLookup, "find">,
  options: SubscriptionLookupCacheOptions,
): Pick<SubscriptionLookup, "find"> {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 1_000;
  const entries = new Map<string, { value: KnownSubscription; until: number }>();
  return {
    async find(subscriptionId) {
      const now = options.now();
      const hit = entries.get(subscriptionId);
      if (hit && hit.until > now) return hit.value;
      entries.delete(subscriptionId);
      const value = await lookup.find(subscriptionId);
      if (value) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(subscriptionId, { value, until: now + ttlMs });
      }
      return value;
    },
  };
}
