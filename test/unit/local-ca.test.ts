import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLocalCa, loadOrCreateLocalCa, type LocalCa } from "../../emulator/tls/local-ca.ts";

function get(port: number, servername: string, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { host: "127.0.0.1", servername, port, path: "/", agent: false, ...(ca ? { ca } : {}) };
    const request = https.request(options, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(body));
    });
    request.on("error", reject);
    request.end();
  });
}

describe("createLocalCa", () => {
  let pems: LocalCa;
  let server: https.Server;
  let port: number;

  before(async () => {
    pems = await createLocalCa();
    server = https.createServer({ key: pems.keyPem, cert: pems.certPem }, (_request, response) =>
      response.end("ok"),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("issues a CA and a leaf for localhost, 127.0.0.1 and ::1", () => {
    const ca = new crypto.X509Certificate(pems.caCertPem);
    const leaf = new crypto.X509Certificate(pems.certPem);
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.equal(leaf.checkHost("localhost"), "localhost");
    assert.equal(leaf.checkIP("127.0.0.1"), "127.0.0.1");
    assert.ok(leaf.checkIP("::1"));
    assert.equal(leaf.checkHost("example.com"), undefined);
    assert.ok(crypto.createPrivateKey(pems.caKeyPem));
  });

  it("a client trusting the CA accepts the server by name and by IP", async () => {
    assert.equal(await get(port, "localhost", pems.caCertPem), "ok");
    assert.equal(await get(port, "127.0.0.1", pems.caCertPem), "ok");
    await assert.rejects(get(port, "example.com", pems.caCertPem), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("a client without the CA rejects the server", async () => {
    await assert.rejects(get(port, "localhost"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  it("a client trusting another CA rejects the server", async () => {
    const other = await createLocalCa();
    await assert.rejects(get(port, "localhost", other.caCertPem), {
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  it("honours custom names", async () => {
    const custom = await createLocalCa({ dnsNames: ["relay.test"], ipAddresses: ["10.0.0.5"] });
    const leaf = new crypto.X509Certificate(custom.certPem);
    assert.equal(leaf.checkHost("relay.test"), "relay.test");
    assert.ok(leaf.checkIP("10.0.0.5"));
    assert.equal(leaf.checkHost("localhost"), undefined);
  });
});

describe("loadOrCreateLocalCa", () => {
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "local-ca-"));
  });

  after(() => fs.rm(dir, { recursive: true, force: true }));

  it("creates the four files, keys owner-only, and reuses them on the next call", async () => {
    const tlsDir = path.join(dir, "tls");
    const first = await loadOrCreateLocalCa(tlsDir);
    assert.deepEqual((await fs.readdir(tlsDir)).sort(), [
      "ca-key.pem",
      "ca.pem",
      "server-key.pem",
      "server.pem",
    ]);
    assert.equal(first.written.length, 4);
    assert.equal(await fs.readFile(path.join(tlsDir, "ca.pem"), "utf8"), first.caCertPem);
    for (const key of ["ca-key.pem", "server-key.pem"]) {
      assert.equal((await fs.stat(path.join(tlsDir, key))).mode & 0o777, 0o600, key);
    }

    const second = await loadOrCreateLocalCa(tlsDir);
    assert.deepEqual(second.written, []);
    assert.equal(second.caCertPem, first.caCertPem);
    assert.equal(second.caKeyPem, first.caKeyPem);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
  });

  it("keeps the trusted CA but reissues the server certificate when the names change or it is missing", async () => {
    const tlsDir = path.join(dir, "reissue");
    const first = await loadOrCreateLocalCa(tlsDir);
    const renamed = await loadOrCreateLocalCa(tlsDir, { dnsNames: ["relay.test"] });
    assert.equal(renamed.caCertPem, first.caCertPem);
    assert.notEqual(renamed.certPem, first.certPem);
    assert.deepEqual(renamed.written, [renamed.files.key, renamed.files.cert]);
    const leaf = new crypto.X509Certificate(renamed.certPem);
    assert.ok(leaf.verify(new crypto.X509Certificate(first.caCertPem).publicKey));
    assert.equal(leaf.checkHost("relay.test"), "relay.test");

    await fs.rm(renamed.files.cert);
    const restored = await loadOrCreateLocalCa(tlsDir);
    assert.equal(restored.caCertPem, first.caCertPem);
    assert.equal(restored.written.length, 2);
    assert.equal((await fs.stat(restored.files.key)).mode & 0o777, 0o600);
  });
});
