import type { AlertMessage } from "../core/alert.ts";
import { alertLinks } from "./alert-links.ts";
import { clip } from "./clip.ts";

const COLORS = { critical: "Attention", warning: "Warning", info: "Default" } as const;

/**
 * The message a Teams Workflows ("When a Teams webhook request is received") or incoming webhook URL accepts: one
 * Adaptive Card 1.4 attachment (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/
 * connectors-using, "Send Adaptive Cards using an Incoming Webhook"). Teams caps a message at 28 KB, hence the
 * clipping.
 */
export function teamsCardMessage(message: AlertMessage): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: "TextBlock",
      text: cardText(clip(message.title, 200)),
      size: "Large",
      weight: "Bolder",
      color: COLORS[message.severity],
      wrap: true,
    },
  ];
  if (message.text.trim() !== "") {
    body.push({ type: "TextBlock", text: cardText(clip(message.text, 2000)), wrap: true });
  }
  if (message.fields.length > 0) {
    body.push({
      type: "FactSet",
      facts: message.fields.slice(0, 20).map((f) => ({
        title: cardText(clip(f.label, 60)),
        value: cardText(clip(f.value, 500)),
      })),
    });
  }
  const content = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    msteams: { width: "Full" },
    body,
    actions: alertLinks(message).map((link) => ({
      type: "Action.OpenUrl",
      title: link.label,
      url: link.url,
      ...(link.kind === "acknowledge" ? { style: "positive" } : {}),
    })),
  };
  return {
    type: "message",
    attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content }],
  };
}

/**
 * TextBlock and Fact values are Markdown in Teams (learn.microsoft.com/microsoftteams/platform/task-modules-and-
 * cards/cards/cards-format). Brackets are escaped so a caller-typed location cannot become a disguised link.
 */
export function cardText(text: string): string {
  return text.replace(/[[\]\\]/g, (c) => `\\${c}`);
}
