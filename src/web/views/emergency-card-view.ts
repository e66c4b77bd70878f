import type { BoardCard, BoardChannel } from "../../core/board-view-model.ts";
import { can } from "../../core/role-permissions.ts";
import { elapsed, timeTag, type Tone } from "./format.ts";
import { csrfField } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import type { PageViewer } from "./layout.ts";

const DELIVERY: Readonly<Record<BoardChannel["status"], { text: string; tone: Tone }>> = {
  delivered: { text: "delivered", tone: "ok" },
  pending: { text: "sending", tone: "warn" },
  dead: { text: "FAILED", tone: "bad" },
  cancelled: { text: "not needed", tone: "neutral" },
};

/** One emergency on the board: the server renders it for the page and for every live update alike. */
export function emergencyCardView(
  card: BoardCard,
  options: { viewer: PageViewer; now: number; returnTo: string },
): SafeHtml {
  const { viewer, now } = options;
  const open = card.acknowledgement === null;
  const canAck = open && can(viewer.account.role, "emergencies.acknowledge");
  const canNote = can(viewer.account.role, "emergencies.note");
  const classes = [
    "em-card",
    card.isTest ? "em-test" : "em-real",
    open ? "em-open" : "em-acked",
    card.state === "unrouted" ? "em-unrouted" : "",
  ]
    .filter(Boolean)
    .join(" ");
  const titleId = `em-${card.id}-title`;
  return html`<article
    class="${classes}"
    id="em-${card.id}"
    data-emergency-id="${card.id}"
    data-detected="${card.detectedAt}"
    data-test="${card.isTest ? "true" : "false"}"
    data-state="${card.state}"
    aria-labelledby="${titleId}"
  >
    <header class="em-head">
      <div class="em-kind">
        ${
          card.isTest
            ? html`<span class="badge badge-test">TEST CALL</span>`
            : html`<span class="badge badge-emergency">EMERGENCY</span>`
        }
        ${card.state === "unrouted" ? html`<span class="badge badge-bad">NOBODY NOTIFIED</span>` : ""}
        ${open ? "" : html`<span class="badge badge-ok">Acknowledged</span>`}
      </div>
      <h3 id="${titleId}">
        <span class="em-dial">${card.dialString ?? "number unknown"}</span>
        <span class="em-caller">${card.caller}</span>
      </h3>
      <p class="em-since">
        <span class="visually-hidden">Time since the call:</span>
        <span data-since="${new Date(card.calledAt).toISOString()}">${elapsed(now - card.calledAt)}</span> ago
      </p>
    </header>
    ${locationBlock(card)}
    <dl class="facts em-facts">
      <dt>Called</dt>
      <dd>${timeTag(card.calledAt)}</dd>
      ${
        card.callerUpn
          ? html`<dt>Caller account</dt>
              <dd><code>${card.callerUpn}</code></dd>`
          : ""
      }
      <dt>Organization</dt>
      <dd>${card.orgName}</dd>
      <dt>Escalation</dt>
      <dd class="em-tier">${escalationText(card)}</dd>
    </dl>
    ${channelList(card)} ${notesList(card)}
    ${
      card.acknowledgement
        ? html`<p class="em-ack-by">
            Acknowledged by <strong>${card.acknowledgement.by ?? "someone who gave no name"}</strong>
            ${elapsed(card.acknowledgement.at - card.detectedAt)} after detection
            (${card.acknowledgement.via === "web" ? "web app" : card.acknowledgement.via === "link" ? "alert link" : "API"}).
          </p>`
        : ""
    }
    <div class="actions em-actions">
      ${
        canAck
          ? html`<form method="post" action="/emergencies/${card.id}/ack" class="inline" data-fetch>
              ${csrfField(viewer.csrfToken)}<input type="hidden" name="return" value="${options.returnTo}" />
              <button type="submit" class="button button-ack">Acknowledge</button>
            </form>`
          : ""
      }
      ${options.returnTo === `/emergencies/${card.id}` ? "" : html`<a class="button" href="/emergencies/${card.id}">Details</a>`}
      ${card.teamsUrl ? html`<a class="button" href="${card.teamsUrl}" rel="noopener noreferrer" target="_blank">Open in Teams</a>` : ""}
    </div>
    ${
      canNote
        ? html`<form method="post" action="/emergencies/${card.id}/notes" class="note-form" data-fetch>
            ${csrfField(viewer.csrfToken)}<input type="hidden" name="return" value="${options.returnTo}" />
            <label for="note-${card.id}">Add a note</label>
            <div class="note-row">
              <input
                id="note-${card.id}"
                type="text"
                name="text"
                maxlength="2000"
                required
                autocomplete="off"
              />
              <button type="submit" class="button button-small">Add note</button>
            </div>
          </form>`
        : ""
    }
  </article>`;
}

function locationBlock(card: BoardCard): SafeHtml {
  const quality =
    card.locationQuality === "unknown"
      ? html`<span class="badge badge-bad">UNKNOWN</span>`
      : card.locationQuality === "user_entered"
        ? html`<span class="badge badge-warn">not verified</span>`
        : html`<span class="badge badge-ok">from Teams</span>`;
  return html`<div class="em-location em-loc-${card.locationQuality}">
    <p class="em-loc-label">Location ${quality}</p>
    <p class="em-loc-text">${card.location}</p>
    ${
      card.locationQuality === "user_entered"
        ? html`<p class="small">Entered by the caller: confirm it with them or the dispatcher.</p>`
        : ""
    }
    ${
      card.mapUrl
        ? html`<p>
            <a class="em-map" href="${card.mapUrl}" rel="noopener noreferrer" target="_blank">Open map</a>
          </p>`
        : ""
    }
  </div>`;
}

function escalationText(card: BoardCard): SafeHtml {
  if (card.state === "unrouted") return html`No policy matched: nobody was alerted.`;
  const policy = card.policyName
    ? html` (policy ${card.policyName}, ${card.tierCount} tier${card.tierCount === 1 ? "" : "s"})`
    : "";
  const next = card.nextTierAt
    ? html`; tier ${card.tier + 1} at ${timeTag(card.nextTierAt)} unless acknowledged`
    : "";
  return html`Tier ${card.tier} notified${policy}${next}`;
}

function channelList(card: BoardCard): SafeHtml {
  if (card.channels.length === 0) return html``;
  return html`<ul class="em-channels" aria-label="Delivery per channel">
    ${card.channels.map((c) => {
      const status = DELIVERY[c.status];
      return html`<li data-channel="${c.name}" data-status="${c.status}">
        <span class="em-channel-name">${c.name}</span>
        <span class="muted small">${c.type}, tier ${c.tier}</span>
        <span class="badge badge-${status.tone}">${status.text}</span>
        ${c.detail ? html`<span class="small error-text">${c.detail}</span>` : ""}
      </li>`;
    })}
  </ul>`;
}

function notesList(card: BoardCard): SafeHtml {
  if (card.noteCount === 0) return html``;
  return html`<div class="em-notes">
    <p class="small muted">
      Notes${card.noteCount > card.notes.length ? html` (latest ${card.notes.length} of ${card.noteCount})` : ""}
    </p>
    <ul>
      ${card.notes.map(
        (n) =>
          html`<li>
            ${n.text} <span class="muted small">— ${n.by ?? "anonymous"}, ${timeTag(n.at)}</span>
          </li>`,
      )}
    </ul>
  </div>`;
}
