import { isRecord, stringOf } from "./chat-message.ts";
import type { EmergencyCaller } from "./emergency.ts";

// Who placed the call. Teams posts the notification as the caller (`from.user` is the caller:
// reference/teams-emergency-calls.md §1.2), and the text names them before the phrase, sometimes as an <at>
// mention. So the name in the text must be the sender: that is what tells Teams' notification apart from a
// person typing "Pat has placed an Emergency Call" into the chat.

export interface ResolvedCaller {
  caller: EmergencyCaller;
  /** The text (or its mention) names someone other than the sender. */
  notTheSender: boolean;
}

const UPN = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

/**
 * `named`: the caller as the text names them ("Pat Caller", "@Pat Caller", "Pat Caller (pat@contoso.com)"), or
 * null when the text names nobody. Fills in the id from the matching mention or the sender, the UPN from the
 * text, and the display name from the text or else the sender.
 */
export function resolveCaller(named: string | null, message: Record<string, unknown>): ResolvedCaller {
  const sender = senderOf(message);
  const cleaned = named === null ? "" : cleanName(named);
  const upn = UPN.exec(cleaned)?.[0] ?? null;
  const nameOnly = upn === null ? cleaned : cleanName(cleaned.replace(bracketed(upn), " "));
  const displayName = nameOnly === "" ? null : nameOnly;
  const mention = cleaned === "" ? undefined : mentionNaming(message, displayName ?? upn ?? cleaned);

  if (mention !== undefined) {
    return {
      caller: {
        id: mention.id ?? sender.id,
        displayName: displayName ?? mention.displayName ?? sender.displayName,
        userPrincipalName: upn,
      },
      notTheSender: mention.id !== null && sender.id !== null && mention.id !== sender.id,
    };
  }
  const spoken = displayName ?? upn;
  return {
    caller: {
      id: sender.id,
      displayName: displayName ?? sender.displayName,
      userPrincipalName: upn,
    },
    notTheSender: spoken !== null && sender.displayName !== null && !sameName(spoken, sender.displayName),
  };
}

/** The words of a name, case, accents and punctuation aside: "Renée O'Brien" -> ["renee", "o", "brien"]. */
export function nameTokens(name: string): string[] {
  return name
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== "");
}

/**
 * Both name the same person as far as text can tell: every word of the shorter is a word of the longer, so
 * "Caller, Pat", "Pat Caller (Contoso)" and "pat.caller@contoso.com" all match "Pat Caller".
 */
export function sameName(a: string, b: string): boolean {
  const ta = new Set(nameTokens(a));
  const tb = new Set(nameTokens(b));
  if (ta.size === 0 || tb.size === 0) return false;
  const [shorter, longer] = ta.size <= tb.size ? [ta, tb] : [tb, ta];
  for (const token of shorter) if (!longer.has(token)) return false;
  return true;
}

/** Leading emoji, bullets and "@", trailing separators. */
export function cleanName(text: string): string {
  return text
    .replace(/^[^\p{L}\p{N}(]+/u, "")
    .replace(/[\s:;,\u2013\u2014-]+$/u, "")
    .trim();
}

function senderOf(message: Record<string, unknown>): { id: string | null; displayName: string | null } {
  const from = isRecord(message.from) ? message.from : undefined;
  const user = from && isRecord(from.user) ? from.user : undefined;
  if (!user) return { id: null, displayName: null };
  return { id: stringOf(user, "id") ?? null, displayName: stringOf(user, "displayName")?.trim() || null };
}

function mentionNaming(
  message: Record<string, unknown>,
  name: string,
): { id: string | null; displayName: string | null } | undefined {
  if (!Array.isArray(message.mentions)) return undefined;
  for (const mention of message.mentions) {
    if (!isRecord(mention)) continue;
    const mentioned = isRecord(mention.mentioned) ? mention.mentioned : undefined;
    const user = mentioned && isRecord(mentioned.user) ? mentioned.user : undefined;
    const text = stringOf(mention, "mentionText") ?? (user ? stringOf(user, "displayName") : undefined);
    if (text === undefined || !sameName(text, name)) continue;
    return {
      id: (user && stringOf(user, "id")) ?? null,
      displayName: (user && stringOf(user, "displayName")) ?? text,
    };
  }
  return undefined;
}

function bracketed(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`[(<\\[]?\\s*(?:mailto:)?${escaped}\\s*[)>\\]]?`);
}
