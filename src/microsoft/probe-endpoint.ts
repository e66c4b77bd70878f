import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { trustedContext } from "./trusted-context.ts";

export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** One GET to see whether a Microsoft endpoint is reachable over TLS 1.2+; any HTTP answer counts as reachable. */
export function probeEndpoint(
  url: string,
  options: { extraCaPem?: string; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? request : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      target,
      {
        method: "GET",
        agent: false,
        minVersion: "TLSv1.2",
        ...(options.extraCaPem ? { secureContext: trustedContext(options.extraCaPem) } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        resolve({ ok: true, status: res.statusCode ?? 0 });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`)));
    req.on("error", (error) => resolve({ ok: false, error: error.message }));
    req.end();
  });
}
