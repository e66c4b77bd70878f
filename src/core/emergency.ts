// What detection extracts from the chat message Teams posts to the security desk when someone dials an emergency
// number (reference/teams-emergency-calls.md §1.2-1.4). The real message format is unpublished, so every field
// except the raw HTML and text may be missing; the desk must still be alerted, and told what is missing.

/**
 * - `known`: a location Teams resolved for the caller (dynamic LIS place or registered address).
 * - `user_entered`: typed by the caller, not verified.
 * - `unknown`: no usable location in the message.
 */
export type LocationQuality = "known" | "user_entered" | "unknown";

export interface EmergencyLocation {
  /** The location text as it appeared in the message (plain text), or null when none did. */
  raw: string | null;
  /** Floor, wing, room: the place text of a dynamic location. */
  place: string | null;
  /** Civic address as lines joined with ", ". */
  civicAddress: string | null;
  coordinates: { latitude: number; longitude: number } | null;
  quality: LocationQuality;
}

export interface EmergencyCaller {
  /** Entra object id, when the message names it (a mention or the sender). */
  id: string | null;
  displayName: string | null;
  userPrincipalName: string | null;
}

export interface Emergency {
  chatId: string;
  messageId: string;
  /** The message's `createdDateTime` as epoch ms, or null. */
  messageTime: number | null;
  /** The message's `webUrl` (opens the chat in Teams), or null. */
  webUrl: string | null;
  caller: EmergencyCaller;
  /** `911`, `933`, `112` or whatever the message names; null when it names none. */
  dialString: string | null;
  /** A 933 test call (or a rule that marks test calls), which goes to the test policy only. */
  isTest: boolean;
  location: EmergencyLocation;
  /** The message body as Teams sent it. */
  html: string;
  /** The body as plain text (tags removed, entities decoded, whitespace collapsed per line). */
  text: string;
}

/**
 * A per-org detection rule, added without code for other languages or formats. `phrase` matches the plain text
 * case-insensitively; `pattern` is a JavaScript regular expression over the plain text whose named groups
 * (`caller`, `dialString`, `location`) fill those fields when present.
 */
export interface DetectionRule {
  id: string;
  name: string;
  kind: "phrase" | "pattern";
  value: string;
  /** Calls matched by this rule count as tests (e.g. a drill phrase). */
  marksTest?: boolean;
}

/** The built-in rule every org has: Teams' English notification text. */
export const DEFAULT_RULE_ID = "default";

export type DetectionResult =
  { emergency: true; value: Emergency; ruleId: string } | { emergency: false; reason: string };
