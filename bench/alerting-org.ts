// The admin's setup that the alerting benchmarks share: an emulated tenant with a service user and a caller, an org
// with its app registration, the service user connected through the real OAuth flow, one webhook channel pointing at
// the benchmark's receiver and one policy, then a wait until Graph's subscription is active.
import http from "node:http";
import type { Emulator } from "../emulator/index.ts";

/** The relay's admin API (bearer token), answering the parsed JSON body or throwing on a non-2xx status. */
export type AdminApi = <T>(method: string, url: string, body?: object) => Promise<T>;
/** A POST to the emulator's control API. */
export type EmulatorControl = <T>(url: string, payload: object) => Promise<T>;

export interface AlertingOrg {
  tenantId: string;
  orgId: string;
  serviceUserId: string;
  callerId: string;
}

export async function setUpAlertingOrg(options: {
  name: string;
  api: AdminApi;
  control: EmulatorControl;
  emulator: Pick<Emulator, "url" | "app">;
  receiverUrl: string;
}): Promise<AlertingOrg> {
  const { api, control, emulator } = options;
  const { tenantId, domain } = await control<{ tenantId: string; domain: string }>("/_emulator/tenants", {
    displayName: options.name,
  });
  const user = (name: string) =>
    control<{ id: string }>(`/_emulator/tenants/${tenantId}/users`, {
      displayName: name,
      userPrincipalName: `${name.toLowerCase().replace(/ /g, ".")}@${domain}`,
    });
  const serviceUser = await user("Emergency Relay");
  const caller = await user("Pat Jones");
  const org = await api<{ id: string; redirectUri: string }>("POST", "/api/orgs", { name: options.name });
  const app = await control<{ clientId: string; clientSecret: string }>(
    `/_emulator/tenants/${tenantId}/apps`,
    {
      displayName: "Relay",
      redirectUris: [org.redirectUri],
    },
  );
  await api("PATCH", `/api/orgs/${org.id}`, {
    tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    expectedServiceUserUpn: `emergency.relay@${domain}`,
  });
  const { authorizeUrl } = await api<{ authorizeUrl: string }>(
    "GET",
    `/api/org/${org.id}/ms-teams/connect?format=json`,
  );
  const signIn = await emulator.app.inject({ method: "GET", url: authorizeUrl.slice(emulator.url.length) });
  if ((await fetch(String(signIn.headers.location))).status !== 200) throw new Error("connect failed");
  const channel = await api<{ id: string }>("POST", `/api/org/${org.id}/channels`, {
    type: "webhook",
    name: "Receiver",
    url: `${options.receiverUrl}/alerts`,
  });
  await api("POST", `/api/org/${org.id}/policies`, {
    name: "Desk",
    callType: "any",
    tiers: [{ channelIds: [channel.id] }],
  });
  for (let i = 0; ; i++) {
    const status = await api<{ subscriptions?: { state: string }[] }>(
      "GET",
      `/api/org/${org.id}/ms-teams/status`,
    );
    if (status.subscriptions?.some((s) => s.state === "active")) break;
    if (i > 300) throw new Error("no subscription");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { tenantId, orgId: org.id, serviceUserId: serviceUser.id, callerId: caller.id };
}

/**
 * The stand-in for the desk's webhook receiver: records when each alert's FIRST request arrived (by the call's chat
 * message id) and calls the waiter registered for that id.
 */
export async function startAlertReceiver(): Promise<{
  url: string;
  server: http.Server;
  firstRequestAt: Map<string, number>;
  waiting: Map<string, () => void>;
}> {
  const firstRequestAt = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const messageId = JSON.parse(Buffer.concat(chunks).toString("utf8")).data?.emergency
        ?.messageId as string;
      if (!firstRequestAt.has(messageId)) firstRequestAt.set(messageId, at);
      waiting.get(messageId)?.();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, server, firstRequestAt, waiting };
}

/**
 * Places `count` emergency calls one at a time and returns, for each, the milliseconds from its notification's
 * arrival at the relay (`arrivals`: one entry per call, appended by the caller's hook on the webhook or the load
 * balancer) to the first alert request at `receiver`.
 */
export async function timeEmergencyCalls(options: {
  count: number;
  control: EmulatorControl;
  tenantId: string;
  callerId: string;
  serviceUserId: string;
  arrivals: readonly number[];
  receiver: Pick<Awaited<ReturnType<typeof startAlertReceiver>>, "firstRequestAt" | "waiting">;
  /** Names the setup in errors. */
  label: string;
}): Promise<number[]> {
  const { control, arrivals, receiver, label } = options;
  const latencies: number[] = [];
  for (let i = 0; i < options.count; i++) {
    const before = arrivals.length;
    const call = await control<{ messages: { messageId: string }[] }>(
      `/_emulator/tenants/${options.tenantId}/emergency-calls`,
      {
        callerId: options.callerId,
        dialString: i % 10 === 0 ? "933" : "911",
        notify: [options.serviceUserId],
        location: {
          kind: "dynamic",
          place: `Building ${i % 7}, Floor 2`,
          address: "1 Main Street, Springfield",
        },
      },
    );
    const messageId = call.messages[0]!.messageId;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}, call ${i}: no alert within 10 s`)), 10_000);
      receiver.waiting.set(messageId, () => {
        clearTimeout(timer);
        resolve();
      });
      if (receiver.firstRequestAt.has(messageId)) receiver.waiting.get(messageId)!();
    });
    receiver.waiting.delete(messageId);
    const arrival = arrivals[before];
    if (arrival === undefined) throw new Error(`${label}, call ${i}: alert without a notification`);
    latencies.push(receiver.firstRequestAt.get(messageId)! - arrival);
  }
  return latencies;
}
