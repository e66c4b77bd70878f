import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { describe, it, type TestContext } from "node:test";
import { Registry } from "prom-client";
import { createLocalCa, type LocalCa } from "../../emulator/tls/local-ca.ts";
import { createHttpApp } from "../../src/http/create-http-app.ts";
import { createLogger } from "../../src/logger.ts";

interface Served {
  fingerprint256: string;
  serialNumber: string;
  protocol: string | null;
}

/** One fresh connection (no agent, no session reuse), trusting only the given CAs; what the server presented. */
function servedCertificate(port: number, cas: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: "127.0.0.1", port, path: "/healthz", ca: cas, agent: false, servername: "localhost" },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        const served = {
          fingerprint256: peer.fingerprint256,
          serialNumber: peer.serialNumber,
          protocol: socket.getProtocol(),
        };
        res.resume();
        res.on("end", () => resolve(served));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timed out")));
  });
}

function identity(ca: LocalCa): { fingerprint256: string; serialNumber: string } {
  const x509 = new X509Certificate(ca.certPem);
  return { fingerprint256: x509.fingerprint256, serialNumber: x509.serialNumber.toUpperCase() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function startHttpsApp(t: TestContext, first: LocalCa) {
  const dir = await mkdtemp(path.join(tmpdir(), "relay-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const certFile = path.join(dir, "server.pem");
  const keyFile = path.join(dir, "server-key.pem");
  await writeFile(certFile, first.certPem);
  await writeFile(keyFile, first.keyPem);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const registry = new Registry();
  const app = createHttpApp({
    logger: createLogger("info", sink),
    checkStorage: async () => {},
    jobsRunning: () => true,
    trustProxy: false,
    registry,
    https: {
      cert: first.certPem,
      key: first.keyPem,
      watch: { certFile, keyFile, intervalMs: 50, debounceMs: 100 },
    },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  t.after(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const reloads = async (result: string) =>
    (await registry.getSingleMetric("relay_tls_certificate_reloads_total")!.get()).values.find(
      (v) => v.labels.result === result,
    )?.value ?? 0;
  return { certFile, keyFile, logs, port, registry, reloads };
}

describe("HTTPS certificate reload", () => {
  it("serves a new certificate after its files change, and keeps the previous one when a new file is bad", async (t) => {
    const [caOne, caTwo] = await Promise.all([createLocalCa(), createLocalCa()]);
    const app = await startHttpsApp(t, caOne);

    const initial = await servedCertificate(app.port, [caOne.caCertPem]);
    assert.equal(initial.fingerprint256, identity(caOne).fingerprint256);
    assert.ok(initial.protocol === "TLSv1.2" || initial.protocol === "TLSv1.3");
    await assert.rejects(
      servedCertificate(app.port, [caTwo.caCertPem]),
      /self-signed|unable to verify|certificate/i,
      "the first certificate is not trusted through the second CA",
    );

    // A renewal: the certificate first, then its key, as most tools write them.
    await writeFile(app.certFile, caTwo.certPem);
    await writeFile(app.keyFile, caTwo.keyPem);
    const renewed = await until("the new certificate to be served", async () => {
      const served = await servedCertificate(app.port, [caOne.caCertPem, caTwo.caCertPem]);
      return served.fingerprint256 === identity(caTwo).fingerprint256 ? served : undefined;
    });
    assert.equal(renewed.serialNumber.toUpperCase(), identity(caTwo).serialNumber);
    // Verified against the second CA alone: the chain is whole, not just the leaf swapped.
    assert.equal(
      (await servedCertificate(app.port, [caTwo.caCertPem])).fingerprint256,
      identity(caTwo).fingerprint256,
    );
    assert.ok(app.logs.join("").includes("TLS certificate reloaded"));
    const expiry = (
      await app.registry.getSingleMetric("relay_tls_certificate_expiry_timestamp_seconds")!.get()
    ).values[0]!.value;
    assert.equal(expiry, new Date(new X509Certificate(caTwo.certPem).validTo).getTime() / 1000);

    // A broken write: garbage where the certificate was. The previous certificate stays in service.
    const failuresBefore = await app.reloads("failed");
    const logsBefore = app.logs.length;
    await writeFile(
      app.certFile,
      "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    );
    await until("the failed reload to be logged", async () =>
      app.logs.slice(logsBefore).some((line) => line.includes("TLS certificate reload failed"))
        ? true
        : undefined,
    );
    assert.ok((await app.reloads("failed")) > failuresBefore);
    const failure = JSON.parse(app.logs.slice(logsBefore).find((l) => l.includes("reload failed"))!);
    assert.equal(failure.level, 50, "logged as an error");
    assert.ok(!JSON.stringify(failure).includes("PRIVATE KEY"), "no key material in the log");
    const kept = await servedCertificate(app.port, [caTwo.caCertPem]);
    assert.equal(kept.fingerprint256, identity(caTwo).fingerprint256);

    // A key that does not belong to the certificate is refused the same way.
    await writeFile(app.certFile, caOne.certPem);
    const mismatchLogs = app.logs.length;
    await until("the mismatched pair to be refused", async () =>
      app.logs.slice(mismatchLogs).some((l) => l.includes("does not belong")) ? true : undefined,
    );
    assert.equal(
      (await servedCertificate(app.port, [caTwo.caCertPem])).fingerprint256,
      identity(caTwo).fingerprint256,
    );

    // And a good pair afterwards is picked up again.
    await writeFile(app.keyFile, caOne.keyPem);
    await until("the first certificate to be served again", async () => {
      const served = await servedCertificate(app.port, [caOne.caCertPem, caTwo.caCertPem]);
      return served.fingerprint256 === identity(caOne).fingerprint256 ? true : undefined;
    });
  });

  it("still refuses TLS below 1.2 after a reload", async (t) => {
    const [caOne, caTwo] = await Promise.all([createLocalCa(), createLocalCa()]);
    const app = await startHttpsApp(t, caOne);
    await writeFile(app.certFile, caTwo.certPem);
    await writeFile(app.keyFile, caTwo.keyPem);
    await until("the reload", async () => ((await app.reloads("reloaded")) > 0 ? true : undefined));
    await until("the new certificate to be served", async () => {
      const served = await servedCertificate(app.port, [caTwo.caCertPem]).catch(() => undefined);
      return served?.fingerprint256 === identity(caTwo).fingerprint256 ? true : undefined;
    });
    const tls11 = new Promise((resolve, reject) => {
      const req = https.get(
        {
          host: "127.0.0.1",
          port: app.port,
          path: "/healthz",
          ca: [caTwo.caCertPem],
          agent: false,
          servername: "localhost",
          minVersion: "TLSv1",
          maxVersion: "TLSv1.1",
          ciphers: "DEFAULT:@SECLEVEL=0",
        },
        resolve,
      );
      req.on("error", reject);
    });
    await assert.rejects(tls11, /version|protocol|alert/i);
  });
});
