import { request as httpRequestRaw } from "node:http";
import { request as httpsRequestRaw } from "node:https";

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

/** Real HTTP(S) with an explicit CA, since Node 20's fetch cannot take one per request. */
export function httpRequest(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | object;
    ca?: string | null;
    timeoutMs?: number;
  } = {},
): Promise<HttpResponse> {
  const target = new URL(url);
  const isJson = init.body !== undefined && typeof init.body !== "string";
  const payload =
    init.body === undefined ? undefined : isJson ? JSON.stringify(init.body) : (init.body as string);
  const headers: Record<string, string> = {
    ...(isJson ? { "content-type": "application/json" } : {}),
    ...init.headers,
  };
  const send = target.protocol === "https:" ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: init.method ?? (payload === undefined ? "GET" : "POST"),
        headers,
        ca: init.ca ?? undefined,
        agent: false,
        timeout: init.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end(payload);
  });
}
