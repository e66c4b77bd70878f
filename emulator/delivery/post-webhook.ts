import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";

const contexts = new Map<string, SecureContext>();

/** Built once per set of CAs: parsing every root certificate per request would dominate long simulations. */
function trustedContext(caPems: string[]): SecureContext {
  const key = caPems.join("\n");
  let context = contexts.get(key);
  if (!context) {
    context = createSecureContext({ ca: [...rootCertificates, ...caPems], minVersion: "TLSv1.2" });
    contexts.set(key, context);
  }
  return context;
}

export interface WebhookResponse {
  status: number | null;
  contentType: string | null;
  body: string;
  latencyMs: number;
  timedOut: boolean;
  error: string | null;
}

/** One POST to a subscriber's URL over real HTTP(S); never throws. TLS 1.2+ as Graph requires of endpoints. */
export function postWebhook(
  url: string,
  init: { body: string; contentType: string; timeoutMs: number; trustedCaPems: string[] },
): Promise<WebhookResponse> {
  const started = performance.now();
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let finished = false;
    const finish = (result: Omit<WebhookResponse, "latencyMs">) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ ...result, latencyMs: Math.round(performance.now() - started) });
    };
    const req = send(
      target,
      {
        method: "POST",
        headers: {
          "content-type": init.contentType,
          "content-length": Buffer.byteLength(init.body),
          "user-agent": "Microsoft-Graph-Emulator/1.0",
        },
        ...(target.protocol === "https:" ? { secureContext: trustedContext(init.trustedCaPems) } : {}),
        minVersion: "TLSv1.2",
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          finish({
            status: res.statusCode ?? null,
            contentType: res.headers["content-type"] ?? null,
            body: Buffer.concat(chunks).toString("utf8"),
            timedOut: false,
            error: null,
          }),
        );
        res.on("error", (error) =>
          finish({
            status: res.statusCode ?? null,
            contentType: null,
            body: "",
            timedOut: false,
            error: error.message,
          }),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({
        status: null,
        contentType: null,
        body: "",
        timedOut: true,
        error: `no response within ${init.timeoutMs} ms`,
      });
      req.destroy();
    }, init.timeoutMs);
    req.on("error", (error) =>
      finish({ status: null, contentType: null, body: "", timedOut: false, error: error.message }),
    );
    req.end(init.body);
  });
}
