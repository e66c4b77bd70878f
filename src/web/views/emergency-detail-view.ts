import type { BoardCard } from "../../core/board-view-model.ts";
import { locationQualityText } from "../../core/build-alert-message.ts";
import type { Delivery, DeliveryAttempt } from "../../core/delivery.ts";
import type { EmergencyRecord, TimelineEvent } from "../../core/emergency-record.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { emergencyCardView } from "./emergency-card-view.ts";
import { badge, preciseTimeTag, timeTag, type Tone } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const KIND_TONE: Readonly<Record<string, Tone>> = {
  detected: "bad",
  unrouted: "bad",
  dead: "bad",
  channel_disabled: "bad",
  escalated: "warn",
  repeated: "warn",
  delivered: "ok",
  acknowledged: "ok",
};

const STATUS_TONE: Readonly<Record<Delivery["status"], Tone>> = {
  delivered: "ok",
  pending: "warn",
  dead: "bad",
  cancelled: "neutral",
};

/** `/emergencies/{id}`: the card with its actions, then the call field by field, the deliveries and the timeline. */
export function emergencyDetailView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  record: EmergencyRecord;
  card: BoardCard;
  timeline: readonly TimelineEvent[];
  deliveries: readonly Delivery[];
  attempts: readonly DeliveryAttempt[];
  now: number;
}): SafeHtml {
  const { record, card } = input;
  const { emergency } = record;
  const { location, caller } = emergency;
  const returnTo = `/emergencies/${record.id}`;
  const title = `${record.isTest ? "Test call" : "Emergency"} ${record.dialString ?? ""} from ${card.caller}`;
  return page({
    title,
    viewer: input.viewer,
    section: "history",
    flash: input.flash,
    body: html`<p><a href="/board">Board</a> · <a href="/history">History</a></p>
      <div class="em-detail">
        ${emergencyCardView(card, { viewer: input.viewer, now: input.now, returnTo })}
      </div>
      <section class="card" aria-labelledby="h-call" id="call">
        <h2 id="h-call">The call</h2>
        <dl class="facts">
          <dt>Call type</dt>
          <dd>${record.isTest ? "Test call (933): not an emergency" : "Emergency call"}</dd>
          <dt>Dialed</dt>
          <dd>${record.dialString ?? "not in the message"}</dd>
          <dt>Caller</dt>
          <dd>${caller.displayName ?? "not in the message"}</dd>
          <dt>Caller account</dt>
          <dd>
            ${caller.userPrincipalName ? html`<code>${caller.userPrincipalName}</code>` : "not in the message"}
          </dd>
          <dt>Location</dt>
          <dd>${card.location}</dd>
          <dt>Location quality</dt>
          <dd>${locationQualityText(location.quality)}</dd>
          <dt>Place</dt>
          <dd>${location.place ?? "none"}</dd>
          <dt>Civic address</dt>
          <dd>${location.civicAddress ?? "none"}</dd>
          <dt>Coordinates</dt>
          <dd>
            ${location.coordinates ? `${location.coordinates.latitude}, ${location.coordinates.longitude}` : "none"}
          </dd>
          <dt>Map</dt>
          <dd>
            ${card.mapUrl ? html`<a href="${card.mapUrl}" rel="noopener noreferrer" target="_blank">Open map</a>` : "no address or coordinates to map"}
          </dd>
          <dt>Location as written</dt>
          <dd>${location.raw ?? "none"}</dd>
          <dt>Message time</dt>
          <dd>${timeTag(emergency.messageTime, "unknown")}</dd>
          <dt>Detected</dt>
          <dd>${timeTag(record.detectedAt)}</dd>
          <dt>Organization</dt>
          <dd>${card.orgName}</dd>
          <dt>Policy</dt>
          <dd>${record.policy ? record.policy.name : "none matched"}</dd>
          <dt>Detection rule</dt>
          <dd><code>${record.ruleId}</code></dd>
          <dt>Teams</dt>
          <dd>
            ${card.teamsUrl ? html`<a href="${card.teamsUrl}" rel="noopener noreferrer" target="_blank">Open the chat in Teams</a>` : "no link"}
          </dd>
          <dt>Chat and message</dt>
          <dd><code>${record.chatId}</code> / <code>${record.messageId}</code></dd>
          <dt>Emergency id</dt>
          <dd><code>${record.id}</code></dd>
        </dl>
        <details>
          <summary class="button button-small">The message as Teams posted it</summary>
          <pre class="message-text">${emergency.text}</pre>
        </details>
      </section>
      ${deliveriesSection(input.deliveries, input.attempts)} ${timelineSection(input.timeline)}`,
  });
}

function deliveriesSection(deliveries: readonly Delivery[], attempts: readonly DeliveryAttempt[]): SafeHtml {
  return html`<section aria-labelledby="h-deliveries" id="deliveries">
    <h2 id="h-deliveries">Deliveries</h2>
    ${
      deliveries.length === 0
        ? html`<p class="empty">Nothing was sent for this call.</p>`
        : html`<div class="table-wrap">
            <table class="data">
              <caption class="visually-hidden">
                Every alert sent for this call, with its attempts
              </caption>
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">Tier</th>
                  <th scope="col">Why</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">First request after</th>
                  <th scope="col">Last answer</th>
                </tr>
              </thead>
              <tbody>
                ${deliveries.map((d) => {
                  const own = attempts.filter((a) => a.deliveryId === d.id);
                  return html`<tr data-delivery="${d.id}" data-status="${d.status}">
                    <th scope="row">${d.channelName} <span class="muted small">${d.channelType}</span></th>
                    <td data-label="Tier">${d.tier}</td>
                    <td data-label="Why">${d.purpose}</td>
                    <td data-label="Status">${badge(d.status, STATUS_TONE[d.status])}</td>
                    <td data-label="Attempts">
                      ${d.attempts}${
                        own.length > 0
                          ? html`<ul class="attempts small">
                              ${own.map(
                                (a) =>
                                  html`<li>
                                    #${a.attempt} ${preciseTimeTag(a.startedAt)}:
                                    ${a.outcome}${a.statusCode !== null ? ` (HTTP ${a.statusCode})` : ""},
                                    ${a.latencyMs} ms${a.detail ? ` — ${a.detail}` : ""}
                                  </li>`,
                              )}
                            </ul>`
                          : ""
                      }
                    </td>
                    <td data-label="First request after">
                      ${d.firstAttemptAt === null ? "not yet" : `${d.firstAttemptAt - d.createdAt} ms`}
                    </td>
                    <td data-label="Last answer">
                      ${d.lastDetail ?? (d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : "")}
                    </td>
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>`
    }
  </section>`;
}

function timelineSection(timeline: readonly TimelineEvent[]): SafeHtml {
  return html`<section aria-labelledby="h-timeline" id="timeline">
    <h2 id="h-timeline">Timeline</h2>
    <ol class="timeline">
      ${timeline.map(
        (e) =>
          html`<li data-kind="${e.kind}">
            <span class="timeline-time">${preciseTimeTag(e.at)}</span>
            ${badge(e.kind === "note" ? "note" : e.kind.replace("_", " "), KIND_TONE[e.kind] ?? "neutral")}
            <span class="timeline-message"
              >${e.message}${e.kind === "note" && typeof e.details?.by === "string" ? html` <span class="muted">— ${e.details.by}</span>` : ""}</span
            >
          </li>`,
      )}
    </ol>
  </section>`;
}
