import { isRole, ROLES, type Role } from "./account.ts";
import type { ParseResult } from "./org-input.ts";
import { passwordProblem } from "./password-policy.ts";
import type { FieldProblem } from "./validation-error.ts";

// Parsing of the account forms. Pure; every bad field is reported at once; no reason repeats a value.

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{1,63}$/;
const MAX_DISPLAY_NAME = 100;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export interface NewAccountInput {
  username: string;
  displayName: string | null;
  role: Role;
  password: string;
}

/** Usernames compare case-insensitively: stored and looked up lowercased and trimmed. */
export function normalizeUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

export function parseNewAccount(fields: Record<string, unknown>): ParseResult<NewAccountInput> {
  const problems: FieldProblem[] = [];
  const username = parseUsername(fields.username, problems);
  const displayName = parseDisplayName(fields.displayName, problems);
  const role = parseRole(fields.role, problems);
  const password = parseNewPassword(fields.password, fields.passwordConfirm, username ?? "", problems);
  if (problems.length > 0 || username === undefined || role === undefined || password === undefined) {
    return { ok: false, problems };
  }
  return { ok: true, value: { username, displayName, role, password } };
}

export function parseRoleChange(fields: Record<string, unknown>): ParseResult<Role> {
  const problems: FieldProblem[] = [];
  const role = parseRole(fields.role, problems);
  return role === undefined ? { ok: false, problems } : { ok: true, value: role };
}

export function parsePasswordReset(fields: Record<string, unknown>, username: string): ParseResult<string> {
  const problems: FieldProblem[] = [];
  const password = parseNewPassword(fields.password, fields.passwordConfirm, username, problems);
  return password === undefined ? { ok: false, problems } : { ok: true, value: password };
}

function parseUsername(raw: unknown, problems: FieldProblem[]): string | undefined {
  const username = typeof raw === "string" ? normalizeUsername(raw) : "";
  if (!USERNAME_PATTERN.test(username)) {
    problems.push({
      field: "username",
      reason:
        "must be 2 to 64 characters: letters, digits, dot, dash, underscore or @, starting with a letter or digit",
    });
    return undefined;
  }
  return username;
}

function parseDisplayName(raw: unknown, problems: FieldProblem[]): string | null {
  const name = typeof raw === "string" ? raw.trim() : "";
  if (name === "") return null;
  if (name.length > MAX_DISPLAY_NAME || CONTROL_CHARACTERS.test(name)) {
    problems.push({
      field: "displayName",
      reason: `must be at most ${MAX_DISPLAY_NAME} characters without line breaks or tabs`,
    });
    return null;
  }
  return name;
}

function parseRole(raw: unknown, problems: FieldProblem[]): Role | undefined {
  if (isRole(raw)) return raw;
  problems.push({ field: "role", reason: `must be one of ${ROLES.join(", ")}` });
  return undefined;
}

function parseNewPassword(
  raw: unknown,
  confirm: unknown,
  username: string,
  problems: FieldProblem[],
): string | undefined {
  // Passwords are taken exactly as typed: trimming would silently change a passphrase ending in a space.
  const password = typeof raw === "string" ? raw : "";
  const problem = passwordProblem(password, username);
  if (problem !== undefined) {
    problems.push({ field: "password", reason: problem });
    return undefined;
  }
  if (confirm !== undefined && confirm !== password) {
    problems.push({ field: "passwordConfirm", reason: "must repeat the password exactly" });
    return undefined;
  }
  return password;
}
