import { createEmulator, type Emulator, type EmulatorOptions } from "../../emulator/index.ts";
import { httpRequest } from "./http-request.ts";

export interface Org {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  serviceUser: { id: string; userPrincipalName: string };
  caller: { id: string; userPrincipalName: string };
}

/** Calls the emulator's control API over real HTTP and fails loudly on an unexpected status. */
export async function control<T = any>(
  emu: Emulator,
  method: string,
  path: string,
  body?: object,
  expected = [200, 201, 202, 204],
): Promise<T> {
  const res = await httpRequest(`${emu.url}${path}`, { method, ...(body ? { body } : {}), ca: emu.caPem });
  if (!expected.includes(res.status)) throw new Error(`${method} ${path} -> ${res.status} ${res.text}`);
  return (res.text ? res.json() : undefined) as T;
}

/** A tenant with an app registration, a service user and a caller: what one organization brings. */
export async function seedOrg(
  emu: Emulator,
  redirectUri = "https://relay.example.test/api/org/org-1/ms-teams/callback",
): Promise<Org> {
  const { tenantId } = await control(emu, "POST", "/_emulator/tenants", { displayName: "Contoso" });
  const app = await control(emu, "POST", `/_emulator/tenants/${tenantId}/apps`, {
    displayName: "Teams Emergency Relay",
    redirectUris: [redirectUri],
  });
  const serviceUser = await control(emu, "POST", `/_emulator/tenants/${tenantId}/users`, {
    displayName: "Emergency Relay Service",
    userPrincipalName: `relay-${tenantId.slice(0, 8)}@contoso.example`,
  });
  const caller = await control(emu, "POST", `/_emulator/tenants/${tenantId}/users`, {
    displayName: "Pat Caller",
    userPrincipalName: `pat-${tenantId.slice(0, 8)}@contoso.example`,
  });
  return {
    tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUri,
    serviceUser,
    caller,
  };
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return createEmulator({ pumpIntervalMs: 20, ...options });
}
