// The body of the chat message Teams posts to the security desk (emergency calling policy notification group)
// when someone dials an emergency number.
//
// THE REAL FORMAT IS UNPUBLISHED. Only the fragment "has placed an Emergency Call" (exact casing) is confirmed,
// together with: multi-line text, the emergency location's place text in the body, an HTML body
// (reference/teams-emergency-calls.md §0 items 1-2, §1.2, §1.3(a) and the synthetic skeleton in §1.3(e)).
// Everything else below is a guess. When a captured sample arrives, replace EMERGENCY_MESSAGE_TEMPLATE and
// LOCATION_TEMPLATES with its layout; nothing else in the emulator decides what this message looks like.

export type EmergencyDialString = "911" | "933" | "112";

/** Location precedence and kinds: reference/teams-emergency-calls.md §1.4 (dispatchable-location doc). */
export interface EmergencyLocation {
  kind: "dynamic" | "user" | "static" | "unknown";
  /** Place text (floor, wing, room) of a dynamic LIS location. */
  place?: string;
  /** Civic address; newlines become line breaks. */
  address?: string;
}

export interface EmergencyMessageInput {
  callerDisplayName: string;
  dialString: EmergencyDialString;
  location: EmergencyLocation;
}

export interface EmergencyMessageBody {
  contentType: "html";
  content: string;
}

// {name} placeholders take HTML that is already escaped; substitution is a single pass, so text that looks
// like a placeholder inside a value stays literal.
const EMERGENCY_MESSAGE_TEMPLATE =
  "<p>{callerDisplayName} has placed an Emergency Call</p><p>Dialed: {dialString}</p>{location}";

const LOCATION_TEMPLATES = {
  dynamic: "<p>Location: {place}<br>{address}</p>",
  dynamicPlaceOnly: "<p>Location: {place}</p>",
  dynamicAddressOnly: "<p>Location: {address}</p>",
  user: "<p>Location (entered by the user, not verified): {address}</p>",
  static: "<p>Registered emergency address: {address}</p>",
  unknown: "<p>Location unknown</p>",
} as const;

export function renderEmergencyMessageBody(input: EmergencyMessageInput): EmergencyMessageBody {
  return {
    contentType: "html",
    content: fill(EMERGENCY_MESSAGE_TEMPLATE, {
      callerDisplayName: escapeHtml(input.callerDisplayName),
      dialString: escapeHtml(input.dialString),
      location: renderLocation(input.location),
    }),
  };
}

function renderLocation(location: EmergencyLocation): string {
  const place = nonBlank(location.place);
  const address = nonBlank(location.address);
  const values = { place: place === undefined ? "" : escapeHtml(place), address: multiline(address) };
  switch (location.kind) {
    case "dynamic":
      if (place !== undefined && address !== undefined) return fill(LOCATION_TEMPLATES.dynamic, values);
      if (place !== undefined) return fill(LOCATION_TEMPLATES.dynamicPlaceOnly, values);
      if (address !== undefined) return fill(LOCATION_TEMPLATES.dynamicAddressOnly, values);
      break;
    case "user":
      if (address !== undefined) return fill(LOCATION_TEMPLATES.user, values);
      break;
    case "static":
      if (address !== undefined) return fill(LOCATION_TEMPLATES.static, values);
      break;
    case "unknown":
      break;
  }
  // A location kind without any text is as good as unknown, and the desk must be told so rather than see nothing.
  return LOCATION_TEMPLATES.unknown;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) => values[name] ?? placeholder);
}

function multiline(text: string | undefined): string {
  if (text === undefined) return "";
  return text
    .split(/\r?\n/)
    .map((line) => escapeHtml(line.trim()))
    .filter((line) => line !== "")
    .join("<br>");
}

function nonBlank(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === "" ? undefined : text;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}
