// Routing rules per org: which channels hear about an emergency (by call type and caller location) and who is
// notified next when nobody acknowledges. Operations policies carry the relay's own health alerts.
import type { Emergency, EmergencyLocation } from "./emergency.ts";

/** `test` matches 933 test calls only, `real` everything else, `any` both (an explicit opt-in for drills). */
export type CallType = "real" | "test" | "any";
export const CALL_TYPES: readonly CallType[] = ["real", "test", "any"];

export type PolicyKind = "emergency" | "operations";
export const POLICY_KINDS: readonly PolicyKind[] = ["emergency", "operations"];

export type LocationField = "any" | "place" | "civicAddress" | "raw";
export const LOCATION_FIELDS: readonly LocationField[] = ["any", "place", "civicAddress", "raw"];

/** Site routing: a case-insensitive substring, or a JavaScript regular expression (flag `i`), on the caller's location. */
export interface LocationMatch {
  field: LocationField;
  type: "substring" | "pattern";
  value: string;
}

/** Re-notify the tier's channels every `everySeconds`, at most `times` times, until someone acknowledges. */
export interface RepeatSettings {
  everySeconds: number;
  times: number;
}

/** Tier 0 starts at once; tier n `afterSeconds` after the emergency was detected, if nobody acknowledged by then. */
export interface EscalationTier {
  afterSeconds: number;
  channelIds: string[];
  repeat: RepeatSettings | null;
}

/** Bounds on one delivery's retries; null on a policy means the defaults (core/outbox-retry-policy.ts). */
export interface RetrySettings {
  maxAttempts: number;
  windowSeconds: number;
}

export interface AlertPolicy {
  id: string;
  orgId: string;
  name: string;
  kind: PolicyKind;
  callType: CallType;
  locationMatch: LocationMatch | null;
  /** Lower runs first; the first matching policy is the one used. */
  priority: number;
  enabled: boolean;
  tiers: EscalationTier[];
  retry: RetrySettings | null;
  createdAt: number;
  updatedAt: number;
}

/** What an emergency keeps of its policy: escalation follows the policy as it was when the call came in. */
export interface PolicySnapshot {
  id: string;
  name: string;
  tiers: EscalationTier[];
  retry: RetrySettings | null;
}

export function snapshotOf(policy: AlertPolicy): PolicySnapshot {
  return { id: policy.id, name: policy.name, tiers: policy.tiers, retry: policy.retry };
}

/**
 * The policy an emergency goes to: among the org's enabled emergency policies whose call type and location match,
 * the one with the lowest priority, a location-specific one before a general one at equal priority, then the
 * oldest. A test call never matches a `real` policy, so without a `test` (or `any`) policy it reaches nobody.
 */
export function selectPolicy(
  policies: readonly AlertPolicy[],
  emergency: Pick<Emergency, "isTest" | "location">,
): AlertPolicy | undefined {
  const candidates = policies.filter(
    (p) =>
      p.enabled &&
      p.kind === "emergency" &&
      callTypeMatches(p.callType, emergency.isTest) &&
      (p.locationMatch === null || locationMatches(p.locationMatch, emergency.location)),
  );
  candidates.sort(
    (a, b) =>
      a.priority - b.priority ||
      Number(b.locationMatch !== null) - Number(a.locationMatch !== null) ||
      a.createdAt - b.createdAt ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return candidates[0];
}

/** The org's operations policy (the enabled one with the lowest priority), for the relay's own alerts. */
export function selectOperationsPolicy(policies: readonly AlertPolicy[]): AlertPolicy | undefined {
  return [...policies]
    .filter((p) => p.enabled && p.kind === "operations")
    .sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt)[0];
}

export function callTypeMatches(callType: CallType, isTest: boolean): boolean {
  return callType === "any" || (callType === "test") === isTest;
}

export function locationMatches(match: LocationMatch, location: EmergencyLocation): boolean {
  const texts = locationTexts(match.field, location);
  if (match.type === "substring") {
    const needle = match.value.toLowerCase();
    return texts.some((t) => t.toLowerCase().includes(needle));
  }
  const pattern = compileLocationPattern(match.value);
  return pattern !== undefined && texts.some((t) => pattern.test(t));
}

/** The regular expression of a `pattern` match, or undefined when it does not compile. */
export function compileLocationPattern(value: string): RegExp | undefined {
  try {
    return new RegExp(value, "i");
  } catch {
    return undefined;
  }
}

function locationTexts(field: LocationField, location: EmergencyLocation): string[] {
  const all = {
    place: location.place,
    civicAddress: location.civicAddress,
    raw: location.raw,
  };
  const picked = field === "any" ? Object.values(all) : [all[field]];
  return picked.filter((t): t is string => typeof t === "string" && t !== "");
}
