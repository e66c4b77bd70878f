import type { Role } from "./account.ts";

/** What a web-app action needs. Routes and views ask `can()`, never compare role names themselves. */
export type Permission =
  | "board.read"
  | "emergencies.acknowledge"
  | "emergencies.note"
  | "orgs.read"
  | "orgs.manage"
  | "alerting.read"
  | "alerting.manage"
  | "accounts.manage"
  | "audit.read";

const READ: readonly Permission[] = ["board.read", "orgs.read", "alerting.read"];
const RESPOND: readonly Permission[] = [...READ, "emergencies.acknowledge", "emergencies.note"];

const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(READ),
  responder: new Set(RESPOND),
  admin: new Set<Permission>([...RESPOND, "orgs.manage", "alerting.manage", "accounts.manage", "audit.read"]),
};

const RANK: Readonly<Record<Role, number>> = { viewer: 0, responder: 1, admin: 2 };

export function can(role: Role, permission: Permission): boolean {
  return PERMISSIONS[role].has(permission);
}

/** Roles are ordered: admin includes responder, which includes viewer. */
export function hasRole(actual: Role, required: Role): boolean {
  return RANK[actual] >= RANK[required];
}
