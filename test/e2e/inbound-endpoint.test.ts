// The relay's inbound endpoint as `serve` wires it: HTTPS from RELAY_TLS_* with the certificate reloaded when the
// files change, and RELAY_GRAPH_ALLOWED_CIDRS in front of Graph's routes. No emulator: no org is connected, so
// nothing at start-up talks to Microsoft.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { describe, it, type TestContext } from "node:test";
import { Writable } from "node:stream";
import { createLocalCa, type LocalCa } from "../../emulator/tls/local-ca.ts";
import { loadConfig } from "../../src/config.ts";
import { startRelay } from "../../src/main.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { freePort } from "../helpers/relay-setup.ts";

interface Answer {
  status: number;
  body: string;
  fingerprint256: string;
}

function post(url: string, ca: string[], body = ""): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: "POST", ca, agent: false, headers: { "content-type": "text/plain" } },
      (res) => {
        const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            fingerprint256,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timed out")));
    req.end(body);
  });
}

const fingerprint = (ca: LocalCa) => new X509Certificate(ca.certPem).fingerprint256;

async function startHttpsRelay(t: TestContext, ca: LocalCa, allowedCidrs: string) {
  const dataDir = await mkdtemp(path.join(tmpdir(), "relay-inbound-"));
  const certFile = path.join(dataDir, "tls-cert.pem");
  const keyFile = path.join(dataDir, "tls-key.pem");
  await writeFile(certFile, ca.certPem);
  await writeFile(keyFile, ca.keyPem);
  const port = await freePort();
  const logs: string[] = [];
  const relay = await startRelay(
    loadConfig({
      RELAY_DATA_DIR: dataDir,
      RELAY_HOST: "127.0.0.1",
      RELAY_PORT: String(port),
      RELAY_PUBLIC_URL: `https://localhost:${port}`,
      RELAY_TLS_CERT_FILE: certFile,
      RELAY_TLS_KEY_FILE: keyFile,
      RELAY_GRAPH_ALLOWED_CIDRS: allowedCidrs,
      RELAY_LOG_LEVEL: "info",
    }),
    {
      clock: new FakeClock(),
      jobIntervalMs: false,
      logDestination: new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    },
  );
  t.after(async () => {
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  assert.equal(relay.url, `https://127.0.0.1:${port}`);
  return { relay, certFile, keyFile, logs, base: `https://localhost:${port}` };
}

describe("inbound endpoint", () => {
  it("refuses Graph's routes from outside RELAY_GRAPH_ALLOWED_CIDRS and serves the rest over HTTPS", async (t) => {
    const ca = await createLocalCa();
    const { base, logs } = await startHttpsRelay(t, ca, "10.0.0.0/8, 2001:db8::/32");
    const handshake = await post(`${base}/api/graph/notifications?validationToken=hello`, [ca.caCertPem]);
    assert.equal(handshake.status, 403);
    assert.equal(
      (await post(`${base}/api/graph/lifecycle`, [ca.caCertPem], JSON.stringify({ value: [] }))).status,
      403,
    );
    assert.ok(logs.join("").includes("source address not in RELAY_GRAPH_ALLOWED_CIDRS"));
    const metrics = await new Promise<string>((resolve, reject) => {
      https
        .get(`${base}/metrics`, { ca: [ca.caCertPem], agent: false }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    assert.match(metrics, /relay_notifications_received_total\{result="source_refused"\} 2/);
  });

  it("answers loopback when 127.0.0.0/8 is listed, and picks up a renewed certificate without a restart", async (t) => {
    const [caOne, caTwo] = await Promise.all([createLocalCa(), createLocalCa()]);
    const relay = await startHttpsRelay(t, caOne, "127.0.0.0/8");
    const first = await post(`${relay.base}/api/graph/notifications?validationToken=a+b`, [caOne.caCertPem]);
    assert.equal(first.status, 200);
    assert.equal(first.body, "a b");
    assert.equal(first.fingerprint256, fingerprint(caOne));

    await writeFile(relay.certFile, caTwo.certPem);
    await writeFile(relay.keyFile, caTwo.keyPem);
    // The relay checks the files every 2 s and waits 1 s for writes to settle.
    const deadline = Date.now() + 10_000;
    let served = first.fingerprint256;
    while (served !== fingerprint(caTwo) && Date.now() < deadline) {
      await sleep(100);
      const probe = post(`${relay.base}/api/graph/notifications?validationToken=x`, [
        caOne.caCertPem,
        caTwo.caCertPem,
      ]);
      served = (await probe.catch(() => first)).fingerprint256;
    }
    assert.equal(served, fingerprint(caTwo), "the renewed certificate is served");
    const after = await post(`${relay.base}/api/graph/lifecycle?validationToken=ok`, [caTwo.caCertPem]);
    assert.equal(after.status, 200);
    assert.ok(relay.logs.join("").includes("TLS certificate reloaded"));
  });
});
