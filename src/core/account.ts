/**
 * A person who signs in to the web app. `admin` may do everything, `responder` works the board (acknowledge,
 * notes), `viewer` only reads. Plain value: the password hash never leaves the account store.
 */
export interface Account {
  id: string;
  /** Lowercase; what the person types to sign in. */
  username: string;
  displayName: string | null;
  role: Role;
  /** A disabled account cannot sign in and its sessions are ended. */
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
  passwordChangedAt: number;
}

export type Role = "admin" | "responder" | "viewer";

/** Strongest first. */
export const ROLES: readonly Role[] = ["admin", "responder", "viewer"];

export const ROLE_DESCRIPTIONS: Readonly<Record<Role, string>> = {
  admin: "everything: orgs, accounts, channels, policies, the audit log",
  responder: "the board: acknowledge emergencies and add notes",
  viewer: "read only",
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
