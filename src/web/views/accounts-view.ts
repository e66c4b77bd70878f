import { ROLE_DESCRIPTIONS, ROLES, type Account } from "../../core/account.ts";
import { MIN_PASSWORD_LENGTH } from "../../core/password-policy.ts";
import type { FieldProblem } from "../../core/validation-error.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { badge, timeTag } from "./format.ts";
import { errorSummary, field, postForm, problemFor } from "./form-fields.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

export interface AccountFormState {
  problems: readonly FieldProblem[];
  values: Record<string, string>;
  /** Set when the problems belong to a password reset of this account, not to the create form. */
  resetFor?: string;
}

const LABELS = {
  username: "Username",
  displayName: "Display name",
  role: "Role",
  password: "Password",
  passwordConfirm: "Repeat password",
  currentPassword: "Current password",
};

const PASSWORD_HINT = `At least ${MIN_PASSWORD_LENGTH} characters; a passphrase of several words works well.`;

export function accountsView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  accounts: readonly Account[];
  form?: AccountFormState;
}): SafeHtml {
  const { viewer, form } = input;
  const createProblems = form && form.resetFor === undefined ? form.problems : undefined;
  const roleSelect = (name: string, selected: string, id: string) =>
    html`<select name="${name}" id="${id}">
      ${ROLES.map((r) => html`<option value="${r}" ${r === selected ? html` selected` : ""}>${r}</option>`)}
    </select>`;

  const rows = input.accounts.map((a) => {
    const self = a.id === viewer.account.id;
    const resetProblems = form?.resetFor === a.id ? form.problems : undefined;
    return html`<tr data-account="${a.username}">
<th scope="row">${a.username}${self ? html` <span class="muted small">(you)</span>` : ""}${
      a.displayName ? html`<br /><span class="small">${a.displayName}</span>` : ""
    }</th>
<td data-label="Role">${postForm(
      `/accounts/${a.id}/role`,
      viewer.csrfToken,
      html`<label class="visually-hidden" for="role-${a.id}">Role of ${a.username}</label
        >${roleSelect("role", a.role, `role-${a.id}`)}
        <button type="submit" class="button button-small">Change</button>`,
      html`class="inline"`,
    )}</td>
<td data-label="State">${a.disabled ? badge("Disabled", "bad") : badge("Active", "ok")}</td>
<td data-label="Last sign-in">${timeTag(a.lastLoginAt)}</td>
<td data-label="Actions"><div class="actions">
${
  self
    ? ""
    : postForm(
        `/accounts/${a.id}/${a.disabled ? "enable" : "disable"}`,
        viewer.csrfToken,
        html`<button
          type="submit"
          class="button button-small${a.disabled ? "" : " button-danger"}"
          ${a.disabled ? "" : html` data-confirm="Disable ${a.username}? They are signed out at once."`}
        >
          ${a.disabled ? "Enable" : "Disable"}
        </button>`,
        html`class="inline"`,
      )
}
<details${resetProblems ? html` open` : ""}><summary class="button button-small">Reset password</summary>
${postForm(
  `/accounts/${a.id}/password`,
  viewer.csrfToken,
  html`${errorSummary(resetProblems, LABELS)}
    ${field({ name: "password", id: `f-password-${a.id}`, label: `New password for ${a.username}`, type: "password", autocomplete: "new-password", hint: PASSWORD_HINT, problems: resetProblems ?? [] })}
    <button type="submit" class="button button-small">Set password</button>`,
  html`class="stack compact"`,
)}</details>
</div></td></tr>`;
  });

  return page({
    title: "Accounts",
    viewer,
    section: "accounts",
    flash: input.flash,
    body: html`<div class="table-wrap">
        <table class="data" id="accounts">
          <caption class="visually-hidden">
            Accounts
          </caption>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Last sign-in</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${rows}
          </tbody>
        </table>
      </div>
      <dl class="roles small">
        ${ROLES.map(
          (r) =>
            html`<dt>${r}</dt>
              <dd>${ROLE_DESCRIPTIONS[r]}</dd>`,
        )}
      </dl>
      <section class="panel" aria-labelledby="new-account-heading" id="new-account">
        <h2 id="new-account-heading">New account</h2>
        ${errorSummary(createProblems, LABELS)}
        ${postForm(
          "/accounts",
          viewer.csrfToken,
          html`<div class="grid-2">
              ${field({ name: "username", label: LABELS.username, value: form?.values.username ?? "", required: true, code: true, autocomplete: "off", problems: createProblems ?? [] })}
              ${field({ name: "displayName", label: LABELS.displayName, value: form?.values.displayName ?? "", autocomplete: "off", problems: createProblems ?? [] })}
            </div>
            <div class="field">
              <label for="f-role">${LABELS.role}</label
              >${roleSelect("role", form?.values.role ?? "viewer", "f-role")}
            </div>
            <div class="grid-2">
              ${field({ name: "password", label: LABELS.password, type: "password", required: true, autocomplete: "new-password", hint: PASSWORD_HINT, problems: createProblems ?? [] })}
              ${field({ name: "passwordConfirm", label: LABELS.passwordConfirm, type: "password", required: true, autocomplete: "new-password", problems: createProblems ?? [] })}
            </div>
            <button type="submit" class="button button-primary">Create account</button>`,
          html`class="stack" autocomplete="off"`,
        )}
      </section>`,
  });
}

export function ownAccountView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  problems?: readonly FieldProblem[];
}): SafeHtml {
  const { account } = input.viewer;
  return page({
    title: "Your account",
    viewer: input.viewer,
    section: "account",
    flash: input.flash,
    body: html`<dl class="facts">
        <dt>Username</dt>
        <dd>${account.username}</dd>
        <dt>Role</dt>
        <dd>${account.role}: ${ROLE_DESCRIPTIONS[account.role]}</dd>
        <dt>Password changed</dt>
        <dd>${timeTag(account.passwordChangedAt)}</dd>
      </dl>
      <section class="panel" aria-labelledby="pw-heading">
        <h2 id="pw-heading">Change your password</h2>
        ${errorSummary(input.problems, LABELS)}
        ${postForm(
          "/account/password",
          input.viewer.csrfToken,
          html`<input
              type="text"
              name="username"
              value="${account.username}"
              autocomplete="username"
              hidden
            />
            ${field({ name: "currentPassword", label: LABELS.currentPassword, type: "password", required: true, autocomplete: "current-password", problems: input.problems ?? [] })}
            ${field({ name: "password", label: "New password", type: "password", required: true, autocomplete: "new-password", hint: PASSWORD_HINT, problems: input.problems ?? [] })}
            ${field({ name: "passwordConfirm", label: LABELS.passwordConfirm, type: "password", required: true, autocomplete: "new-password", problems: input.problems ?? [] })}
            <button type="submit" class="button button-primary">Change password</button>`,
          html`class="stack"`,
        )}
      </section>`,
  });
}
