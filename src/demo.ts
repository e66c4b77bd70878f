import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createEmulator, loadOrCreateLocalCa, type Emulator } from "../emulator/index.ts";
import { loadConfig } from "./config.ts";
import { startDemoWebhookReceiver, type ReceivedAlert } from "./demo-webhook-receiver.ts";
import { startRelay } from "./main.ts";

/** Calls the emulator's control API in-process (fastify inject), failing loudly on errors. */
async function emulatorCall<T>(
  emulator: Emulator,
  method: "POST" | "GET" | "PATCH",
  url: string,
  payload?: object,
): Promise<T> {
  const res = await emulator.app.inject({ method, url, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`emulator ${method} ${url} -> ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

async function relayCall<T>(
  relayUrl: string,
  adminToken: string,
  method: string,
  url: string,
  body?: object,
): Promise<T> {
  const res = await fetch(`${relayUrl}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`relay ${method} ${url} -> ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function freePort(requested: string): Promise<number> {
  const port = Number(requested);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`port must be 0-65535, got ${requested}`);
  if (port !== 0) return port;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const free = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

/**
 * `demo`: the relay and the Microsoft 365 emulator wired together on embedded SQLite, a seeded tenant, and the org
 * created and connected through the real flow (admin API -> app registration -> connect -> Microsoft sign-in -> callback).
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
      "data-dir": { type: "string" },
      json: { type: "boolean", default: false },
      exit: { type: "boolean", default: false },
    },
  });
  const dataDir = values["data-dir"]
    ? path.resolve(values["data-dir"])
    : await mkdtemp(path.join(tmpdir(), "relay-demo-"));
  const tls = await loadOrCreateLocalCa(path.join(dataDir, "emulator-tls"));
  // The demo relay listens on plain http on loopback; real Graph only calls https webhooks.
  const emulator = await createEmulator({
    tls,
    port: await freePort(values["emulator-port"]),
    allowHttpWebhooks: true,
  });
  const port = await freePort(values.port);
  const relayBase = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(32).toString("base64url");

  const { tenantId, domain } = await emulatorCall<{ tenantId: string; domain: string }>(
    emulator,
    "POST",
    "/_emulator/tenants",
    {
      displayName: "Contoso",
    },
  );
  const user = (displayName: string, name: string) =>
    emulatorCall<{ id: string }>(emulator, "POST", `/_emulator/tenants/${tenantId}/users`, {
      displayName,
      userPrincipalName: `${name}@${domain}`,
    });
  const serviceUser = await user("Emergency Relay Service", "emergency-relay");
  const notify = [await user("Security Desk", "security-desk"), await user("Facilities Lead", "facilities")];
  const callers = [await user("Pat Jones", "pat.jones"), await user("Sam Lee", "sam.lee")];

  const relay = await startRelay(
    loadConfig({
      ...process.env,
      RELAY_DATA_DIR: dataDir,
      RELAY_HOST: "127.0.0.1",
      RELAY_PORT: String(port),
      RELAY_PUBLIC_URL: relayBase,
      RELAY_ADMIN_TOKEN: adminToken,
      RELAY_LOGIN_BASE_URL: emulator.url,
      RELAY_GRAPH_BASE_URL: emulator.url,
      RELAY_JWKS_URL: `${emulator.url}/common/discovery/v2.0/keys`,
      RELAY_MICROSOFT_CA_FILE: tls.files.caCert,
      RELAY_LOG_LEVEL: process.env.RELAY_LOG_LEVEL ?? "warn",
      // The demo's receiver listens on loopback, which production refuses (SSRF protection).
      RELAY_ALLOW_PRIVATE_TARGETS: "true",
    }),
    // Logs go to stderr so stdout carries only the summary (one JSON line with --json).
    { logDestination: process.stderr },
  );

  // The real setup order: create the org, register the app with its redirect URI, enter the app's values, connect.
  const org = await relayCall<{ id: string; redirectUri: string }>(
    relay.url,
    adminToken,
    "POST",
    "/api/orgs",
    { name: "Contoso" },
  );
  const secretExpiresAt = new Date(Date.now() + 180 * 86_400_000).toISOString();
  const registration = await emulatorCall<{ clientId: string; clientSecret: string }>(
    emulator,
    "POST",
    `/_emulator/tenants/${tenantId}/apps`,
    {
      displayName: "Teams Emergency Relay",
      redirectUris: [org.redirectUri],
      secretExpiresAt,
    },
  );
  await relayCall(relay.url, adminToken, "PATCH", `/api/orgs/${org.id}`, {
    tenantId,
    clientId: registration.clientId,
    clientSecret: registration.clientSecret,
    clientSecretExpiresAt: secretExpiresAt,
    expectedServiceUserUpn: `emergency-relay@${domain}`,
  });
  const { authorizeUrl } = await relayCall<{ authorizeUrl: string }>(
    relay.url,
    adminToken,
    "GET",
    `/api/org/${org.id}/ms-teams/connect?format=json`,
  );
  // The browser's part: the emulator signs the hinted user in at once and redirects to the relay's callback.
  const signIn = await emulator.app.inject({ method: "GET", url: authorizeUrl.slice(emulator.url.length) });
  const callback = await fetch(String(signIn.headers.location));
  if (callback.status !== 200) throw new Error(`connect failed: ${callback.status} ${await callback.text()}`);
  const status = await relayCall<{ connection: { state: string } }>(
    relay.url,
    adminToken,
    "GET",
    `/api/org/${org.id}/ms-teams/status`,
  );

  // --- Alerting: a local receiver stands in for the desk's systems; two webhook channels on it, a policy with
  // escalation for real calls and one for drills (933), then a simulated call through the emulator. ---
  const receiver = await startDemoWebhookReceiver((received) => {
    if (!values.json) printAlert(received);
  });
  const api = <T>(method: string, url: string, body?: object) =>
    relayCall<T>(relay.url, adminToken, method, url, body);
  const channel = (name: string, receiverPath: string) =>
    api<{ id: string }>("POST", `/api/org/${org.id}/channels`, {
      type: "webhook",
      name,
      url: `${receiver.url}/${receiverPath}`,
    });
  const desk = await channel("Security desk (demo receiver)", "security-desk");
  const facilities = await channel("Facilities lead (demo receiver)", "facilities");
  await api("POST", `/api/org/${org.id}/policies`, {
    name: "Security desk",
    callType: "real",
    tiers: [
      { channelIds: [desk.id], repeat: { everySeconds: 60, times: 2 } },
      { afterSeconds: 120, channelIds: [facilities.id] },
    ],
  });
  await api("POST", `/api/org/${org.id}/policies`, {
    name: "Drills",
    callType: "test",
    tiers: [{ channelIds: [desk.id] }],
  });
  await waitForSubscription(() =>
    api<{ subscriptions?: { state: string }[] }>("GET", `/api/org/${org.id}/ms-teams/status`),
  );

  const locations = [
    { kind: "dynamic", place: "Building 4, Floor 2", address: "1 Microsoft Way, Redmond, WA 98052" },
    { kind: "user", address: "12 Elm Street, Springfield" },
    { kind: "unknown" },
  ];
  let calls = 0;
  /** One call through the emulator, as Teams would report it; resolves with the alert the desk received. */
  const placeCall = async (dialString: "911" | "933" | "112") => {
    const call = await emulatorCall<{ messages: { userId: string; messageId: string }[] }>(
      emulator,
      "POST",
      `/_emulator/tenants/${tenantId}/emergency-calls`,
      {
        callerId: callers[calls % callers.length]!.id,
        dialString,
        notify: [serviceUser.id, notify[0]!.id],
        location: locations[calls++ % locations.length],
      },
    );
    const messageId = call.messages.find((m) => m.userId === serviceUser.id)?.messageId;
    return receiver.waitFor((r) => r.alert.emergency?.messageId === messageId, 30_000);
  };
  const first = await placeCall("911");
  const emergencyId = first.alert.emergencyId!;
  const detail = await waitForDeliveries(() =>
    api<{ state: string; deliveries: { channel: { name: string }; status: string; attempts: number }[] }>(
      "GET",
      `/api/emergencies/${emergencyId}`,
    ),
  );

  const summary = {
    relayUrl: relay.url,
    emulatorUrl: emulator.url,
    caFile: tls.files.caCert,
    adminToken,
    orgId: org.id,
    tenantId,
    serviceUserId: serviceUser.id,
    callerIds: callers.map((c) => c.id),
    notifyUserIds: notify.map((n) => n.id),
    dataDir,
    receiverUrl: receiver.url,
    // Created on the first start with this data directory only; a reused directory keeps its accounts.
    webApp: {
      url: `${relay.url}/login`,
      username: relay.firstAdmin?.username ?? null,
      password: relay.firstAdmin?.password ?? null,
    },
    emergency: {
      id: emergencyId,
      state: detail.state,
      ackUrl: first.alert.acknowledgeUrl,
      deliveries: detail.deliveries.map((d) => ({
        channel: d.channel.name,
        status: d.status,
        attempts: d.attempts,
      })),
    },
  };
  const curlCall = (
    dialString: string,
  ) => `  curl --cacert ${tls.files.caCert} -X POST ${emulator.url}/_emulator/tenants/${tenantId}/emergency-calls \\
    -H 'content-type: application/json' \\
    -d '{"callerId":"${callers[1]!.id}","dialString":"${dialString}","notify":["${serviceUser.id}"],"location":{"kind":"dynamic","place":"Building 7, Lobby","address":"2 Main Street, Springfield"}}'`;
  const interactive = !values.exit && !values.json && process.stdin.isTTY === true;
  if (values.json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log(`
Teams Emergency Relay demo
  relay:          ${relay.url}  (health: /healthz, /readyz, /metrics)
  admin token:    ${adminToken}
  board:          ${relay.url}/board  (sign in first)
  web app:        ${summary.webApp.url}  ${summary.webApp.password ? `(sign in as "${summary.webApp.username}" with ${summary.webApp.password})` : "(accounts from an earlier run of this data directory)"}
  data directory: ${dataDir} (embedded SQLite)
  emulator:       ${emulator.url}  (CA: ${tls.files.caCert})
  receiver:       ${receiver.url}  (stands in for the desk's systems: two webhook channels post here)

Org "Contoso" (${org.id}) is ${status.connection.state} as emergency-relay@${domain} in tenant ${tenantId}.
  status:  curl -H 'authorization: Bearer ${adminToken}' ${relay.url}/api/org/${org.id}/ms-teams/status

A simulated 911 call was placed and alerted (above). Emergency ${emergencyId} is ${detail.state}:
${summary.emergency.deliveries.map((d) => `  ${d.channel}: ${d.status} after ${d.attempts} attempt(s)`).join("\n")}
  record:  curl -H 'authorization: Bearer ${adminToken}' ${relay.url}/api/emergencies/${emergencyId}

Acknowledge it: open this link in a browser (the page asks first; only its button acknowledges):
  ${first.alert.acknowledgeUrl}
Unacknowledged, the desk is reminded every 60 s (twice) and the facilities lead is alerted after 120 s.

More calls: ${interactive ? "press Enter for another one, or " : ""}place one in the emulator (933 goes to the "Drills" policy only):
${curlCall("911")}
${curlCall("933")}
`);
  }
  const close = async () => {
    await relay.close();
    await receiver.close();
    await emulator.close();
  };
  if (values.exit) {
    await close();
    return;
  }
  if (!values.json) console.log("Press Ctrl-C to stop.");
  if (interactive) {
    const dialStrings = ["933", "911", "112"] as const;
    const lines = createInterface({ input: process.stdin });
    lines.on("line", () => {
      const dialString = dialStrings[(calls - 1) % dialStrings.length]!;
      console.log(`Placing a ${dialString} call...`);
      placeCall(dialString).catch((error: unknown) => console.error(String(error)));
    });
  }
  closeOnSignal(close);
}

function printAlert(received: ReceivedAlert): void {
  const { alert } = received;
  const lines = [
    "",
    `>>> ${new Date().toISOString().slice(11, 19)} alert at the demo receiver ${received.path} (webhook-id ${received.webhookId}):`,
    `    ${alert.title}`,
    ...alert.fields.map((f) => `    ${f.label}: ${f.value}`),
    ...(alert.acknowledgeUrl ? [`    Acknowledge: ${alert.acknowledgeUrl}`] : []),
  ];
  console.log(lines.join("\n"));
}

/** Connecting schedules the Graph subscription as a job; the first call must wait until it exists. */
async function waitForSubscription(
  status: () => Promise<{ subscriptions?: { state: string }[] }>,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await status()).subscriptions?.some((s) => s.state === "active")) return;
    await sleep(200);
  }
  throw new Error("the Graph subscription was not created within 30 s; see the log on stderr");
}

/** The receiver has the alert; the relay records the outcome a moment later. */
async function waitForDeliveries<T extends { deliveries: { status: string }[] }>(
  read: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const detail = await read();
    if (detail.deliveries.every((d) => d.status !== "pending") || Date.now() > deadline) return detail;
    await sleep(100);
  }
}
