import type { AlertMessage } from "../core/alert.ts";

export interface AlertLink {
  kind: "acknowledge" | "map" | "teams";
  label: string;
  url: string;
}

/**
 * The alert's links in the order every format shows them, acknowledgement first. Only http and https URLs: the
 * Teams link comes from the chat message, and a `javascript:` URL must never become a button.
 */
export function alertLinks(message: AlertMessage): AlertLink[] {
  const links: AlertLink[] = [];
  const add = (kind: AlertLink["kind"], label: string, raw: string | null) => {
    const url = safeHttpUrl(raw);
    if (url !== null) links.push({ kind, label, url });
  };
  add("acknowledge", "Acknowledge", message.acknowledgeUrl);
  add("map", "Open map", message.mapUrl);
  add("teams", "Open in Teams", message.teamsUrl);
  return links;
}

export function safeHttpUrl(raw: string | null): string | null {
  if (raw === null) return null;
  try {
    const url = new URL(raw);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}
