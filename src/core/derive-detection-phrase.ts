import { isRecord, stringOf } from "./chat-message.ts";
import { checkRuleValue } from "./detection-rule-input.ts";
import { htmlToText, plainTextLines } from "./html-to-text.ts";

/**
 * A phrase rule for a captured message the default rule missed (another language, another wording): its first
 * line without the sender's name and any mentioned names. "Pat Caller a passé un appel d'urgence." ->
 * "a passé un appel d'urgence". Gives the reason instead when nothing usable is left.
 */
export function deriveDetectionPhrase(
  message: Record<string, unknown>,
): { ok: true; phrase: string } | { ok: false; reason: string } {
  const body = isRecord(message.body) ? message.body : undefined;
  if (!body || typeof body.content !== "string") return { ok: false, reason: "the message has no body" };
  const text =
    String(body.contentType ?? "html").toLowerCase() === "text"
      ? plainTextLines(body.content)
      : htmlToText(body.content);
  const first = text.split("\n").find((line) => /[\p{L}\p{N}]/u.test(line));
  if (first === undefined) return { ok: false, reason: "the message has no text to derive a phrase from" };
  let phrase = first;
  for (const name of namesIn(message)) phrase = phrase.replace(new RegExp(escape(name), "giu"), " ");
  phrase = phrase
    .replace(/\s+/g, " ")
    .replace(/^[^\p{L}\p{N}]+|[\s.!:;,\u2013\u2014-]+$/gu, "")
    .trim();
  const reason = checkRuleValue("phrase", phrase);
  return reason === undefined
    ? { ok: true, phrase }
    : {
        ok: false,
        reason: `the phrase derived from the message's first line ${reason}; send kind and value instead`,
      };
}

/** The sender's display name and every mention's text, longest first so "Pat Caller" goes before "Pat". */
function namesIn(message: Record<string, unknown>): string[] {
  const names: string[] = [];
  const from = isRecord(message.from) ? message.from : undefined;
  const user = from && isRecord(from.user) ? from.user : undefined;
  const sender = user ? stringOf(user, "displayName") : undefined;
  if (sender?.trim()) names.push(sender.trim());
  if (Array.isArray(message.mentions)) {
    for (const mention of message.mentions) {
      const text = isRecord(mention) ? stringOf(mention, "mentionText") : undefined;
      if (text?.trim()) names.push(text.trim());
    }
  }
  return names.sort((a, b) => b.length - a.length);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
