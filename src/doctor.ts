import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import path from "node:path";
import { sql } from "kysely";
import { loadConfig, type Config } from "./config.ts";
import { systemClock } from "./core/clock.ts";
import { ConfigError } from "./core/errors.ts";
import type { Org } from "./core/org.ts";
import { webhookUrls } from "./core/subscription-policy.ts";
import { probeEndpoint } from "./microsoft/probe-endpoint.ts";
import { trustedContext } from "./microsoft/trusted-context.ts";
import { ConnectionStore } from "./storage/connection-store.ts";
import { ENCRYPTION_KEY_FILE, loadOrCreateEncryptionKey } from "./storage/encryption-key.ts";
import { openDatabase } from "./storage/open-database.ts";
import { OrgStore } from "./storage/org-store.ts";
import { createSecretBox } from "./storage/secret-box.ts";
import { SubscriptionStore } from "./storage/subscription-store.ts";
import { checkWebhookCertificate, type CheckStatus } from "./webhook-certificate-check.ts";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const SECRET_WARN_DAYS = 30;
const SUBSCRIPTION_MIN_LEFT_MS = 6 * HOUR_MS;

/** Runs every check and prints each as PASS/WARN/FAIL with its fix. Returns the process exit code. */
export async function runDoctor(env: Record<string, string | undefined>): Promise<number> {
  const checks: Check[] = [];
  let config: Config | undefined;
  try {
    config = loadConfig(env, { requirePublicUrl: true });
    checks.push({ name: "configuration", status: "pass", detail: "every RELAY_* setting is valid" });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    checks.push({
      name: "configuration",
      status: "fail",
      detail: error.message,
      fix: "set the keys named above (README, Configuration)",
    });
  }
  if (config) {
    checks.push(await checkStorage(config));
    const extraCaPem = config.microsoftCaFile ? await readFile(config.microsoftCaFile, "utf8") : undefined;
    for (const [name, url, fix] of [
      [
        "Entra ID sign-in reachable",
        `${config.loginBaseUrl}/common/discovery/v2.0/keys`,
        "allow outbound HTTPS (443) to login.microsoftonline.com",
      ],
      [
        "Microsoft Graph reachable",
        `${config.graphBaseUrl}/v1.0/$metadata`,
        "allow outbound HTTPS (443) to graph.microsoft.com",
      ],
    ] as const) {
      const probe = await probeEndpoint(url, extraCaPem ? { extraCaPem } : {});
      checks.push(
        probe.ok
          ? { name, status: "pass", detail: `${url} answered ${probe.status}` }
          : { name, status: "fail", detail: `${url}: ${probe.error}`, fix },
      );
    }
    const orgs = await readOrgs(config);
    const webhookBases = [
      ...new Set([
        config.publicUrl!,
        ...(orgs.ok ? orgs.orgs.flatMap((o) => (o.org.webhookBaseUrl ? [o.org.webhookBaseUrl] : [])) : []),
      ]),
    ];
    if (config.tls) checks.push(await checkCertificate(config.tls.certFile, webhookBases));
    for (const base of webhookBases) {
      const urls = webhookUrls(base);
      for (const url of [urls.notificationUrl, urls.lifecycleNotificationUrl]) {
        checks.push(await checkHandshake(url, extraCaPem));
      }
    }
    checks.push(...(orgs.ok ? orgs.orgs.flatMap((o) => orgChecks(o, systemClock.now())) : [orgs.check]));
  }
  for (const check of checks) {
    console.log(`${check.status.toUpperCase()}  ${check.name}: ${check.detail}`);
    if (check.status !== "pass" && check.fix) console.log(`      fix: ${check.fix}`);
  }
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}

async function checkStorage(config: Config): Promise<Check> {
  try {
    const storage = await openDatabase(config.database);
    try {
      await sql`select 1`.execute(storage.db);
      return { name: "storage", status: "pass", detail: `${storage.engine} reachable` };
    } finally {
      await storage.close();
    }
  } catch (error) {
    return {
      name: "storage",
      status: "fail",
      detail: (error as Error).message,
      fix:
        config.database.engine === "sqlite"
          ? "make RELAY_DATA_DIR writable"
          : "check RELAY_DATABASE_URL and that PostgreSQL accepts connections",
    };
  }
}

async function checkCertificate(certFile: string, webhookBases: string[]): Promise<Check> {
  const name = "webhook certificate";
  let pem: string;
  try {
    pem = await readFile(certFile, "utf8");
  } catch (error) {
    return {
      name,
      status: "fail",
      detail: `cannot read ${certFile}: ${(error as Error).message}`,
      fix: "make RELAY_TLS_CERT_FILE readable by the relay",
    };
  }
  return { name, ...checkWebhookCertificate(pem, webhookBases) };
}

/** A token with spaces, colons and characters that need encoding, as Graph sends. */
function handshakeToken(): string {
  return `Validation: doctor ${randomBytes(6).toString("hex")} +/&=%: ${new Date().toISOString()}`;
}

/** POSTs Graph's validation request to the public webhook URL and checks the relay's answer. */
export async function checkHandshake(url: string, extraCaPem?: string): Promise<Check> {
  const name = `webhook handshake ${url}`;
  const token = handshakeToken();
  const target = new URL(url);
  target.searchParams.set("validationToken", token);
  const answer = await post(target, extraCaPem);
  if ("error" in answer) {
    return {
      name,
      status: "fail",
      detail: `no answer: ${answer.error}`,
      fix:
        "the relay must be running (`teams-emergency-relay serve`) and reachable at this URL from the internet: " +
        "check DNS, the certificate, the firewall / port forwarding and any reverse proxy",
    };
  }
  const problems: string[] = [];
  if (answer.status !== 200) problems.push(`status ${answer.status} (expected 200)`);
  if (!/^text\/plain\b/i.test(answer.contentType)) {
    problems.push(`content-type "${answer.contentType}" (expected text/plain)`);
  }
  if (answer.body !== token) {
    problems.push(`body ${JSON.stringify(answer.body.slice(0, 200))} (expected ${JSON.stringify(token)})`);
  }
  if (problems.length > 0) {
    return {
      name,
      status: "fail",
      detail: problems.join("; "),
      fix:
        "make this URL reach the relay's Graph routes unchanged (reverse proxy path and query string, " +
        "RELAY_PUBLIC_URL / webhookBaseUrl, RELAY_GRAPH_ALLOWED_CIDRS)",
    };
  }
  return { name, status: "pass", detail: "answered 200 text/plain with the exact token" };
}

function post(
  target: URL,
  extraCaPem: string | undefined,
): Promise<{ status: number; contentType: string; body: string } | { error: string }> {
  const https = target.protocol === "https:";
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      target,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "text/plain", "content-length": "0" },
        timeout: HANDSHAKE_TIMEOUT_MS,
        ...(https ? { minVersion: "TLSv1.2" as const } : {}),
        ...(https && extraCaPem ? { secureContext: trustedContext(extraCaPem) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", (error) => resolve({ error: error.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)));
    req.on("error", (error) =>
      resolve({ error: error.message || (error as NodeJS.ErrnoException).code || "error" }),
    );
    req.end();
  });
}

export interface OrgState {
  org: Org;
  connection: Awaited<ReturnType<ConnectionStore["get"]>>;
  subscriptions: Awaited<ReturnType<SubscriptionStore["listByOrg"]>>;
}

async function readOrgs(
  config: Config,
): Promise<{ ok: true; orgs: OrgState[] } | { ok: false; check: Check }> {
  const name = "organizations";
  const keyFile = path.join(config.dataDir, ENCRYPTION_KEY_FILE);
  if (config.encryptionKey === undefined && !existsSync(keyFile)) {
    return {
      ok: false,
      check: {
        name,
        status: "warn",
        detail: `no RELAY_ENCRYPTION_KEY and no ${keyFile}: cannot read the organizations`,
        fix: "run doctor with the relay's RELAY_ENCRYPTION_KEY / RELAY_DATA_DIR (nothing is set up yet if the relay never started)",
      },
    };
  }
  try {
    const { key } = await loadOrCreateEncryptionKey({
      ...(config.encryptionKey ? { configuredKey: config.encryptionKey } : {}),
      dataDir: config.dataDir,
    });
    const box = createSecretBox(key);
    const storage = await openDatabase(config.database);
    try {
      const orgStore = new OrgStore(storage.db, box, systemClock);
      const connections = new ConnectionStore(storage.db);
      const subscriptions = new SubscriptionStore(storage.db, box);
      const orgs: OrgState[] = [];
      for (const org of await orgStore.list()) {
        orgs.push({
          org,
          connection: await connections.get(org.id),
          subscriptions: await subscriptions.listByOrg(org.id),
        });
      }
      if (orgs.length === 0) {
        return {
          ok: false,
          check: { name, status: "warn", detail: "none set up yet", fix: "create and connect one (README)" },
        };
      }
      return { ok: true, orgs };
    } finally {
      await storage.close();
    }
  } catch (error) {
    return {
      ok: false,
      check: {
        name,
        status: "fail",
        detail: `cannot read them: ${(error as Error).message}`,
        fix: "run `teams-emergency-relay migrate`, and use the relay's RELAY_ENCRYPTION_KEY / RELAY_DATA_DIR",
      },
    };
  }
}

export function orgChecks({ org, connection, subscriptions }: OrgState, now: number): Check[] {
  const label = `org "${org.name}" (${org.id})`;
  const reconnect = `an admin reconnects it: GET /api/org/${org.id}/ms-teams/connect`;
  const checks: Check[] = [];
  if (!connection) {
    checks.push({ name: `${label} connection`, status: "fail", detail: "never connected", fix: reconnect });
  } else {
    const error = connection.lastError
      ? `: ${connection.lastError.message}${connection.lastError.aadsts ? ` (AADSTS${connection.lastError.aadsts})` : ""}`
      : "";
    const as = connection.userPrincipalName ? ` as ${connection.userPrincipalName}` : "";
    switch (connection.state) {
      case "connected":
        checks.push({ name: `${label} connection`, status: "pass", detail: `connected${as}` });
        break;
      case "retrying":
        checks.push({
          name: `${label} connection`,
          status: "warn",
          detail: `retrying token refresh (${connection.consecutiveFailures} failures)${error}`,
          fix: "check outbound reachability of Entra ID; it recovers by itself once a refresh succeeds",
        });
        break;
      case "misconfigured":
        checks.push({
          name: `${label} connection`,
          status: "fail",
          detail: `misconfigured${error}`,
          fix: `correct the tenant, client id or client secret (PATCH /api/orgs/${org.id}), then ${reconnect}`,
        });
        break;
      default:
        checks.push({
          name: `${label} connection`,
          status: "fail",
          detail: `${connection.state}${error}`,
          fix: reconnect,
        });
    }
  }
  if (org.clientSecretExpiresAt !== null) {
    const daysLeft = Math.floor((org.clientSecretExpiresAt - now) / DAY_MS);
    const at = new Date(org.clientSecretExpiresAt).toISOString();
    const fix = `create a new client secret in Entra and enter it with its expiry (PATCH /api/orgs/${org.id})`;
    checks.push(
      org.clientSecretExpiresAt <= now
        ? { name: `${label} client secret`, status: "fail", detail: `expired ${at}`, fix }
        : daysLeft < SECRET_WARN_DAYS
          ? {
              name: `${label} client secret`,
              status: "warn",
              detail: `expires ${at} (${daysLeft} days left)`,
              fix,
            }
          : {
              name: `${label} client secret`,
              status: "pass",
              detail: `expires ${at} (${daysLeft} days left)`,
            },
    );
  }
  const active = subscriptions
    .filter((s) => s.state === "active")
    .sort((a, b) => b.expiresAt - a.expiresAt)[0];
  const subscriptionFix =
    connection?.state === "connected"
      ? "check the relay's log and operational events; the relay recreates it while it runs and the webhook handshake passes"
      : `fix the connection first (${reconnect}); the relay then recreates the subscription`;
  if (!active) {
    const failing = subscriptions.find((s) => s.state === "failing");
    checks.push({
      name: `${label} subscription`,
      status: "fail",
      detail: failing
        ? `subscription ${failing.id} is failing${failing.lastError ? `: ${failing.lastError}` : ""}`
        : "no active subscription",
      fix: subscriptionFix,
    });
  } else {
    const left = active.expiresAt - now;
    const detail = `${active.id} on ${active.resource} expires ${new Date(active.expiresAt).toISOString()}`;
    checks.push(
      left < SUBSCRIPTION_MIN_LEFT_MS
        ? {
            name: `${label} subscription`,
            status: "fail",
            detail: `${detail} (${left <= 0 ? "expired" : `${Math.round(left / 60_000)} min left`})`,
            fix: subscriptionFix,
          }
        : {
            name: `${label} subscription`,
            status: "pass",
            detail: `${detail} (${Math.floor(left / HOUR_MS)} h left)`,
          },
    );
  }
  return checks;
}
