import type { EmergencyRecord } from "../../core/emergency-record.ts";
import { locationText } from "../../core/build-alert-message.ts";
import type { HistoryValues } from "../../core/history-query.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { badge, elapsed, timeTag, type Tone } from "./format.ts";
import { errorSummary, field, selectField } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const STATE_TONE: Readonly<Record<string, Tone>> = { open: "bad", unrouted: "bad", acknowledged: "ok" };
const LABELS = { orgId: "Organization", state: "State", from: "From", to: "To", type: "Calls" };

export function historyView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  orgs: readonly { id: string; name: string }[];
  values: HistoryValues;
  problems: readonly FieldProblem[];
  rows: readonly EmergencyRecord[];
  /** Query string of the filters (no cursor), for the export and paging links. */
  filterQuery: string;
  /** The cursor of the next (older) page, when there is one. */
  olderCursor: string | undefined;
  paged: boolean;
}): SafeHtml {
  const { values } = input;
  const orgName = new Map(input.orgs.map((o) => [o.id, o.name]));
  const select = (name: keyof typeof LABELS, choices: readonly (readonly [string, string])[]) =>
    selectField({ name, label: LABELS[name], value: values[name], choices, problems: input.problems });
  const filters = html`<form method="get" action="/history" class="card filters" aria-label="Filters">
    ${errorSummary(input.problems, LABELS)}
    <div class="filter-grid">
      ${select("orgId", [["", "All organizations"], ...input.orgs.map((o) => [o.id, o.name] as const)])}
      ${select("state", [
        ["", "Any state"],
        ["open", "Open"],
        ["acknowledged", "Acknowledged"],
        ["unrouted", "Nobody notified"],
      ])}
      ${select("type", [
        ["all", "Real and test calls"],
        ["real", "Real calls only"],
        ["test", "Test calls only"],
      ])}
      ${field({ name: "from", label: "From (UTC date)", type: "date", value: values.from, problems: input.problems })}
      ${field({ name: "to", label: "To (UTC date, included)", type: "date", value: values.to, problems: input.problems })}
    </div>
    <div class="actions">
      <button type="submit" class="button button-primary">Apply filters</button>
      <a class="button" href="/history">Clear</a>
      <a
        class="button"
        id="export-csv"
        href="/history.csv${input.filterQuery ? `?${input.filterQuery}` : ""}"
        download
        >Export CSV</a
      >
    </div>
  </form>`;
  const table =
    input.rows.length === 0
      ? html`<p class="empty">No emergencies match${input.paged ? " before this point" : ""}.</p>`
      : html`<div class="table-wrap">
          <table class="data" id="history">
            <caption class="visually-hidden">
              Emergencies, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Detected</th>
                <th scope="col">Call</th>
                <th scope="col">Caller</th>
                <th scope="col">Location</th>
                <th scope="col">State</th>
                <th scope="col">Acknowledged</th>
                <th scope="col">Organization</th>
              </tr>
            </thead>
            <tbody>
              ${input.rows.map((r) => {
                const ack = r.acknowledgement;
                return html`<tr data-emergency-id="${r.id}" data-test="${r.isTest ? "true" : "false"}">
                  <td data-label="Detected"><a href="/emergencies/${r.id}">${timeTag(r.detectedAt)}</a></td>
                  <td data-label="Call">
                    ${r.isTest ? html`<span class="badge badge-test">TEST</span> ` : ""}<strong
                      >${r.dialString ?? "?"}</strong
                    >
                  </td>
                  <td data-label="Caller">${r.callerName ?? "Unknown caller"}</td>
                  <td data-label="Location">
                    ${locationText(r.emergency.location)}${r.locationQuality === "unknown" ? html` ${badge("unknown", "bad")}` : r.locationQuality === "user_entered" ? html` ${badge("not verified", "warn")}` : ""}
                  </td>
                  <td data-label="State">${badge(r.state, STATE_TONE[r.state] ?? "neutral")}</td>
                  <td data-label="Acknowledged">
                    ${ack ? html`${ack.by ?? "no name given"} <span class="muted small">after ${elapsed(ack.at - r.detectedAt)}</span>` : "—"}
                  </td>
                  <td data-label="Organization">${orgName.get(r.orgId) ?? r.orgId}</td>
                </tr>`;
              })}
            </tbody>
          </table>
        </div>`;
  const base = `/history${input.filterQuery ? `?${input.filterQuery}&` : "?"}`;
  return page({
    title: "History",
    viewer: input.viewer,
    section: "history",
    flash: input.flash,
    body: html`<p class="lead">Every emergency and test call the relay detected, newest first.</p>
      ${filters} ${table}
      <p class="pager">
        ${input.paged ? html`<a href="/history${input.filterQuery ? `?${input.filterQuery}` : ""}">Newest</a>` : ""}${
          input.olderCursor ? html` <a id="older" href="${base}before=${input.olderCursor}">Older</a>` : ""
        }
      </p>`,
  });
}
