// The pages behind an alert's acknowledgement link. Self-contained (no scripts, no external assets: the CSP
// allows none) and every value escaped: caller names and locations come from a chat message anyone can write.
import { callerName, formatAlertTime, locationText } from "../../core/build-alert-message.ts";
import type { EmergencyRecord } from "../../core/emergency-record.ts";

const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
.banner{padding:.6rem 1rem;border-radius:.3rem;font-weight:700}.real{background:#a4262c;color:#fff}
.test{background:#fff4ce;color:#323130}.ok{color:#0b6a0b}.warn{color:#a4262c;font-weight:700}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}
input[type=text]{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box}
button{font-size:1.2rem;padding:.8rem 1.5rem;margin-top:1rem;background:#0b6a0b;color:#fff;border:0;border-radius:.3rem}</style>
</head><body>${body}</body></html>`;

function summary(record: EmergencyRecord): string {
  const { emergency } = record;
  const location = locationText(emergency.location);
  const unknown = emergency.location.quality !== "known";
  return `<p class="banner ${record.isTest ? "test" : "real"}">${
    record.isTest ? "TEST CALL (not an emergency)" : "EMERGENCY CALL"
  } ${escapeHtml(record.dialString ?? "")}</p>
<dl>
<dt>Caller</dt><dd>${escapeHtml(callerName(emergency))}</dd>
<dt>Location</dt><dd${unknown ? ' class="warn"' : ""}>${escapeHtml(location)}</dd>
<dt>Time</dt><dd>${escapeHtml(formatAlertTime(emergency.messageTime ?? record.detectedAt))}</dd>
</dl>`;
}

function acknowledgedLine(record: EmergencyRecord): string {
  const ack = record.acknowledgement;
  if (ack === null) return "";
  return `<p class="ok" id="acknowledged-by">Acknowledged by <strong>${escapeHtml(ack.by ?? "someone who gave no name")}</strong> at ${escapeHtml(formatAlertTime(ack.at))}.</p>`;
}

/** GET: shows the call and a form; acknowledges nothing (mail scanners follow links). */
export function ackConfirmView(input: { emergency: EmergencyRecord; channelName: string | null }): string {
  const { emergency } = input;
  if (emergency.acknowledgement !== null) {
    return page(
      "Already acknowledged",
      `<h1 id="result" data-result="already">Already acknowledged</h1>${summary(emergency)}${acknowledgedLine(emergency)}`,
    );
  }
  const via = input.channelName
    ? `<p>This link was sent to <strong>${escapeHtml(input.channelName)}</strong>.</p>`
    : "";
  return page(
    "Acknowledge emergency call",
    `<h1 id="result" data-result="confirm">Acknowledge this call?</h1>${summary(emergency)}
<p>Acknowledging tells everyone alerted that you are on it, and stops escalation to the next people.</p>${via}
<form method="post"><label for="by">Your name</label>
<input type="text" id="by" name="by" maxlength="100" autocomplete="name" placeholder="e.g. Alex, security desk">
<button type="submit">I am on it: acknowledge</button></form>`,
  );
}

/** POST: the outcome. */
export function ackResultView(input: {
  emergency: EmergencyRecord;
  acknowledged: boolean;
  cancelled: number;
}): string {
  const { emergency } = input;
  if (!input.acknowledged) {
    return page(
      "Already acknowledged",
      `<h1 id="result" data-result="already">Someone was first</h1>${summary(emergency)}${acknowledgedLine(emergency)}`,
    );
  }
  const stopped =
    input.cancelled > 0
      ? `<p>Escalation stopped: ${input.cancelled} pending notification${input.cancelled === 1 ? "" : "s"} cancelled.</p>`
      : "<p>No further escalation will be sent.</p>";
  return page(
    "Acknowledged",
    `<h1 class="ok" id="result" data-result="acknowledged">Acknowledged</h1>${summary(emergency)}${acknowledgedLine(emergency)}${stopped}`,
  );
}

export function ackNotFoundView(): string {
  return page(
    "Link not valid",
    `<h1 id="result" data-result="not-found">This link is not valid</h1>
<p>It may be mistyped or expired (links work for 30 days). Acknowledge through the relay's API or your team's usual channel.</p>`,
  );
}
