import type { SubscriptionStatus } from "../../flows/keep-subscriptions.ts";
import type { ConnectionStatus } from "../../flows/keep-tokens.ts";
import { badge, type Tone } from "./format.ts";
import type { SafeHtml } from "./html.ts";

const CONNECTION: Readonly<Record<string, { label: string; tone: Tone }>> = {
  connected: { label: "Connected", tone: "ok" },
  retrying: { label: "Retrying", tone: "warn" },
  needs_reauth: { label: "Sign-in needed", tone: "bad" },
  misconfigured: { label: "Misconfigured", tone: "bad" },
  disconnected: { label: "Not connected", tone: "neutral" },
};

export function connectionBadge(status: ConnectionStatus): SafeHtml {
  const state = CONNECTION[status.connection.state] ?? { label: status.connection.state, tone: "neutral" };
  return badge(state.label, state.tone);
}

export function secretBadge(status: ConnectionStatus): SafeHtml {
  const days = status.clientSecret.daysLeft;
  if (days === null) return badge("Expiry unknown", "warn");
  if (days < 0) return badge("Expired", "bad");
  return badge(`${days} days left`, days < 14 ? "bad" : days < 30 ? "warn" : "ok");
}

export function subscriptionBadge(subscriptions: readonly SubscriptionStatus[], now: number): SafeHtml {
  const active = subscriptions.find((s) => s.state === "active");
  if (subscriptions.some((s) => s.state === "failing" || s.state === "pending"))
    return badge("Failing", "bad");
  if (active === undefined) return badge("None", "neutral");
  const left = active.expiresAt ? Date.parse(active.expiresAt) - now : 0;
  if (left <= 0) return badge("Expired", "bad");
  return badge("Active", left < 6 * 3_600_000 ? "warn" : "ok");
}
