import type { AlertMessage } from "../core/alert.ts";
import { alertLinks } from "./alert-links.ts";
import { clip } from "./clip.ts";

// Block Kit limits (docs.slack.dev/reference/block-kit/blocks): header text 150 characters, section text 3000,
// at most 10 fields of 2000 each per section, button text 75, button URL 3000.
const FIELDS_PER_SECTION = 10;

/**
 * An incoming-webhook message (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks): Block Kit for
 * clients, `text` as the notification and accessibility fallback. Buttons are plain URL buttons, so no Slack app
 * interactivity is needed.
 */
export function slackMessage(message: AlertMessage): Record<string, unknown> {
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: clip(message.title, 150), emoji: false } },
  ];
  if (message.text.trim() !== "") {
    blocks.push({ type: "section", text: { type: "mrkdwn", text: clip(escapeSlack(message.text), 3000) } });
  }
  for (let i = 0; i < Math.min(message.fields.length, 30); i += FIELDS_PER_SECTION) {
    blocks.push({
      type: "section",
      fields: message.fields.slice(i, i + FIELDS_PER_SECTION).map((f) => ({
        type: "mrkdwn",
        text: clip(`*${escapeSlack(f.label)}*\n${escapeSlack(f.value)}`, 2000),
      })),
    });
  }
  const links = alertLinks(message).filter((link) => link.url.length <= 3000);
  if (links.length > 0) {
    blocks.push({
      type: "actions",
      elements: links.map((link) => ({
        type: "button",
        action_id: link.kind,
        text: { type: "plain_text", text: link.label },
        url: link.url,
        ...(link.kind === "acknowledge" ? { style: "danger" } : {}),
      })),
    });
  }
  const ack = links.find((link) => link.kind === "acknowledge");
  const fallback = [message.title, message.text, ack ? `Acknowledge: ${ack.url}` : ""]
    .filter(Boolean)
    .join("\n");
  return { text: clip(escapeSlack(fallback), 3000), blocks };
}

/**
 * Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as an entity start; these three are the only
 * characters to escape (docs.slack.dev/messaging/formatting-message-text, "Escaping text").
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
