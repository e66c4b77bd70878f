import type { AlertMessage } from "../core/alert.ts";
import { alertLinks } from "./alert-links.ts";
import { clip } from "./clip.ts";

// Webex refuses a message whose text or markdown exceeds 7439 bytes; the free text gives way first, never the
// title, the facts or the acknowledgement link.
const MAX_BYTES = 7000;
const TEXT_BUDGETS = [2000, 500, 0];

/**
 * The body of Webex `POST /messages` (developer.webex.com/docs/api/v1/messages/create-a-message): `markdown` for
 * clients, `text` for those without Markdown and for notifications.
 */
export function webexMessage(message: AlertMessage, roomId: string): Record<string, unknown> {
  for (const budget of TEXT_BUDGETS) {
    const body = render(message, budget);
    if (Buffer.byteLength(body.markdown) <= MAX_BYTES && Buffer.byteLength(body.text) <= MAX_BYTES) {
      return { roomId, ...body };
    }
  }
  return { roomId, ...render({ ...message, fields: message.fields.slice(0, 5) }, 0) };
}

function render(message: AlertMessage, textBudget: number): { markdown: string; text: string } {
  const links = alertLinks(message);
  const fields = message.fields.slice(0, 20);
  const freeText = textBudget > 0 ? clip(message.text.trim(), textBudget) : "";
  const markdown = [
    `**${escapeMarkdown(clip(message.title, 200))}**`,
    escapeMarkdown(freeText),
    fields
      .map((f) => `- **${escapeMarkdown(clip(f.label, 60))}:** ${escapeMarkdown(clip(f.value, 300))}`)
      .join("\n"),
    links.map((link) => `[${link.label}](${markdownUrl(link.url)})`).join(" · "),
  ]
    .filter((part) => part !== "")
    .join("\n\n");
  const text = [
    clip(message.title, 200),
    freeText,
    ...fields.map((f) => `${clip(f.label, 60)}: ${clip(f.value, 300)}`),
    ...links.map((link) => `${link.label}: ${link.url}`),
  ]
    .filter((line) => line !== "")
    .join("\n");
  return { markdown, text };
}

/** Backslash-escapes CommonMark punctuation, so names and caller-typed locations render as typed. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`);
}

/** Parentheses and spaces would end a Markdown link destination early. */
function markdownUrl(url: string): string {
  return url.replace(/[()\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
