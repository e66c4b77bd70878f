import type { AuditEntry } from "../../storage/audit-log-store.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { timeTag } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

export function auditView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  entries: readonly AuditEntry[];
  /** The id to page back from, when older entries exist. */
  olderFrom: string | undefined;
  paged: boolean;
}): SafeHtml {
  const table =
    input.entries.length === 0
      ? html`<p class="empty">No entries${input.paged ? " before this point" : " yet"}.</p>`
      : html`<div class="table-wrap">
          <table class="data" id="audit-log">
            <caption class="visually-hidden">
              Audit log, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">What</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              ${input.entries.map(
                (e) =>
                  html`<tr data-action="${e.action}">
                    <td data-label="When">${timeTag(e.at)}</td>
                    <td data-label="Who">${e.actor}</td>
                    <td data-label="Action"><code>${e.action}</code></td>
                    <td data-label="What">
                      ${e.summary}${e.targetId ? html` <span class="muted small">${e.targetType ?? ""} ${e.targetId}</span>` : ""}
                    </td>
                    <td data-label="From"><span class="small">${e.clientAddress ?? ""}</span></td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  return page({
    title: "Audit log",
    viewer: input.viewer,
    section: "audit",
    flash: input.flash,
    body: html`<p class="lead">
        Every change made through the web app or the admin API: who, what, when. Entries cannot be edited or
        deleted here.
      </p>
      ${table}
      <p class="pager">
        ${input.paged ? html`<a href="/audit">Newest</a>` : ""}${
          input.olderFrom ? html` <a href="/audit?before=${input.olderFrom}">Older entries</a>` : ""
        }
      </p>`,
  });
}
