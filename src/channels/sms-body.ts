import type { AlertMessage } from "../core/alert.ts";
import { alertLinks } from "./alert-links.ts";
import { clip } from "./clip.ts";

/** Two concatenated GSM-7 segments (153 characters each) plus a little: long enough, still one notification. */
export const SMS_MAX_LENGTH = 320;

/**
 * The SMS text: the alert's rendered text on one line, clipped so that the acknowledgement link always fits
 * whole (a cut link is useless). Without text, the title.
 */
export function smsBody(message: AlertMessage, maxLength = SMS_MAX_LENGTH): string {
  const ack = alertLinks(message).find((link) => link.kind === "acknowledge");
  const suffix = ack ? `\nAck: ${ack.url}` : "";
  const source = message.text.trim() !== "" ? message.text : message.title;
  const line = source.replace(/\s+/g, " ").trim();
  const room = Math.max(maxLength - Array.from(suffix).length, 40);
  return `${clip(line, room)}${suffix}`;
}
