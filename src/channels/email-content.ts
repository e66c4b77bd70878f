import type { AlertMessage } from "../core/alert.ts";
import { alertLinks } from "./alert-links.ts";
import { clip } from "./clip.ts";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

const TITLE_COLORS = { critical: "#b00020", warning: "#8a5300", info: "#1b1b1b" } as const;

/**
 * Both parts carry the same facts and links, so a text-only client or a screen reader misses nothing. Every value
 * is HTML-escaped: caller names and caller-typed locations come from outside the relay.
 */
export function emailContent(message: AlertMessage): EmailContent {
  const links = alertLinks(message);
  const subject = clip(message.title.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), 200);
  const text = [
    message.title,
    message.text.trim(),
    message.fields.map((f) => `${f.label}: ${f.value}`).join("\n"),
    links.map((link) => `${link.label}: ${link.url}`).join("\n"),
  ]
    .filter((part) => part !== "")
    .join("\n\n");

  const rows = message.fields
    .map(
      (f) =>
        `<tr><th align="left" valign="top" style="padding:4px 12px 4px 0;white-space:nowrap">${escapeHtml(f.label)}</th>` +
        `<td style="padding:4px 0">${escapeHtml(f.value)}</td></tr>`,
    )
    .join("\n");
  const buttons = links
    .map(
      (link) =>
        `<a href="${escapeHtml(link.url)}" style="display:inline-block;margin:0 8px 8px 0;padding:10px 16px;` +
        `border-radius:4px;text-decoration:none;color:#ffffff;background:${link.kind === "acknowledge" ? "#b00020" : "#444444"}">` +
        `${escapeHtml(link.label)}</a>`,
    )
    .join("\n");
  const html = [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1b1b1b;font-size:15px">',
    `<h1 style="font-size:20px;color:${TITLE_COLORS[message.severity]}">${escapeHtml(message.title)}</h1>`,
    message.text.trim() === "" ? "" : `<p>${escapeHtml(message.text.trim()).replace(/\r?\n/g, "<br>\n")}</p>`,
    rows === "" ? "" : `<table cellspacing="0" cellpadding="0">\n${rows}\n</table>`,
    buttons === "" ? "" : `<p>\n${buttons}\n</p>`,
    '<p style="color:#666666;font-size:12px">Sent by Teams Emergency Relay.</p>',
    "</body></html>",
  ]
    .filter((line) => line !== "")
    .join("\n");
  return { subject, text, html };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
