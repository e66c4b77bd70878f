import { isRecord, stringOf, timeOf } from "./chat-message.ts";
import { cleanName, resolveCaller } from "./emergency-caller.ts";
import { KNOWN_DIAL_STRINGS, extractLocation, isDialLabel } from "./emergency-location.ts";
import {
  DEFAULT_RULE_ID,
  type DetectionResult,
  type DetectionRule,
  type Emergency,
  type EmergencyCaller,
} from "./emergency.ts";
import { htmlToText, plainTextLines } from "./html-to-text.ts";

// Deciding whether a Teams chat message is the emergency-call notification, and reading the call out of it.
//
// The real message is unpublished; the one confirmed fragment is "has placed an Emergency Call", sent in a
// group chat by the caller (reference/teams-emergency-calls.md §0, §1.2-1.3). What tells it apart from people
// discussing a call in a chat the relay can read:
// - it is a plain chat message (`messageType` "message"), not deleted, not a reply (Teams puts replies' quotes
//   in a <blockquote> or a `messageReference` attachment, and the notification answers nobody);
// - its first line *is* the statement: "<caller> has placed an Emergency Call", nothing after it but
//   punctuation or a dial string, and not a question;
// - the caller it names is its sender (or the sender's mention), because Teams posts it as the caller.
// Quoted text is never read. Per-org rules add other phrases (same first-line reading) or regular expressions
// (run on the plain text, never on HTML). Wrongly ignoring a real call is worse than a false alarm, so
// everything beyond the phrase line (dial string, location) is optional.

/** The built-in rule every org has; per-org rules run after it. */
export const DEFAULT_RULE: DetectionRule = Object.freeze({
  id: DEFAULT_RULE_ID,
  name: "Teams notification (English)",
  kind: "phrase",
  value: "has placed an Emergency Call",
});

/** Rules read at most this much plain text, which bounds a slow pattern's cost (Teams caps a message near 28 KB). */
export const MAX_RULE_TEXT_LENGTH = 20_000;

/** Flags every pattern rule is compiled with: case-insensitive, `^`/`$` per line, Unicode. */
export const PATTERN_FLAGS = "imu";

// After the phrase: punctuation, a dial string ("(911)", "to 933", ": 112"), nothing else.
const TRAILER =
  /^[\s.!:;,\u2013\u2014-]*(?:\(?\s*(?:(?:to|at|on|via|dialed|dialled|number)\s*:?\s*)?(\+?\d{2,6})\s*\)?)?[\s.!]*$/i;
const SHORT_TRAILER = /^\p{L}{1,6}\.?\s+(\+?\d{2,6})[\s.!]*$/u;

type Attempt =
  { ok: true; result: DetectionResult & { emergency: true } } | { ok: false; near: boolean; reason: string };

/**
 * Whether `message` (a Graph chatMessage, or a notification's decrypted resource data: the same shape) is
 * Teams' emergency-call notification, by the default rule or else the first matching rule of `rules`.
 *
 * detectEmergency({ chatId, id, messageType: "message", from: { user: { id, displayName: "Pat Caller" } },
 *   body: { contentType: "html", content: "<p>Pat Caller has placed an Emergency Call</p><p>Dialed: 933</p>" } }, [])
 * -> { emergency: true, ruleId: "default", value: { caller: { displayName: "Pat Caller", … }, dialString: "933",
 *      isTest: true, … } }
 */
export function detectEmergency(
  message: Record<string, unknown>,
  rules: readonly DetectionRule[],
): DetectionResult {
  const gate = gateOf(message);
  if (gate !== undefined) return { emergency: false, reason: gate };
  const body = message.body as Record<string, unknown>;
  const content = body.content as string;
  const isHtml = String(body.contentType ?? "html").toLowerCase() !== "text";
  const text = isHtml ? htmlToText(content) : plainTextLines(content);
  if (text === "") return { emergency: false, reason: "the message has no text (quoted replies aside)" };
  const lines = text.slice(0, MAX_RULE_TEXT_LENGTH).split("\n");
  const fullText = isHtml ? htmlToText(content, { quotes: "keep" }) : text;

  const misses: Array<{ near: boolean; reason: string }> = [];
  for (const rule of [DEFAULT_RULE, ...rules]) {
    const attempt =
      rule.kind === "phrase" ? matchPhrase(rule, lines, message) : matchPattern(rule, lines, message);
    if (attempt.ok) {
      attempt.result.value.html = content;
      attempt.result.value.text = fullText;
      return attempt.result;
    }
    misses.push(attempt);
  }
  const near = misses.find((m) => m.near);
  if (near) return { emergency: false, reason: near.reason };
  const quoted = phraseIn(fullText, DEFAULT_RULE.value) && !phraseIn(text, DEFAULT_RULE.value);
  if (quoted)
    return {
      emergency: false,
      reason: `"${DEFAULT_RULE.value}" appears only in quoted text, which is someone else's message`,
    };
  const others = rules.length === 0 ? "" : ` and none of the org's ${rules.length} detection rule(s) matched`;
  return { emergency: false, reason: `the text does not contain "${DEFAULT_RULE.value}"${others}` };
}

/** Why a message cannot be the notification whatever its text says, or undefined. */
function gateOf(message: Record<string, unknown>): string | undefined {
  const type = message.messageType;
  if (type !== undefined && type !== null && type !== "message")
    return `messageType is "${String(type)}", not "message": Teams posts the notification as a chat message`;
  if (message.deletedDateTime !== undefined && message.deletedDateTime !== null)
    return "the message was deleted";
  if (typeof message.replyToId === "string" && message.replyToId !== "")
    return "the message is a reply, and the notification replies to nothing";
  if (
    Array.isArray(message.attachments) &&
    message.attachments.some((a) => isRecord(a) && a.contentType === "messageReference")
  )
    return "the message is a reply (it quotes another message), and the notification replies to nothing";
  const body = message.body;
  if (!isRecord(body) || typeof body.content !== "string") return "the message has no body";
  return undefined;
}

function matchPhrase(
  rule: DetectionRule,
  lines: readonly string[],
  message: Record<string, unknown>,
): Attempt {
  const label = ruleLabel(rule);
  const phrase = phraseRegExp(rule.value);
  const firstIndex = lines.findIndex((l) => /[\p{L}\p{N}]/u.test(l));
  const first = firstIndex < 0 ? "" : lines[firstIndex]!;
  const match = phrase.exec(first);
  if (!match) {
    const elsewhere = lines.some((l) => phrase.test(l));
    return elsewhere
      ? {
          ok: false,
          near: true,
          reason: `${label}: the phrase is not on the first line, so this reads as a message about a call`,
        }
      : { ok: false, near: false, reason: `${label}: phrase not found` };
  }
  if (/\?\s*$/.test(first))
    return { ok: false, near: true, reason: `${label}: the first line is a question` };
  const before = cleanName(first.slice(0, match.index));
  const after = first.slice(match.index + match[0].length).trim();
  const trailer = TRAILER.exec(after) ?? SHORT_TRAILER.exec(after);
  let named: string | null;
  let dialFromLine: string | null = null;
  if (before !== "") {
    if (!trailer)
      return {
        ok: false,
        near: true,
        reason: `${label}: the phrase is part of a longer sentence, not the notification's statement`,
      };
    named = before;
    dialFromLine = trailer[1] ?? null;
  } else if (rule.id === DEFAULT_RULE_ID) {
    return { ok: false, near: true, reason: `${label}: no caller is named before the phrase` };
  } else {
    // Other languages may name the caller after the phrase ("Notruf von Pat Caller").
    named = trailer ? null : cleanName(after) || null;
    dialFromLine = trailer?.[1] ?? null;
  }
  if (named !== null && named.length > 200)
    return { ok: false, near: true, reason: `${label}: the text before the phrase is too long to be a name` };
  const { caller, notTheSender } = resolveCaller(named, message);
  if (notTheSender)
    return {
      ok: false,
      near: true,
      reason: `${label}: the caller it names is not the message's sender (Teams posts the notification as the caller)`,
    };
  const rest = lines.slice(firstIndex + 1);
  return { ok: true, result: build(rule, message, caller, rest, dialFromLine, undefined, true) };
}

function matchPattern(
  rule: DetectionRule,
  lines: readonly string[],
  message: Record<string, unknown>,
): Attempt {
  const label = ruleLabel(rule);
  let pattern: RegExp;
  try {
    pattern = new RegExp(rule.value, PATTERN_FLAGS);
  } catch {
    // Stored rules were validated; one that no longer compiles (a newer engine?) must not stop the others.
    return { ok: false, near: false, reason: `${label}: the pattern does not compile` };
  }
  const match = pattern.exec(lines.join("\n"));
  if (!match) return { ok: false, near: false, reason: `${label}: pattern did not match` };
  const groups = match.groups ?? {};
  const named = groups.caller?.trim() ? groups.caller.trim() : null;
  const { caller } = resolveCaller(named, message);
  const dial = groups.dialString?.trim() || null;
  return { ok: true, result: build(rule, message, caller, lines, dial, groups.location, false) };
}

function build(
  rule: DetectionRule,
  message: Record<string, unknown>,
  caller: EmergencyCaller,
  rest: readonly string[],
  dialString: string | null,
  locationText: string | undefined,
  /** `rest` holds only what follows the statement, so unlabelled lines there are the location. */
  unlabelledLocation: boolean,
): DetectionResult & { emergency: true } {
  const fromRest = extractLocation(rest, { unlabelled: unlabelledLocation });
  const location =
    locationText !== undefined && locationText.trim() !== ""
      ? extractLocation(locationText.trim().split(/\r?\n/), { unlabelled: true }).location
      : fromRest.location;
  const dial = dialString ?? labelledDialString(rest) ?? knownDialString(rest, fromRest.lineIndexes);
  const value: Emergency = {
    // The intake only hands on messages with both ids (it takes them from the resource path otherwise).
    chatId: stringOf(message, "chatId") ?? "",
    messageId: stringOf(message, "id") ?? "",
    messageTime: timeOf(message, "createdDateTime"),
    webUrl: stringOf(message, "webUrl") ?? null,
    caller,
    dialString: dial,
    isTest: dial === "933" || rule.marksTest === true,
    location,
    html: "",
    text: "",
  };
  return { emergency: true, value, ruleId: rule.id };
}

function labelledDialString(lines: readonly string[]): string | null {
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon < 1 || !isDialLabel(line.slice(0, colon))) continue;
    const number = /\+?\d[\d\s-]{0,14}\d|\d/.exec(line.slice(colon + 1));
    if (number) return number[0].replace(/[\s-]/g, "");
  }
  return null;
}

/** 911, 933 or 112 standing alone outside the location lines (a "112 Main Street" is not a dial string). */
function knownDialString(lines: readonly string[], locationLines: ReadonlySet<number>): string | null {
  for (let i = 0; i < lines.length; i++) {
    if (locationLines.has(i)) continue;
    const match = KNOWN_DIAL_STRINGS.exec(lines[i]!);
    if (match) return match[1]!;
  }
  return null;
}

function ruleLabel(rule: DetectionRule): string {
  return rule.id === DEFAULT_RULE_ID ? "default rule" : `rule ${rule.id} (${rule.name})`;
}

/** The phrase with any run of spaces matching any whitespace, case-insensitively; typographic apostrophes too. */
function phraseRegExp(phrase: string): RegExp {
  const source = phrase
    .trim()
    .split(/\s+/)
    .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/['\u2019]/g, "['\u2019]"))
    .join("\\s+");
  return new RegExp(source, "iu");
}

function phraseIn(text: string, phrase: string): boolean {
  return phraseRegExp(phrase).test(text);
}
