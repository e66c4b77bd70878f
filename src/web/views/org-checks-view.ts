import type { Org } from "../../core/org.ts";
import type { Check } from "../../doctor.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { badge } from "./format.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const TONE = { pass: "ok", warn: "warn", fail: "bad" } as const;

/** The doctor's checks for one org, each with its result and, when it did not pass, the fix. */
export function orgChecksView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  org: Org;
  checks: readonly Check[];
}): SafeHtml {
  const failed = input.checks.filter((c) => c.status === "fail").length;
  const warned = input.checks.filter((c) => c.status === "warn").length;
  return page({
    title: `Checks for ${input.org.name}`,
    viewer: input.viewer,
    section: "orgs",
    flash: input.flash,
    body: html`<p class="lead" id="checks-summary" data-failed="${failed}">
        ${
          failed === 0 && warned === 0
            ? "Every check passed."
            : `${failed} failed, ${warned} with a warning, ${input.checks.length - failed - warned} passed.`
        }
      </p>
      <ul class="checks">
        ${input.checks.map(
          (c) =>
            html`<li class="check check-${c.status}" data-status="${c.status}">
              <div class="check-head">
                ${badge(c.status.toUpperCase(), TONE[c.status])} <strong>${c.name}</strong>
              </div>
              <p class="check-detail">${c.detail}</p>
              ${c.status !== "pass" && c.fix ? html`<p class="check-fix"><strong>Fix:</strong> ${c.fix}</p>` : ""}
            </li>`,
        )}
      </ul>
      <p>
        <a class="button" href="/orgs/${input.org.id}/checks">Run again</a>
        <a class="button" href="/orgs/${input.org.id}">Status page</a>
        <a class="button" href="/orgs/${input.org.id}/setup">Setup</a>
      </p>`,
  });
}
