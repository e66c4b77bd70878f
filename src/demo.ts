import path from "node:path";
import { parseArgs } from "node:util";
import { createEmulator, loadOrCreateLocalCa, type Emulator } from "../emulator/index.ts";
import { loadConfig } from "./config.ts";
import { startRelay } from "./main.ts";

/** Calls the emulator's control API in-process (fastify inject), failing loudly on errors. */
async function control<T>(
  emulator: Emulator,
  method: "POST" | "PATCH" | "GET",
  url: string,
  payload?: object,
): Promise<T> {
  const res = await emulator.app.inject({ method, url, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`emulator ${method} ${url} -> ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

/**
 * `demo`: the relay against a local Microsoft 365 emulator with a seeded tenant (Contoso), embedded SQLite,
 * and one simulated 933 test call so there is something to see.
 */
export async function runDemo(
  args: string[],
  closeOnSignal: (close: () => Promise<void>) => void,
): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      "emulator-port": { type: "string", default: "8443" },
      "data-dir": { type: "string", default: "./.data/demo" },
      exit: { type: "boolean", default: false },
    },
  });
  const dataDir = path.resolve(values["data-dir"]);
  const tls = await loadOrCreateLocalCa(path.join(dataDir, "emulator-tls"));
  const emulator = await createEmulator({ tls, port: Number(values["emulator-port"]) });
  const publicUrl = `http://localhost:${values.port}`;

  const { tenantId, domain } = await control<{ tenantId: string; domain: string }>(
    emulator,
    "POST",
    "/_emulator/tenants",
    {
      displayName: "Contoso",
    },
  );
  const orgId = "demo";
  const redirectUri = `${publicUrl}/api/org/${orgId}/ms-teams/callback`;
  const app = await control<{ clientId: string; clientSecret: string; secretExpiresAt: string }>(
    emulator,
    "POST",
    `/_emulator/tenants/${tenantId}/apps`,
    { displayName: "Teams Emergency Relay", redirectUris: [redirectUri] },
  );
  const user = (displayName: string, name: string) =>
    control<{ id: string }>(emulator, "POST", `/_emulator/tenants/${tenantId}/users`, {
      displayName,
      userPrincipalName: `${name}@${domain}`,
    });
  const serviceUser = await user("Emergency Relay Service", "emergency-relay");
  const desk = await user("Security Desk", "security-desk");
  const caller = await user("Pat Jones", "pat.jones");

  const relay = await startRelay(
    loadConfig({
      ...process.env,
      RELAY_DATA_DIR: dataDir,
      RELAY_HOST: "127.0.0.1",
      RELAY_PORT: values.port,
      RELAY_PUBLIC_URL: publicUrl,
      RELAY_LOGIN_BASE_URL: emulator.url,
      RELAY_GRAPH_BASE_URL: emulator.url,
      RELAY_JWKS_URL: `${emulator.url}/common/discovery/v2.0/keys`,
      RELAY_MICROSOFT_CA_FILE: tls.files.caCert,
      RELAY_LOG_LEVEL: process.env.RELAY_LOG_LEVEL ?? "warn",
    }),
  );

  const call = await control<{
    callId: string;
    messages: { userId: string; chatId: string; messageId: string }[];
  }>(emulator, "POST", `/_emulator/tenants/${tenantId}/emergency-calls`, {
    callerId: caller.id,
    dialString: "933",
    notify: [serviceUser.id, desk.id],
    location: {
      kind: "dynamic",
      place: "Building 4, Floor 2, Room 210",
      address: "1 Microsoft Way, Redmond, WA 98052",
    },
  });
  const cacert = tls.files.caCert;
  console.log(`
Teams Emergency Relay demo
  relay:          ${relay.url}  (health: ${relay.url}/healthz, ${relay.url}/readyz, ${relay.url}/metrics)
  data directory: ${dataDir} (embedded SQLite)
  emulator:       ${emulator.url}  (CA: ${cacert})

Seeded Microsoft 365 tenant "Contoso" (${tenantId}):
  app registration  client id ${app.clientId}, secret expires ${app.secretExpiresAt}
                    redirect URI ${redirectUri}
  service user      emergency-relay@${domain} (${serviceUser.id})
  security desk     security-desk@${domain}
  caller            pat.jones@${domain}

A 933 test call was placed: ${call.messages.length} security-desk chat messages were posted (call ${call.callId}).
Place another emergency call:
  curl --cacert ${cacert} -X POST ${emulator.url}/_emulator/tenants/${tenantId}/emergency-calls \\
    -H 'content-type: application/json' \\
    -d '{"callerId":"${caller.id}","dialString":"911","notify":["${serviceUser.id}"],"location":{"kind":"unknown"}}'
See everything the emulator holds: curl --cacert ${cacert} ${emulator.url}/_emulator/state

Not yet in this version: connecting the service user, subscriptions and alerts (the next issues add them);
no admin credentials are created yet.
`);
  const close = async () => {
    await relay.close();
    await emulator.close();
  };
  if (values.exit) {
    await close();
    return;
  }
  console.log("Press Ctrl-C to stop.");
  closeOnSignal(close);
}
