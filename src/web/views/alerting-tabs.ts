import { html, type SafeHtml } from "./html.ts";

export type AlertingTab = "channels" | "policies" | "templates";

const TABS: readonly { tab: AlertingTab; label: string }[] = [
  { tab: "channels", label: "Channels" },
  { tab: "policies", label: "Policies" },
  { tab: "templates", label: "Templates" },
];

/** The org's alert configuration: channels, policies (who is told, and the escalation), templates. */
export function alertingTabs(org: { id: string; name: string }, active: AlertingTab): SafeHtml {
  return html`<p class="muted">
      Alerting of <a href="/orgs/${org.id}">${org.name}</a>${" "}
      <a class="small" href="/channels">(other organizations)</a>
    </p>
    <nav class="tabs" aria-label="Alert configuration">
      <ul>
        ${TABS.map(
          (t) =>
            html`<li>
              <a href="/orgs/${org.id}/${t.tab}" ${t.tab === active ? html` aria-current="page"` : ""}
                >${t.label}</a
              >
            </li>`,
        )}
      </ul>
    </nav>`;
}
