import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  normalizeUsername,
  parseNewAccount,
  parsePasswordReset,
  parseRoleChange,
} from "../../src/core/account-input.ts";
import { passwordProblem } from "../../src/core/password-policy.ts";

const GOOD = "correct horse battery staple";

describe("password policy", () => {
  it("accepts a long passphrase", () => {
    assert.equal(passwordProblem(GOOD, "pat"), undefined);
  });

  it("refuses short, repetitive, common or username-containing passwords", () => {
    for (const [password, reason] of [
      ["short1!", /12 to 256/],
      ["a".repeat(300), /12 to 256/],
      ["aaaaaaaaaaaaaaaa", /different characters/],
      ["Password123!", /too common/],
      ["pat.jones-is-great", /username/],
    ] as const) {
      assert.match(passwordProblem(password, "pat.jones") ?? "", reason, password);
    }
  });

  it("never repeats the password in its reason", () => {
    const secret = "hunter2-short";
    assert.doesNotMatch(passwordProblem(secret.slice(0, 8), "x") ?? "", /hunter/);
  });
});

describe("account input", () => {
  it("parses a new account, normalising the username", () => {
    const result = parseNewAccount({
      username: "  Pat.Jones@Contoso ",
      displayName: " Pat Jones ",
      role: "responder",
      password: GOOD,
      passwordConfirm: GOOD,
    });
    assert.deepEqual(result, {
      ok: true,
      value: { username: "pat.jones@contoso", displayName: "Pat Jones", role: "responder", password: GOOD },
    });
  });

  it("names every bad field at once", () => {
    const result = parseNewAccount({ username: "-x", displayName: "a\nb", role: "root", password: "short" });
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.problems.map((p) => p.field).sort(), [
      "displayName",
      "password",
      "role",
      "username",
    ]);
  });

  it("requires the confirmation to match", () => {
    const result = parsePasswordReset({ password: GOOD, passwordConfirm: `${GOOD} ` }, "pat");
    assert.deepEqual(result.ok ? [] : result.problems.map((p) => p.field), ["passwordConfirm"]);
  });

  it("parses roles strictly", () => {
    assert.deepEqual(parseRoleChange({ role: "viewer" }), { ok: true, value: "viewer" });
    assert.equal(parseRoleChange({ role: "Admin" }).ok, false);
    assert.equal(normalizeUsername(" ADMIN "), "admin");
  });
});
