import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { Emulator } from "../../emulator/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startRelay, type RelayOptions, type RunningRelay } from "../../src/main.ts";
import { control } from "./emulator-setup.ts";
import type { FakeClock } from "./fake-clock.ts";
import { httpRequest, type HttpResponse } from "./http-request.ts";

export interface TestRelay {
  relay: RunningRelay;
  url: string;
  adminToken: string;
  dataDir: string;
  /** The RELAY_* environment the relay was configured from (for running the CLI against it). */
  env: Record<string, string>;
  /** Every log line the relay wrote. */
  logs: string[];
  api(method: string, path: string, body?: object, token?: string | null): Promise<HttpResponse>;
  /** Stops this relay and starts a new one on the same data directory, port and admin token (a restart). */
  restart(): Promise<TestRelay>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The relay in-process on embedded SQLite, pointed at the emulator, with jobs run only when the test says so. */
export async function startTestRelay(
  emu: Emulator,
  clock: FakeClock,
  env: Record<string, string> = {},
  reuse?: { dataDir: string; port: number; adminToken: string },
  /** Further options for `startRelay` (the board's poll and heartbeat). */
  extra: Pick<RelayOptions, "board"> = {},
): Promise<TestRelay> {
  // tmpfs when there is one: these tests check behaviour, and fsync on a real disk dominates their run time.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dataDir = reuse?.dataDir ?? (await mkdtemp(path.join(base, "relay-e2e-")));
  const caFile = path.join(dataDir, "emulator-ca.pem");
  await writeFile(caFile, emu.caPem!);
  const port = reuse?.port ?? (await freePort());
  const adminToken = reuse?.adminToken ?? randomBytes(32).toString("base64url");
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString("utf8"));
      callback();
    },
  });
  const relayEnv: Record<string, string> = {
    RELAY_DATA_DIR: dataDir,
    RELAY_HOST: "127.0.0.1",
    RELAY_PORT: String(port),
    RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    RELAY_ADMIN_TOKEN: adminToken,
    RELAY_LOGIN_BASE_URL: emu.url,
    RELAY_GRAPH_BASE_URL: emu.url,
    RELAY_JWKS_URL: `${emu.url}/common/discovery/v2.0/keys`,
    RELAY_MICROSOFT_CA_FILE: caFile,
    RELAY_MICROSOFT_TIMEOUT_MS: "1500",
    RELAY_LOG_LEVEL: "debug",
    ...env,
  };
  const relay = await startRelay(loadConfig(relayEnv), {
    clock,
    jobIntervalMs: false,
    logDestination,
    ...extra,
  });
  return {
    relay,
    url: relay.url,
    adminToken,
    dataDir,
    env: relayEnv,
    logs,
    api: (method, p, body, token = adminToken) =>
      httpRequest(`${relay.url}${p}`, {
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(body ? { body } : {}),
      }),
    async restart() {
      await relay.close();
      return startTestRelay(emu, clock, env, { dataDir, port, adminToken }, extra);
    },
    async close() {
      await relay.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TenantSetup {
  tenantId: string;
  domain: string;
  serviceUser: { id: string; userPrincipalName: string };
  otherUser: { id: string; userPrincipalName: string };
}

export async function seedTenant(emu: Emulator, name = "Contoso"): Promise<TenantSetup> {
  const { tenantId, domain } = await control(emu, "POST", "/_emulator/tenants", { displayName: name });
  const serviceUpn = `emergency-relay@${domain}`;
  const serviceUser = await control(emu, "POST", `/_emulator/tenants/${tenantId}/users`, {
    displayName: "Emergency Relay Service",
    userPrincipalName: serviceUpn,
  });
  const otherUpn = `someone.else@${domain}`;
  const otherUser = await control(emu, "POST", `/_emulator/tenants/${tenantId}/users`, {
    displayName: "Someone Else",
    userPrincipalName: otherUpn,
  });
  return {
    tenantId,
    domain,
    serviceUser: { id: serviceUser.id, userPrincipalName: serviceUpn },
    otherUser: { id: otherUser.id, userPrincipalName: otherUpn },
  };
}

/** The admin's setup in the real order: create the org, register the app with its redirect URI, enter the values. */
export async function createOrgWithApp(
  emu: Emulator,
  relay: TestRelay,
  tenant: TenantSetup,
  options: { signInAudience?: string; secretExpiresAt?: string } = {},
): Promise<{ orgId: string; clientId: string; clientSecret: string; redirectUri: string }> {
  const created = await relay.api("POST", "/api/orgs", {
    name: "Contoso",
    expectedServiceUserUpn: tenant.serviceUser.userPrincipalName,
  });
  if (created.status !== 201) throw new Error(`create org -> ${created.status} ${created.text}`);
  const { id: orgId, redirectUri } = created.json();
  const app = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/apps`, {
    displayName: "Teams Emergency Relay",
    redirectUris: [redirectUri],
    ...(options.signInAudience ? { signInAudience: options.signInAudience } : {}),
    ...(options.secretExpiresAt ? { secretExpiresAt: options.secretExpiresAt } : {}),
  });
  const patched = await relay.api("PATCH", `/api/orgs/${orgId}`, {
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    clientSecretExpiresAt: app.secretExpiresAt,
  });
  if (patched.status !== 200) throw new Error(`patch org -> ${patched.status} ${patched.text}`);
  return { orgId, clientId: app.clientId, clientSecret: app.clientSecret, redirectUri };
}

/** Starts a connect on the relay and returns the authorize URL it redirected to. */
export async function startConnect(relay: TestRelay, orgId: string, query = ""): Promise<URL> {
  const res = await relay.api("GET", `/api/org/${orgId}/ms-teams/connect${query}`);
  if (res.status !== 302) throw new Error(`connect -> ${res.status} ${res.text}`);
  return new URL(String(res.headers.location));
}

/** The browser's part: the emulator's authorize endpoint, then Microsoft's redirect to the relay's callback. */
export async function followSignIn(
  emu: Emulator,
  authorizeUrl: URL,
): Promise<{ callbackUrl: string; page: HttpResponse }> {
  const signIn = await httpRequest(authorizeUrl.toString(), { ca: emu.caPem });
  if (signIn.status !== 302) throw new Error(`authorize -> ${signIn.status} ${signIn.text.slice(0, 300)}`);
  const callbackUrl = String(signIn.headers.location);
  return { callbackUrl, page: await httpRequest(callbackUrl) };
}

export async function connectOrg(
  emu: Emulator,
  relay: TestRelay,
  orgId: string,
  query = "",
): Promise<HttpResponse> {
  const { page } = await followSignIn(emu, await startConnect(relay, orgId, query));
  return page;
}

/** Moves the shared clock to each due job in turn and runs it, until `until`. Returns how many jobs ran. */
export async function runJobsUntil(
  relay: TestRelay,
  clock: FakeClock,
  until: number,
  onStep?: (now: number) => Promise<void>,
): Promise<number> {
  let ran = 0;
  for (;;) {
    const next = await relay.relay.nextJobAt();
    if (next === undefined || next > until) break;
    if (next > clock.now()) clock.set(next);
    if (onStep) await onStep(clock.now());
    ran += await relay.relay.scheduler.runDue();
  }
  if (clock.now() < until) clock.set(until);
  return ran;
}
