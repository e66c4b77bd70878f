import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import * as http from "node:http";
import * as https from "node:https";
import { after, before, describe, it } from "node:test";
import { AuthError, ConfidentialClientApplication, ServerError } from "@azure/msal-node";
import { createLocalCa, type LocalCa } from "../../emulator/tls/local-ca.ts";
import { parseRetryAfter } from "../../src/core/parse-retry-after.ts";
import { EntraNetworkClient, type EntraResponseInfo } from "../../src/microsoft/entra-network-client.ts";

interface Seen {
  method: string;
  url: string;
  host: string;
  contentType: string | undefined;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const TENANT = "11111111-2222-3333-4444-555555555555";
const TOKEN_URL = `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`;

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

async function startServer(ca: LocalCa | undefined, handler: Handler) {
  const seen: Seen[] = [];
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        host: req.headers.host ?? "",
        contentType: req.headers["content-type"],
        body,
      });
      handler(req, res, body);
    });
  };
  const server = ca
    ? https.createServer({ key: ca.keyPem, cert: ca.certPem }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${ca ? "https" : "http"}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const entraError = {
  error: "invalid_grant",
  error_description: "AADSTS700082: The refresh token has expired due to inactivity. secret-looking-text",
  error_codes: [700082],
  timestamp: "2026-11-27 09:00:00Z",
  trace_id: "aaaaaaaa-0000-0000-0000-000000000001",
  correlation_id: "bbbbbbbb-0000-0000-0000-000000000002",
  suberror: "bad_token",
  error_uri: "https://login.microsoftonline.com/error?code=700082",
};

describe("EntraNetworkClient", () => {
  let ca: LocalCa;
  before(async () => {
    ca = await createLocalCa();
  });

  it("rewrites the login origin to the configured base, keeping path, query, body and headers (HTTPS, extra CA)", async () => {
    const server = await startServer(ca, (_req, res) =>
      json(res, 200, { access_token: "at", token_type: "Bearer" }, { "X-Ms-Request-Id": "req-1" }),
    );
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin, extraCaPem: ca.caCertPem });
      const response = await client.sendPostRequestAsync<{ access_token: string }>(
        `${TOKEN_URL}?dc=ESTS-PUB`,
        {
          body: "grant_type=authorization_code&code=abc",
          headers: { "Content-Type": "application/x-www-form-urlencoded;charset=utf-8" },
        },
      );
      assert.equal(response.status, 200);
      assert.equal(response.body.access_token, "at");
      assert.equal(response.headers["x-ms-request-id"], "req-1");
      assert.deepEqual(server.seen, [
        {
          method: "POST",
          url: `/${TENANT}/oauth2/v2.0/token?dc=ESTS-PUB`,
          host: server.origin.slice("https://".length),
          contentType: "application/x-www-form-urlencoded;charset=utf-8",
          body: "grant_type=authorization_code&code=abc",
        },
      ]);
      assert.deepEqual(client.lastResponse && { ...client.lastResponse, durationMs: 0 }, {
        method: "POST",
        endpoint: `${server.origin}/${TENANT}/oauth2/v2.0/token`,
        status: 200,
        durationMs: 0,
      });

      const get = await client.sendGetRequestAsync<{ ok: boolean }>(
        `https://login.microsoftonline.com/common/discovery/instance?api-version=1.1`,
      );
      assert.equal(get.status, 200);
      assert.equal(server.seen[1]?.method, "GET");
      assert.equal(server.seen[1]?.url, "/common/discovery/instance?api-version=1.1");
    } finally {
      await server.close();
    }
  });

  it("keeps a path prefix of the base URL and leaves other origins alone", () => {
    const client = new EntraNetworkClient({ loginBaseUrl: "https://127.0.0.1:9443/entra/" });
    assert.equal(
      client.rewriteUrl(`${TOKEN_URL}?a=1`).href,
      `https://127.0.0.1:9443/entra/${TENANT}/oauth2/v2.0/token?a=1`,
    );
    assert.equal(
      client.rewriteUrl("https://graph.microsoft.com/v1.0/me").href,
      "https://graph.microsoft.com/v1.0/me",
    );
    assert.equal(new EntraNetworkClient().rewriteUrl(TOKEN_URL).href, TOKEN_URL);
    assert.throws(() => new EntraNetworkClient({ loginBaseUrl: "ftp://x" }), /https: or http:/);
    assert.throws(() => new EntraNetworkClient({ loginBaseUrl: "not a url" }), /absolute URL/);
  });

  it("refuses an untrusted certificate when no extra CA is given", async () => {
    const server = await startServer(ca, (_req, res) => json(res, 200, {}));
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin });
      await assert.rejects(client.sendPostRequestAsync(TOKEN_URL, { body: "" }), (err: unknown) => {
        assert.ok(err instanceof AuthError);
        assert.equal(err.errorCode, "network_error");
        return true;
      });
      assert.equal(client.lastResponse?.failure, "network");
      assert.equal(client.lastResponse?.status, undefined);
      assert.equal(server.seen.length, 0);
    } finally {
      await server.close();
    }
  });

  it("records status and Retry-After of a 429 and still hands the response to MSAL", async () => {
    const server = await startServer(undefined, (_req, res) =>
      json(res, 429, { error: "temporarily_unavailable", error_codes: [50196] }, { "Retry-After": "7" }),
    );
    try {
      const infos: EntraResponseInfo[] = [];
      const client = new EntraNetworkClient({
        loginBaseUrl: server.origin,
        onResponse: (i) => infos.push(i),
      });
      const response = await client.sendPostRequestAsync(TOKEN_URL, { body: "x=1" });
      assert.equal(response.status, 429);
      assert.equal(response.headers["retry-after"], "7");
      assert.equal(infos.length, 1);
      assert.equal(infos[0], client.lastResponse);
      assert.equal(infos[0]?.status, 429);
      assert.equal(infos[0]?.retryAfterMs, 7000);
      assert.equal(infos[0]?.error, "temporarily_unavailable");
      assert.deepEqual(infos[0]?.errorCodes, [50196]);
    } finally {
      await server.close();
    }
  });

  it("captures Entra's error fields and nothing else from the body", async () => {
    const server = await startServer(undefined, (_req, res) => json(res, 400, entraError));
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin });
      const response = await client.sendPostRequestAsync(TOKEN_URL, { body: "refresh_token=rt-secret" });
      assert.equal(response.status, 400);
      const { durationMs, ...info } = client.lastResponse ?? { durationMs: -1 };
      assert.ok(durationMs >= 0);
      assert.deepEqual(info, {
        method: "POST",
        endpoint: `${server.origin}/${TENANT}/oauth2/v2.0/token`,
        status: 400,
        error: "invalid_grant",
        errorCodes: [700082],
        subError: "bad_token",
        traceId: entraError.trace_id,
        correlationId: entraError.correlation_id,
      });
      const recorded = JSON.stringify(client.lastResponse);
      assert.ok(!recorded.includes("rt-secret"));
      assert.ok(!recorded.includes("secret-looking-text"));
    } finally {
      await server.close();
    }
  });

  it("fails a hanging request with a clear timeout error", async () => {
    const server = await startServer(undefined, () => {
      /* never answers */
    });
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin, timeoutMs: 150 });
      const started = Date.now();
      await assert.rejects(
        client.sendPostRequestAsync(TOKEN_URL, { body: "", correlationId: "corr-1" }),
        (err: unknown) => {
          assert.ok(err instanceof AuthError);
          assert.equal(err.errorCode, "network_error");
          assert.equal(err.correlationId, "corr-1");
          assert.match(err.message, /timed out after 150 ms: POST http:\/\/127\.0\.0\.1:\d+\/.*\/token/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 2000);
      assert.equal(client.lastResponse?.failure, "timeout");
    } finally {
      await server.close();
    }
  });

  it("times out a response whose body stalls, and honours MSAL's per-call GET timeout", async () => {
    const server = await startServer(undefined, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"partial":');
    });
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin, timeoutMs: 10_000 });
      await assert.rejects(
        client.sendGetRequestAsync("https://login.microsoftonline.com/common/x", undefined, 100),
        /timed out after 100 ms/,
      );
    } finally {
      await server.close();
    }
  });

  it("reports a non-JSON answer with its status", async () => {
    const server = await startServer(undefined, (_req, res) => {
      res.writeHead(502, { "content-type": "text/html", "retry-after": "2.128" });
      res.end("<html>Bad gateway</html>");
    });
    try {
      const client = new EntraNetworkClient({ loginBaseUrl: server.origin });
      await assert.rejects(client.sendPostRequestAsync(TOKEN_URL, { body: "" }), (err: unknown) => {
        assert.ok(err instanceof AuthError);
        assert.equal(err.errorCode, "token_parsing_error");
        assert.match(err.message, /HTTP 502/);
        return true;
      });
      assert.equal(client.lastResponse?.status, 502);
      assert.equal(client.lastResponse?.failure, "invalid_body");
      assert.equal(client.lastResponse?.retryAfterMs, 2128);
    } finally {
      await server.close();
    }
  });

  it("reports a refused connection as a network failure", async () => {
    const server = await startServer(undefined, () => {});
    const origin = server.origin;
    await server.close();
    const client = new EntraNetworkClient({ loginBaseUrl: origin });
    await assert.rejects(client.sendPostRequestAsync(TOKEN_URL, { body: "" }), /Entra request failed: POST/);
    assert.equal(client.lastResponse?.failure, "network");
  });

  it("turns a request that cannot even be built into a network error", async () => {
    const client = new EntraNetworkClient({ loginBaseUrl: "http://127.0.0.1:9", timeoutMs: 50 });
    await assert.rejects(
      client.sendPostRequestAsync(TOKEN_URL, { body: "", headers: { "bad header": "x" } }),
      /Entra request failed: POST/,
    );
    assert.equal(client.lastResponse?.failure, "network");
  });

  it("works as msal-node's networkClient: MSAL throws ServerError without status, the client has it", async () => {
    const throttled = { error: "temporarily_unavailable", error_codes: [50196], trace_id: "t-1" };
    const server = await startServer(undefined, (req, res) => {
      if (req.url?.includes("/oauth2/v2.0/token")) json(res, 429, throttled, { "Retry-After": "30" });
      else json(res, 404, { error: "not_found" });
    });
    try {
      const networkClient = new EntraNetworkClient({ loginBaseUrl: server.origin });
      const app = new ConfidentialClientApplication({
        auth: {
          clientId: "00000000-0000-0000-0000-0000000000aa",
          clientSecret: "client-secret-value",
          authority: `https://login.microsoftonline.com/${TENANT}`,
        },
        system: { networkClient },
      });
      const redeem = () =>
        app
          .acquireTokenByCode({
            code: "code-1",
            scopes: ["User.Read"],
            redirectUri: "https://relay.example/cb",
          })
          .then(
            () => assert.fail("expected an error"),
            (e: unknown) => e,
          );
      const err = await redeem();
      assert.ok(err instanceof ServerError, String(err));
      assert.equal(err.errorCode, "temporarily_unavailable");
      assert.equal(err.status, undefined);
      const tokenCalls = () => server.seen.filter((s) => s.url.includes("/oauth2/v2.0/token"));
      assert.equal(tokenCalls().length, 1);
      assert.equal(tokenCalls()[0]?.method, "POST");
      assert.match(tokenCalls()[0]?.body ?? "", /grant_type=authorization_code/);
      assert.equal(networkClient.lastResponse?.status, 429);
      assert.equal(networkClient.lastResponse?.retryAfterMs, 30_000);
      assert.deepEqual(networkClient.lastResponse?.errorCodes, [50196]);
      assert.ok(!JSON.stringify(networkClient.lastResponse).includes("client-secret-value"));

      // Within one application instance MSAL's own throttle answers the retry without calling the network
      // client, so lastResponse still describes the earlier exchange: callers clear it before each call.
      networkClient.lastResponse = undefined;
      assert.ok((await redeem()) instanceof ServerError);
      assert.equal(tokenCalls().length, 1);
      assert.equal(networkClient.lastResponse, undefined);
    } finally {
      await server.close();
    }
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-27T09:00:00.000Z");
  it("reads delta-seconds, fractions and HTTP dates", () => {
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter(" 2.128 ", now), 2128);
    assert.equal(parseRetryAfter("Fri, 27 Nov 2026 09:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Fri, 27 Nov 2026 08:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-5", now), undefined);
  });
});
