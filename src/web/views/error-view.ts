import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

const TITLES: Readonly<Record<number, string>> = {
  400: "That request was not understood",
  403: "Not allowed",
  404: "Page not found",
  413: "Too much data",
  429: "Too many attempts",
};

/** 403, 404 and other error pages; `message` is ours (never request data beyond what the user typed). */
export function errorView(input: { status: number; message: string; viewer?: PageViewer }): SafeHtml {
  const title = TITLES[input.status] ?? (input.status >= 500 ? "Something went wrong" : "Request refused");
  return page({
    title,
    ...(input.viewer ? { viewer: input.viewer } : {}),
    body: html`<div class="panel" data-status="${input.status}">
      <p>${input.message}</p>
      <p>
        <a href="/">Go to the start page</a>${input.viewer ? "" : html` or <a href="/login">sign in</a>`}.
      </p>
    </div>`,
  });
}
