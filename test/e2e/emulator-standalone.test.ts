import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { Emulator } from "../../emulator/index.ts";
import { createSelfSignedEncryptionCertificate } from "../../src/microsoft/encryption-certificate.ts";
import { decryptRichNotification } from "../../src/microsoft/decrypt-rich-notification.ts";
import { control, seedOrg } from "../helpers/emulator-setup.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { graph, signIn } from "../helpers/sign-in.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

const bin = path.resolve(import.meta.dirname, "../../bin/teams-emergency-relay.js");
let child: ChildProcess;
let dir: string;
let receiver: WebhookReceiver;
/** Only what a client of the standalone emulator knows: its URL and the CA it wrote. */
let emu: Pick<Emulator, "url" | "caPem">;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "emulator-standalone-"));
  receiver = await startWebhookReceiver();
  await writeFile(path.join(dir, "receiver-ca.pem"), receiver.caPem);
  child = spawn(
    process.execPath,
    [
      bin,
      "emulator",
      "--port",
      "0",
      "--tls-dir",
      path.join(dir, "tls"),
      "--trust-ca",
      path.join(dir, "receiver-ca.pem"),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^url: (\S+)$/m.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`emulator exited with ${code}: ${out}`)));
  });
  emu = { url, caPem: await readFile(path.join(dir, "tls", "ca.pem"), "utf8") };
});

after(async () => {
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

test("the standalone emulator writes its CA and serves HTTPS that only that CA validates", async () => {
  assert.match(emu.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await stat(path.join(dir, "tls", "ca-key.pem"))).mode & 0o777, 0o600);
  await assert.rejects(
    httpRequest(`${emu.url}/_emulator/clock`),
    /self-signed|unable to verify|certificate/i,
  );
  assert.equal((await httpRequest(`${emu.url}/_emulator/clock`, { ca: emu.caPem })).status, 200);
});

test("a client knowing only the documented API drives OAuth, a rich subscription and an emergency-call delivery", async () => {
  const asEmulator = emu as Emulator;
  const org = await seedOrg(asEmulator);
  const tokens = await signIn(asEmulator, org);
  const certificate = await createSelfSignedEncryptionCertificate({ commonName: "standalone" });
  const created = await graph(asEmulator, tokens.access_token, "POST", "/subscriptions", {
    changeType: "created",
    resource: "/me/chats/getAllMessages",
    notificationUrl: `${receiver.url}/api/graph/notifications`,
    lifecycleNotificationUrl: `${receiver.url}/api/graph/lifecycle`,
    expirationDateTime: new Date(Date.now() + 3 * 24 * 3600_000 - 60_000).toISOString(),
    clientState: "standalone-state",
    includeResourceData: true,
    encryptionCertificate: certificate.base64Der,
    encryptionCertificateId: "standalone-cert",
  });
  assert.equal(created.status, 201, created.text);

  const call = await control(asEmulator, "POST", `/_emulator/tenants/${org.tenantId}/emergency-calls`, {
    callerId: org.caller.id,
    dialString: "911",
    notify: [org.serviceUser.id],
    location: { kind: "static", address: "1 Main Street, Springfield" },
  });
  await control(asEmulator, "POST", "/_emulator/settle");
  const [item] = receiver.notifications("/api/graph/notifications");
  assert.ok(item, "notification delivered");
  assert.equal(item.clientState, "standalone-state");
  const message = (await decryptRichNotification(item.encryptedContent, {
    resolve: (id) => (id === "standalone-cert" ? { privateKey: certificate.privateKeyPem } : undefined),
  })) as { id: string; body: { content: string } };
  assert.equal(message.id, call.messages[0].messageId);
  assert.match(message.body.content, /has placed an Emergency Call/);
  assert.match(message.body.content, /1 Main Street, Springfield/);

  const batch = receiver.received.find((r) => r.path === "/api/graph/notifications" && r.json)!;
  const jwks = (await httpRequest(`${emu.url}/common/discovery/v2.0/keys`, { ca: emu.caPem })).json();
  const { payload } = await jwtVerify(batch.json.validationTokens[0], createLocalJWKSet(jwks), {
    audience: org.clientId,
  });
  assert.equal(payload.tid, org.tenantId);

  const state = (await httpRequest(`${emu.url}/_emulator/state`, { ca: emu.caPem })).json();
  const delivery = state.deliveries.find(
    (d: { subscriptionId: string }) => d.subscriptionId === created.json().id,
  );
  assert.equal(delivery.status, "delivered");
  assert.equal(typeof delivery.latencyMs, "number");
});
