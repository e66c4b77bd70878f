import { readFile } from "node:fs/promises";
import { orgChecks, checkHandshake, type Check, type OrgState } from "../doctor.ts";
import type { Clock } from "../core/clock.ts";
import { webhookUrls } from "../core/subscription-policy.ts";
import { probeEndpoint } from "../microsoft/probe-endpoint.ts";
import { checkWebhookCertificate } from "../webhook-certificate-check.ts";

const PROBE_TIMEOUT_MS = 5_000;

export interface OrgCheckDeps {
  clock: Clock;
  publicUrl: string;
  loginBaseUrl: string;
  graphBaseUrl: string;
  extraCaPem?: string;
  /** RELAY_TLS_CERT_FILE, when the relay serves HTTPS itself. */
  certFile?: string;
  /** The org with its connection and subscriptions, as the doctor reads them; undefined for an unknown org. */
  orgState(orgId: string): Promise<OrgState | undefined>;
}

/**
 * The `doctor` command's checks that concern one org, run in-process by the web app: Microsoft endpoints
 * reachable, the webhook certificate, Graph's validation handshake on the org's webhook URLs, and the doctor's
 * own per-org checks (connection, client secret, subscription). The same check functions as `doctor`.
 */
export function createOrgChecks(deps: OrgCheckDeps): (orgId: string) => Promise<Check[]> {
  return async (orgId) => {
    const state = await deps.orgState(orgId);
    if (state === undefined) return [];
    const base = state.org.webhookBaseUrl ?? deps.publicUrl;
    const urls = webhookUrls(base);
    const probes = await Promise.all(
      [
        [
          "Entra ID sign-in reachable",
          `${deps.loginBaseUrl}/common/discovery/v2.0/keys`,
          "login.microsoftonline.com",
        ],
        ["Microsoft Graph reachable", `${deps.graphBaseUrl}/v1.0/$metadata`, "graph.microsoft.com"],
      ].map(async ([name, url, host]): Promise<Check> => {
        const probe = await probeEndpoint(url!, {
          timeoutMs: PROBE_TIMEOUT_MS,
          ...(deps.extraCaPem ? { extraCaPem: deps.extraCaPem } : {}),
        });
        return probe.ok
          ? { name: name!, status: "pass", detail: `${url} answered ${probe.status}` }
          : {
              name: name!,
              status: "fail",
              detail: `${url}: ${probe.error}`,
              fix: `allow outbound HTTPS (443) to ${host}`,
            };
      }),
    );
    const handshakes = await Promise.all(
      [urls.notificationUrl, urls.lifecycleNotificationUrl].map((url) =>
        checkHandshake(url, deps.extraCaPem),
      ),
    );
    const certificate = deps.certFile ? [await certificateCheck(deps.certFile, base, deps.clock.now())] : [];
    return [...probes, ...certificate, ...handshakes, ...orgChecks(state, deps.clock.now())];
  };
}

async function certificateCheck(certFile: string, base: string, now: number): Promise<Check> {
  try {
    return {
      name: "webhook certificate",
      ...checkWebhookCertificate(await readFile(certFile, "utf8"), [base], now),
    };
  } catch (error) {
    return {
      name: "webhook certificate",
      status: "fail",
      detail: `cannot read ${certFile}: ${(error as Error).message}`,
      fix: "make RELAY_TLS_CERT_FILE readable by the relay",
    };
  }
}
