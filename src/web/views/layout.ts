import type { Account } from "../../core/account.ts";
import { can, type Permission } from "../../core/role-permissions.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { postForm } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";

export type NavSection =
  "orgs" | "board" | "history" | "channels" | "audit" | "accounts" | "account" | "none";

const NAV: readonly { section: NavSection; href: string; label: string; permission: Permission }[] = [
  { section: "orgs", href: "/orgs", label: "Orgs", permission: "orgs.read" },
  { section: "board", href: "/board", label: "Board", permission: "board.read" },
  { section: "history", href: "/history", label: "History", permission: "board.read" },
  { section: "channels", href: "/channels", label: "Channels", permission: "alerting.read" },
  { section: "audit", href: "/audit", label: "Audit log", permission: "audit.read" },
  { section: "accounts", href: "/accounts", label: "Accounts", permission: "accounts.manage" },
];

export interface PageViewer {
  account: Account;
  csrfToken: string;
}

export interface PageOptions {
  title: string;
  /** Signed-in user for the header and nav; absent on the sign-in page and anonymous error pages. */
  viewer?: PageViewer;
  section?: NavSection;
  flash?: readonly FlashMessage[];
  body: SafeHtml;
  /** Extra tags for <head>, e.g. a page's own script (`/assets/*.js`; inline scripts are blocked by the CSP). */
  head?: SafeHtml;
  /** Hides the <h1>, for pages that lay out their own heading. */
  hideTitle?: boolean;
}

/** The shell of every web-app page: header with the user and role, navigation, flash messages, main content. */
export function page(options: PageOptions): SafeHtml {
  const { viewer } = options;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · Teams Emergency Relay</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer></script>
        ${options.head ?? ""}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to main content</a>
        <header class="top">
          <div class="top-inner">
            <a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span>Emergency Relay</a>
            ${viewer ? nav(viewer.account, options.section ?? "none") : ""} ${viewer ? who(viewer) : ""}
          </div>
        </header>
        <main id="main" tabindex="-1">
          ${flashMessages(options.flash ?? [])} ${options.hideTitle ? "" : html`<h1>${options.title}</h1>`}
          ${options.body}
        </main>
      </body>
    </html>`;
}

function nav(account: Account, active: NavSection): SafeHtml {
  const items = NAV.filter((item) => can(account.role, item.permission));
  return html`<nav class="main-nav" aria-label="Main">
    <ul>
      ${items.map(
        (item) =>
          html`<li>
            <a href="${item.href}" ${item.section === active ? html` aria-current="page"` : ""}
              >${item.label}</a
            >
          </li>`,
      )}
    </ul>
  </nav>`;
}

function who(viewer: PageViewer): SafeHtml {
  const { account } = viewer;
  return html`<div class="who">
    <a class="who-name" href="/account" title="Your account">${account.displayName ?? account.username}</a>
    <span class="badge badge-role" data-role="${account.role}">${account.role}</span>
    ${postForm("/logout", viewer.csrfToken, html`<button type="submit" class="button-link">Sign out</button>`, html`class="inline"`)}
  </div>`;
}

function flashMessages(messages: readonly FlashMessage[]): SafeHtml {
  if (messages.length === 0) return html``;
  return html`<div class="flashes">
    ${messages.map(
      (m) =>
        html`<div class="flash flash-${m.kind}" role="${m.kind === "error" ? "alert" : "status"}">
          ${m.text}
        </div>`,
    )}
  </div>`;
}
