import { html, type SafeHtml } from "./html.ts";

/** `2026-11-27 09:00 UTC` in a <time> element; app.js rewrites the text into the reader's local time. */
export function timeTag(epochMs: number | null | undefined, fallback = "never"): SafeHtml {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) return html`${fallback}`;
  const iso = new Date(epochMs).toISOString();
  return html`<time datetime="${iso}" data-local>${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

export function isoTime(iso: string | null | undefined, fallback = "never"): SafeHtml {
  return timeTag(iso ? Date.parse(iso) : null, fallback);
}

/** "in 3 h 5 min", "12 min ago", "just now". */
export function relativeTime(epochMs: number, now: number): string {
  const diff = epochMs - now;
  const span = duration(Math.abs(diff));
  if (span === "") return "just now";
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

export function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return "";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

export type Tone = "ok" | "warn" | "bad" | "neutral";

export function badge(text: string, tone: Tone): SafeHtml {
  return html`<span class="badge badge-${tone}">${text}</span>`;
}

/** "42 s", "4 min 12 s", "1 h 4 min": time since a call, to the second while it matters (app.js ticks it). */
export function elapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

/** Like `timeTag`, to the second (timelines, deliveries): `2026-11-27 09:00:05 UTC`. */
export function preciseTimeTag(epochMs: number): SafeHtml {
  const iso = new Date(epochMs).toISOString();
  return html`<time datetime="${iso}" data-local="seconds">${iso.slice(0, 19).replace("T", " ")} UTC</time>`;
}
