import type { FlashMessage } from "../../storage/session-store.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

/** `/channels` with several organizations (or none): where to configure whose alerting. */
export function alertingOrgsView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  orgs: readonly { org: { id: string; name: string }; channels: number; policies: number }[];
}): SafeHtml {
  return page({
    title: "Channels",
    viewer: input.viewer,
    section: "channels",
    flash: input.flash,
    body:
      input.orgs.length === 0
        ? html`<p class="empty">
            No organization yet: <a href="/orgs">create one</a> first, then its channels.
          </p>`
        : html`<p class="lead">Each organization has its own channels, policies and templates.</p>
            <div class="table-wrap">
              <table class="data">
                <caption class="visually-hidden">
                  Organizations and their alerting
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Organization</th>
                    <th scope="col">Channels</th>
                    <th scope="col">Policies</th>
                  </tr>
                </thead>
                <tbody>
                  ${input.orgs.map(
                    ({ org, channels, policies }) =>
                      html`<tr data-org-id="${org.id}">
                        <th scope="row"><a href="/orgs/${org.id}/channels">${org.name}</a></th>
                        <td data-label="Channels">${channels}</td>
                        <td data-label="Policies"><a href="/orgs/${org.id}/policies">${policies}</a></td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`,
  });
}
