import type { AppRegistration, EmulatorState, Tenant } from "../emulator-state.ts";

const MULTI_TENANT_SEGMENTS = new Set(["common", "organizations"]);

/** `{tenant}` may be a tenant id, a verified domain, `common` or `organizations` (v2-oauth2-auth-code-flow). */
export function resolveTenant(state: EmulatorState, segment: string): Tenant | "multi" | undefined {
  if (MULTI_TENANT_SEGMENTS.has(segment.toLowerCase())) return "multi";
  const lower = segment.toLowerCase();
  return (
    state.tenants.get(lower) ?? [...state.tenants.values()].find((t) => t.domain.toLowerCase() === lower)
  );
}

export function findAppForTenantSegment(
  state: EmulatorState,
  segment: string,
  clientId: string,
): AppRegistration | undefined | "unknown-tenant" {
  const tenant = resolveTenant(state, segment);
  if (!tenant) return "unknown-tenant";
  const app = state.apps.get(clientId.toLowerCase());
  if (!app) return undefined;
  return tenant === "multi" || app.multiTenant || app.tenantId === tenant.id ? app : undefined;
}
