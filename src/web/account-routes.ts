import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Account } from "../core/account.ts";
import { parseNewAccount, parsePasswordReset, parseRoleChange } from "../core/account-input.ts";
import { RelayError } from "../core/errors.ts";
import type { FieldProblem } from "../core/validation-error.ts";
import type { WebContext } from "./web-context.ts";
import { formOf, requirePermission, requireRole, signedIn } from "./web-request.ts";
import { accountsView, ownAccountView, type AccountFormState } from "./views/accounts-view.ts";

type AccountRequest = FastifyRequest<{ Params: { id: string } }>;

/** Admin pages for accounts (create, role, disable/enable, reset password) and everyone's own password page. */
export function registerAccountRoutes(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const manage = { preHandler: requirePermission("accounts.manage") };

  const listPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    form?: AccountFormState,
  ) =>
    context.send(
      reply,
      status,
      accountsView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        accounts: await deps.accounts.list(),
        ...(form ? { form } : {}),
      }),
    );

  const loadAccount = async (id: string): Promise<Account> => {
    const account = await deps.accounts.get(id);
    if (account === undefined) throw new RelayError("ERR_NOT_FOUND", "There is no account with this id.");
    return account;
  };

  /** Never leaves the relay without an enabled admin: nobody could manage it any more. */
  const keepsAnAdmin = async (account: Account, change: { role?: string; disabled?: boolean }) => {
    const losesAdmin =
      account.role === "admin" &&
      !account.disabled &&
      (change.disabled === true || (change.role !== undefined && change.role !== "admin"));
    return !losesAdmin || (await deps.accounts.countActiveAdmins()) > 1;
  };

  scope.get("/accounts", manage, async (request, reply) => listPage(request, reply, 200));

  scope.post("/accounts", manage, async (request, reply) => {
    const form = formOf(request);
    const parsed = parseNewAccount(form);
    const values = {
      username: form.username ?? "",
      displayName: form.displayName ?? "",
      role: form.role ?? "",
    };
    if (!parsed.ok) return listPage(request, reply, 400, { problems: parsed.problems, values });
    let created: Account;
    try {
      created = await deps.accounts.create({
        username: parsed.value.username,
        displayName: parsed.value.displayName,
        role: parsed.value.role,
        passwordHash: await deps.hasher.hash(parsed.value.password),
      });
    } catch (error) {
      if (!(error instanceof RelayError) || error.code !== "ERR_CONFLICT") throw error;
      const problems: FieldProblem[] = [{ field: "username", reason: "is already taken" }];
      return listPage(request, reply, 409, { problems, values });
    }
    await context.audit(request, {
      action: "account.create",
      targetType: "account",
      targetId: created.id,
      summary: `Created account ${created.username} (${created.role})`,
      details: { username: created.username, role: created.role },
    });
    await context.flash(
      request,
      "success",
      `Account ${created.username} created. Give them the password in person.`,
    );
    return context.seeOther(reply, "/accounts");
  });

  scope.post<{ Params: { id: string } }>(
    "/accounts/:id/role",
    manage,
    async (request: AccountRequest, reply) => {
      const account = await loadAccount(request.params.id);
      const parsed = parseRoleChange(formOf(request));
      if (!parsed.ok)
        throw new RelayError("ERR_VALIDATION", `Role ${parsed.problems[0]?.reason ?? "is invalid"}.`);
      if (parsed.value === account.role) return context.seeOther(reply, "/accounts");
      if (!(await keepsAnAdmin(account, { role: parsed.value }))) {
        await context.flash(
          request,
          "error",
          "This is the last enabled admin; make someone else admin first.",
        );
        return context.seeOther(reply, "/accounts");
      }
      await deps.accounts.setRole(account.id, parsed.value);
      await context.audit(request, {
        action: "account.role",
        targetType: "account",
        targetId: account.id,
        summary: `Changed the role of ${account.username} from ${account.role} to ${parsed.value}`,
        details: { from: account.role, to: parsed.value },
      });
      await context.flash(request, "success", `${account.username} is now ${parsed.value}.`);
      return context.seeOther(reply, "/accounts");
    },
  );

  for (const [path, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    scope.post<{ Params: { id: string } }>(
      `/accounts/:id/${path}`,
      manage,
      async (request: AccountRequest, reply) => {
        const account = await loadAccount(request.params.id);
        if (disabled && account.id === signedIn(request).account.id) {
          await context.flash(request, "error", "You cannot disable your own account.");
          return context.seeOther(reply, "/accounts");
        }
        if (!(await keepsAnAdmin(account, { disabled }))) {
          await context.flash(
            request,
            "error",
            "This is the last enabled admin; make someone else admin first.",
          );
          return context.seeOther(reply, "/accounts");
        }
        await deps.accounts.setDisabled(account.id, disabled);
        // A disabled account is signed out everywhere at once, not at its sessions' expiry.
        if (disabled) await deps.sessions.deleteForAccount(account.id);
        await context.audit(request, {
          action: disabled ? "account.disable" : "account.enable",
          targetType: "account",
          targetId: account.id,
          summary: `${disabled ? "Disabled" : "Enabled"} account ${account.username}`,
        });
        await context.flash(
          request,
          "success",
          `${account.username} ${disabled ? "disabled and signed out" : "enabled"}.`,
        );
        return context.seeOther(reply, "/accounts");
      },
    );
  }

  scope.post<{ Params: { id: string } }>(
    "/accounts/:id/password",
    manage,
    async (request: AccountRequest, reply) => {
      const account = await loadAccount(request.params.id);
      const parsed = parsePasswordReset(formOf(request), account.username);
      if (!parsed.ok) {
        return listPage(request, reply, 400, { problems: parsed.problems, values: {}, resetFor: account.id });
      }
      await deps.accounts.setPasswordHash(account.id, await deps.hasher.hash(parsed.value));
      const self = signedIn(request);
      // Everyone holding the old password's sessions is signed out; an admin resetting their own keeps this one.
      await deps.sessions.deleteForAccount(
        account.id,
        account.id === self.account.id ? self.idHash : undefined,
      );
      await context.audit(request, {
        action: "account.password_reset",
        targetType: "account",
        targetId: account.id,
        summary: `Reset the password of ${account.username}`,
      });
      await context.flash(
        request,
        "success",
        `New password set for ${account.username}; their sessions were ended.`,
      );
      return context.seeOther(reply, "/accounts");
    },
  );

  // Everyone: their own password, with the current one as proof.
  const ownPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    problems?: FieldProblem[],
  ) =>
    context.send(
      reply,
      status,
      ownAccountView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        ...(problems ? { problems } : {}),
      }),
    );

  scope.get("/account", { preHandler: requireRole("viewer") }, async (request, reply) =>
    ownPage(request, reply, 200),
  );

  scope.post("/account/password", { preHandler: requireRole("viewer") }, async (request, reply) => {
    const session = signedIn(request);
    const form = formOf(request);
    const hash = await deps.accounts.passwordHash(session.account.id);
    if (hash === undefined || !(await deps.hasher.verify(form.currentPassword ?? "", hash))) {
      return ownPage(request, reply, 400, [
        { field: "currentPassword", reason: "is not your current password" },
      ]);
    }
    const parsed = parsePasswordReset(form, session.account.username);
    if (!parsed.ok) return ownPage(request, reply, 400, parsed.problems);
    await deps.accounts.setPasswordHash(session.account.id, await deps.hasher.hash(parsed.value));
    await deps.sessions.deleteForAccount(session.account.id, session.idHash);
    await context.audit(request, {
      action: "account.password_change",
      targetType: "account",
      targetId: session.account.id,
      summary: "Changed their own password",
    });
    await context.flash(
      request,
      "success",
      "Password changed. Other sessions of your account were signed out.",
    );
    return context.seeOther(reply, "/account");
  });
}
