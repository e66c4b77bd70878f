// The worker after the 202, against the real emulator (identity platform keys and Graph) with notifications the
// emulator really delivered. The inbox, subscription lookup and keyring are in-memory stand-ins for the storage side;
// the seen-message store is the real one on SQLite.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import type { Emulator } from "../../emulator/index.ts";
import type {
  DecryptionKeyring,
  InboxItem,
  InboxQueue,
  KnownSubscription,
  MessageSource,
  SubscriptionLookup,
} from "../../src/core/intake-ports.ts";
import { createTeamsRateLimiter } from "../../src/core/rate-limiter.ts";
import { createInboxWorker, type InboxWorker, type OrgApp } from "../../src/flows/process-inbox.ts";
import { decryptRichNotification } from "../../src/microsoft/decrypt-rich-notification.ts";
import { createSelfSignedEncryptionCertificate } from "../../src/microsoft/encryption-certificate.ts";
import { createGraphClient } from "../../src/microsoft/graph-client.ts";
import { createValidationTokenVerifier } from "../../src/microsoft/validation-token-verifier.ts";
import { SeenMessageStore } from "../../src/storage/seen-message-store.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { graph, signIn, type Tokens } from "../helpers/sign-in.ts";
import {
  startWebhookReceiver,
  type ReceivedRequest,
  type WebhookReceiver,
} from "../helpers/webhook-receiver.ts";

const MINUTE = 60_000;
const OWNER = "worker-test";
const clock = new FakeClock();
let emu: Emulator;
let receiver: WebhookReceiver;
let database: TestDatabase;
let seen: SeenMessageStore;
let verifier: ReturnType<typeof createValidationTokenVerifier>;
let testNumber = 0;

before(async () => {
  receiver = await startWebhookReceiver();
  emu = await startEmulator({ clock, trustedCaPems: [receiver.caPem] });
  database = await openTestDatabase("sqlite");
  seen = new SeenMessageStore(database.db);
  verifier = createValidationTokenVerifier({
    jwksUrl: `${emu.url}/common/discovery/v2.0/keys`,
    extraCaPem: emu.caPem!,
    timeoutMs: 2000,
    now: () => clock.now(),
  });
});
after(async () => {
  await emu.close();
  await receiver.close();
  await database.close();
});

/** The inbox as the storage side promises it: leased claims, `attempts` counting claims, retry at a time. */
class MemoryInbox implements InboxQueue {
  readonly rows = new Map<
    string,
    {
      item: InboxItem;
      status: "pending" | "processed" | "rejected";
      nextAt: number;
      lockedBy: string | null;
      lockedUntil: number;
      reason: string | null;
      lastError: string | null;
    }
  >();
  add(...items: InboxItem[]): void {
    for (const item of items)
      this.rows.set(item.id, {
        item,
        status: "pending",
        nextAt: item.receivedAt,
        lockedBy: null,
        lockedUntil: 0,
        reason: null,
        lastError: null,
      });
  }
  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<InboxItem[]> {
    const due = [...this.rows.values()]
      .filter((r) => r.status === "pending" && r.nextAt <= now && r.lockedUntil <= now)
      .slice(0, limit);
    for (const row of due) {
      row.lockedBy = owner;
      row.lockedUntil = now + leaseMs;
      row.item = { ...row.item, attempts: row.item.attempts + 1 };
    }
    return due.map((r) => structuredClone(r.item));
  }
  async complete(id: string, owner: string, status: "processed" | "rejected", reason: string | null) {
    const row = this.rows.get(id)!;
    assert.equal(row.lockedBy, owner);
    Object.assign(row, { status, reason, lockedBy: null, lockedUntil: 0 });
  }
  async retry(id: string, owner: string, error: string, retryAt: number) {
    const row = this.rows.get(id)!;
    assert.equal(row.lockedBy, owner);
    Object.assign(row, { nextAt: retryAt, lastError: error, lockedBy: null, lockedUntil: 0 });
  }
  async release(ids: readonly string[], owner: string) {
    for (const id of ids) {
      const row = this.rows.get(id)!;
      assert.equal(row.lockedBy, owner);
      row.item = { ...row.item, attempts: row.item.attempts - 1 };
      Object.assign(row, { lockedBy: null, lockedUntil: 0 });
    }
  }
  row(id: string) {
    return this.rows.get(id)!;
  }
}

interface Handed {
  orgId: string;
  message: Record<string, any>;
  source: MessageSource;
}

interface Setup {
  org: Org;
  orgId: string;
  tokens: Tokens;
  notifyPath: string;
  lifecyclePath: string;
  inbox: MemoryInbox;
  subscriptions: Map<string, KnownSubscription>;
  touched: string[];
  handed: Handed[];
  lifecycle: Array<{ subscriptionId: string; event: string }>;
  events: Array<{ kind: string; severity: string; message: string; orgId?: string | null }>;
  keyResolutions: string[];
  worker: InboxWorker;
  /** Makes the next `onNewMessage` calls fail. */
  failHandOffs: { count: number };
  subscribe(options?: { rich?: boolean; changeType?: string }): Promise<string>;
  emergencyCall(): Promise<{ chatId: string; messageId: string }>;
  /** Lets the emulator deliver, and returns the new items for this test's URLs as the intake would store them. */
  deliveries(): Promise<InboxItem[]>;
}

async function setup(
  options: {
    concurrency?: number;
    graphTimeoutMs?: number;
    extraApps?: OrgApp[];
    extraKeys?: Record<string, { orgId: string; privateKeyPem: string; thumbprint: string }>;
  } = {},
): Promise<Setup> {
  testNumber += 1;
  const org = await seedOrg(emu, `https://relay.example.test/api/org/t${testNumber}/ms-teams/callback`);
  const tokens = await signIn(emu, org);
  const orgId = `org-${testNumber}`;
  await database.db
    .insertInto("orgs")
    .values({ id: orgId, name: orgId, created_at: 0, updated_at: 0 })
    .execute();
  const certificate = await createSelfSignedEncryptionCertificate({
    commonName: "relay-test",
    now: clock.now(),
  });
  const certificateId = `cert-${testNumber}`;
  const notifyPath = `/t${testNumber}/api/graph/notifications`;
  const lifecyclePath = `/t${testNumber}/api/graph/lifecycle`;
  const inbox = new MemoryInbox();
  const subscriptions = new Map<string, KnownSubscription>();
  const touched: string[] = [];
  const handed: Handed[] = [];
  const lifecycle: Setup["lifecycle"] = [];
  const events: Setup["events"] = [];
  const keyResolutions: string[] = [];
  const failHandOffs = { count: 0 };
  let consumed = receiver.received.length;

  const lookup: SubscriptionLookup = {
    find: async (id) => subscriptions.get(id),
    touchNotification: async (id) => {
      touched.push(id);
    },
  };
  const keyring: DecryptionKeyring = {
    resolve: async (id) => {
      keyResolutions.push(id);
      if (id === certificateId)
        return { orgId, privateKeyPem: certificate.privateKeyPem, thumbprint: certificate.thumbprint };
      if (id === "cert-of-another-org")
        return {
          orgId: "another-org",
          privateKeyPem: certificate.privateKeyPem,
          thumbprint: certificate.thumbprint,
        };
      return options.extraKeys?.[id];
    },
  };
  const graphClient = createGraphClient({
    baseUrl: emu.url,
    accessToken: async () => tokens.access_token,
    extraCaPem: emu.caPem!,
    timeoutMs: options.graphTimeoutMs ?? 3000,
    sleep: async () => {},
  });
  const worker = createInboxWorker({
    inbox,
    subscriptions: lookup,
    keyring,
    verifier,
    decrypt: decryptRichNotification,
    graph: graphClient,
    orgApps: async () => [
      { orgId, clientId: org.clientId, tenantId: org.tenantId },
      ...(options.extraApps ?? []),
    ],
    seen,
    onNewMessage: async (handedOrg, message, source) => {
      if (failHandOffs.count > 0) {
        failHandOffs.count -= 1;
        throw new Error("detection is down");
      }
      handed.push({ orgId: handedOrg, message, source });
    },
    onLifecycle: async (subscriptionId, event) => {
      lifecycle.push({ subscriptionId, event });
    },
    clock,
    owner: OWNER,
    events: {
      append: async (event) => {
        events.push(event);
      },
    },
    limiter: createTeamsRateLimiter(),
    sleep: async (ms) => {
      clock.advance(ms);
    },
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });

  return {
    org,
    orgId,
    tokens,
    notifyPath,
    lifecyclePath,
    inbox,
    subscriptions,
    touched,
    handed,
    lifecycle,
    events,
    keyResolutions,
    worker,
    failHandOffs,
    async subscribe({ rich = true, changeType = "created" } = {}) {
      const clientState = randomUUID();
      const res = await graph(emu, tokens.access_token, "POST", "/subscriptions", {
        changeType,
        notificationUrl: `${receiver.url}${notifyPath}`,
        lifecycleNotificationUrl: `${receiver.url}${lifecyclePath}`,
        resource: "/me/chats/getAllMessages",
        expirationDateTime: new Date(clock.now() + 4000 * MINUTE).toISOString(),
        clientState,
        ...(rich
          ? {
              includeResourceData: true,
              encryptionCertificate: certificate.base64Der,
              encryptionCertificateId: certificateId,
            }
          : {}),
      });
      assert.equal(res.status, 201, res.text);
      const id = res.json().id as string;
      subscriptions.set(id, { id, orgId, clientState, includeResourceData: rich });
      return id;
    },
    async emergencyCall() {
      const call = await control(emu, "POST", `/_emulator/tenants/${org.tenantId}/emergency-calls`, {
        callerId: org.caller.id,
        dialString: "933",
        notify: [org.serviceUser.id],
        location: { kind: "dynamic", place: "4th floor", address: "1 Main Street" },
      });
      return call.messages[0];
    },
    async deliveries() {
      await emu.settle();
      const fresh = receiver.received.slice(consumed);
      consumed = receiver.received.length;
      return fresh
        .filter((r) => (r.path === notifyPath || r.path === lifecyclePath) && r.json)
        .flatMap((r) => toInboxItems(r, orgId));
    },
  };
}

/** What the intake stores per item: the item without clientState, plus the batch's validationTokens. */
function toInboxItems(request: ReceivedRequest, orgId: string | null): InboxItem[] {
  return (request.json.value as Record<string, unknown>[]).map((raw) => {
    const { clientState: _clientState, ...item } = raw;
    return {
      id: randomUUID(),
      orgId,
      subscriptionId: String(item.subscriptionId),
      kind: item.lifecycleEvent ? "lifecycle" : "change",
      item,
      validationTokens: (request.json.validationTokens as string[] | undefined) ?? [],
      receivedAt: clock.now(),
      attempts: 0,
    };
  });
}

const copy = (item: InboxItem, changes: Partial<InboxItem> = {}): InboxItem => ({
  ...structuredClone(item),
  id: randomUUID(),
  ...changes,
});

function flipByte(base64: string, index = 5): string {
  const bytes = Buffer.from(base64, "base64");
  bytes[index] = bytes[index]! ^ 0x01;
  return bytes.toString("base64");
}

describe("rich notifications", () => {
  test("verified, decrypted and handed over exactly once, however often and in whatever order they come", async () => {
    const s = await setup();
    const subscriptionId = await s.subscribe();
    const first = await s.emergencyCall();
    const second = await s.emergencyCall();
    const items = await s.deliveries();
    assert.equal(items.length, 2);
    const [a, b] = items.sort((x, y) =>
      String((x.item.resourceData as any).id).localeCompare(String((y.item.resourceData as any).id)),
    ) as [InboxItem, InboxItem];
    assert.ok(a.item.encryptedContent, "the emulator sent a rich notification");
    // Reordered, and each redelivered by Graph.
    s.inbox.add(b, copy(a), a, copy(b));
    assert.equal(await s.worker.runOnce(), 4);

    assert.deepEqual(s.handed.map((h) => h.message.id).sort(), [first.messageId, second.messageId].sort());
    for (const h of s.handed) {
      assert.equal(h.orgId, s.orgId);
      assert.equal(h.source, "notification");
      assert.equal(h.message.chatId, first.chatId);
      assert.match(h.message.body.content, /has placed an Emergency Call/);
    }
    assert.ok([...s.inbox.rows.values()].every((r) => r.status === "processed"));
    assert.deepEqual(new Set(s.touched), new Set([subscriptionId]));

    // The same item processed again later (a second worker, a replay): nothing new.
    s.inbox.add(copy(a), copy(b));
    assert.equal(await s.worker.runOnce(), 2);
    assert.equal(s.handed.length, 2);
    assert.deepEqual(s.worker.stats(), {
      processed: 6,
      rejected: 0,
      retried: 0,
      handedOff: 2,
      rejectedBy: {},
    });
  });

  test("a backlog processed hours after arrival still verifies; the same item arriving that late is refused as expired", async () => {
    const s = await setup();
    await s.subscribe();
    const call = await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    // Stored at arrival, processed three hours later (worker down, database unreachable): the tokens live 1 hour.
    clock.advance(3 * 60 * MINUTE);
    const replayedLate = copy(item, { receivedAt: clock.now() });
    s.inbox.add(replayedLate);
    await s.worker.runOnce();
    assert.equal(s.inbox.row(replayedLate.id).status, "rejected");
    assert.match(s.inbox.row(replayedLate.id).reason!, /^validation_token_invalid: .*expired/);
    s.inbox.add(item);
    await s.worker.runOnce();
    assert.equal(s.inbox.row(item.id).status, "processed");
    assert.deepEqual(
      s.handed.map((h) => h.message.id),
      [call.messageId],
    );
  });

  test("a tampered ciphertext or signature is refused by the HMAC check, before anything is decrypted", async () => {
    const s = await setup();
    await s.subscribe();
    await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    const content = item.item.encryptedContent as Record<string, string>;
    const tamperedData = copy(item, {
      item: { ...item.item, encryptedContent: { ...content, data: flipByte(content.data!) } },
    });
    const tamperedSignature = copy(item, {
      item: {
        ...item.item,
        encryptedContent: { ...content, dataSignature: flipByte(content.dataSignature!) },
      },
    });
    s.inbox.add(tamperedData, tamperedSignature);
    await s.worker.runOnce();
    for (const bad of [tamperedData, tamperedSignature]) {
      const row = s.inbox.row(bad.id);
      assert.equal(row.status, "rejected");
      // A flipped ciphertext byte that reached AES would end as a padding or JSON error instead.
      assert.match(row.reason!, /^decrypt_failed: ERR_NOTIFICATION_SIGNATURE_MISMATCH/);
    }
    assert.equal(s.handed.length, 0);
    // The genuine item still goes through: nothing was marked seen by the forgeries.
    s.inbox.add(item);
    await s.worker.runOnce();
    assert.equal(s.handed.length, 1);
    assert.equal(s.worker.stats().rejectedBy.decrypt_failed, 2);
    assert.ok(s.events.some((e) => e.kind === "notification_rejected" && /decrypt_failed/.test(e.message)));
  });

  test("a bad validation token is refused before any key is looked up", async () => {
    const s = await setup();
    await s.subscribe();
    await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    const genuine = item.validationTokens[0]!;
    // Right kid, right claims, wrong key: a forgery.
    const { privateKey } = await generateKeyPair("RS256");
    const [, payload] = genuine.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"));
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: decodeProtectedHeader(genuine).kid! })
      .sign(privateKey);
    const cases: Array<[InboxItem, RegExp]> = [
      [copy(item, { validationTokens: [forged] }), /^validation_token_invalid: .*signature does not verify/],
      [
        copy(item, { validationTokens: [genuine, forged] }),
        /^validation_token_invalid: validation token 2 of 2/,
      ],
      [copy(item, { validationTokens: [] }), /^validation_tokens_missing: /],
      [copy(item, { validationTokens: null as unknown as string[] }), /^validation_tokens_missing: /],
      [copy(item, { item: { ...item.item, tenantId: randomUUID() } }), /^tenant_mismatch: /],
    ];
    s.inbox.add(...cases.map(([c]) => c));
    await s.worker.runOnce();
    for (const [c, reason] of cases) {
      assert.equal(s.inbox.row(c.id).status, "rejected");
      assert.match(s.inbox.row(c.id).reason!, reason);
      assert.ok(!s.inbox.row(c.id).reason!.includes(genuine.slice(-20)), "no token material in the reason");
    }
    assert.deepEqual(s.keyResolutions, [], "no decryption was attempted");
    assert.equal(s.handed.length, 0);
    // Missing tokens mean misconfiguration: an error-level operational event, once.
    assert.equal(
      s.events.filter(
        (e) => e.kind === "notification_rejected" && /validation_tokens_missing/.test(e.message),
      ).length,
      1,
    );
    assert.equal(s.events.find((e) => /validation_tokens_missing/.test(e.message))?.severity, "error");
  });

  test("a token for another of our apps, or a certificate id of another org, does not open this org's items", async () => {
    const other = await setup();
    await other.subscribe();
    await other.emergencyCall();
    const [otherItem] = (await other.deliveries()) as [InboxItem];
    // This worker knows both orgs' apps (they share the notification URL), so the other org's token verifies.
    const s = await setup({
      extraApps: [{ orgId: other.orgId, clientId: other.org.clientId, tenantId: other.org.tenantId }],
    });
    await s.subscribe();
    await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    const foreignToken = copy(item, { validationTokens: otherItem.validationTokens });
    const wrongKey = copy(item, {
      item: {
        ...item.item,
        encryptedContent: {
          ...(item.item.encryptedContent as object),
          encryptionCertificateId: "cert-of-another-org",
        },
      },
    });
    s.inbox.add(foreignToken, wrongKey);
    await s.worker.runOnce();
    assert.match(
      s.inbox.row(foreignToken.id).reason!,
      /^validation_token_invalid: no validation token is for this org/,
    );
    assert.match(s.inbox.row(wrongKey.id).reason!, /^certificate_org_mismatch: /);
    assert.equal(s.handed.length, 0);
  });

  test("a batch shared by two orgs carries a token per app: each org's items pass", async () => {
    const b = await setup();
    const bCertificate = await createSelfSignedEncryptionCertificate({ commonName: "b", now: clock.now() });
    // One worker for the relay's one notification URL: it knows both orgs' apps and keys.
    const a = await setup({
      extraApps: [{ orgId: b.orgId, clientId: b.org.clientId, tenantId: b.org.tenantId }],
      extraKeys: {
        "cert-b": {
          orgId: b.orgId,
          privateKeyPem: bCertificate.privateKeyPem,
          thumbprint: bCertificate.thumbprint,
        },
      },
    });
    await a.subscribe();
    const res = await graph(emu, b.tokens.access_token, "POST", "/subscriptions", {
      changeType: "created",
      notificationUrl: `${receiver.url}${a.notifyPath}`,
      lifecycleNotificationUrl: `${receiver.url}${a.lifecyclePath}`,
      resource: "/me/chats/getAllMessages",
      expirationDateTime: new Date(clock.now() + 4000 * MINUTE).toISOString(),
      clientState: "b-state",
      includeResourceData: true,
      encryptionCertificate: bCertificate.base64Der,
      encryptionCertificateId: "cert-b",
    });
    assert.equal(res.status, 201, res.text);
    const subB = res.json().id as string;
    a.subscriptions.set(subB, {
      id: subB,
      orgId: b.orgId,
      clientState: "b-state",
      includeResourceData: true,
    });
    // Held back together, the two notifications leave in one batch, as Graph batches per URL.
    await control(emu, "POST", "/_emulator/faults", {
      target: "delivery",
      kind: "delay",
      delaySeconds: 10,
      match: a.notifyPath,
      times: 2,
    });
    const callA = await a.emergencyCall();
    const callB = await b.emergencyCall();
    clock.advance(10_000);
    const items = (await a.deliveries()).map((i) => ({ ...i, orgId: null }));
    assert.equal(items.length, 2);
    assert.ok(
      items.every((i) => i.validationTokens.length === 2),
      "one batch, one token per (app, tenant) pair",
    );
    a.inbox.add(...items);
    await a.worker.runOnce();
    assert.deepEqual(
      a.handed.map((h) => [h.orgId, h.message.id]).sort(),
      [
        [a.orgId, callA.messageId],
        [b.orgId, callB.messageId],
      ].sort(),
    );
    assert.ok([...a.inbox.rows.values()].every((r) => r.status === "processed"));
  });
});

describe("basic notifications", () => {
  test("the message is fetched from Graph and handed over once", async () => {
    const s = await setup();
    await s.subscribe({ rich: false });
    const call = await s.emergencyCall();
    const items = await s.deliveries();
    assert.equal(items.length, 1);
    assert.equal(items[0]!.item.encryptedContent, undefined);
    s.inbox.add(items[0]!, copy(items[0]!));
    await s.worker.runOnce();
    assert.equal(s.handed.length, 1);
    assert.equal(s.handed[0]!.message.id, call.messageId);
    assert.equal(s.handed[0]!.message.chatId, call.chatId);
    assert.match(s.handed[0]!.message.body.content, /has placed an Emergency Call/);
    assert.equal(s.worker.stats().processed, 2);
  });

  test("a message Graph no longer has (404) is refused with its reason, not retried forever", async () => {
    const s = await setup();
    await s.subscribe({ rich: false });
    const call = await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    const resource = `chats('${call.chatId}')/messages('9999999999999')`;
    const gone = copy(item, { item: { ...item.item, resource, resourceData: { id: "9999999999999" } } });
    const channel = copy(item, {
      item: { ...item.item, resource: "teams('t')/channels('c')/messages('m')", resourceData: {} },
    });
    s.inbox.add(gone, channel);
    await s.worker.runOnce();
    assert.match(s.inbox.row(gone.id).reason!, /^message_not_found: Graph answered 404/);
    assert.match(s.inbox.row(channel.id).reason!, /^unsupported_resource: /);
    assert.equal(s.handed.length, 0);
  });

  test("a 429 from Graph puts the item back until Retry-After has passed; it is not lost", async () => {
    const s = await setup();
    await s.subscribe({ rich: false });
    const call = await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    await control(emu, "POST", "/_emulator/faults", {
      target: "graph",
      kind: "http",
      status: 429,
      retryAfter: 7,
      match: "/messages",
    });
    s.inbox.add(item);
    const t = clock.now();
    await s.worker.runOnce();
    const row = s.inbox.row(item.id);
    assert.equal(row.status, "pending");
    assert.equal(row.nextAt, t + 7000);
    assert.match(row.lastError!, /429/);
    assert.equal(s.handed.length, 0);
    assert.equal(await s.worker.runOnce(), 0, "not due before Retry-After");
    clock.advance(7000);
    await s.worker.runOnce();
    assert.equal(s.inbox.row(item.id).status, "processed");
    assert.deepEqual(
      s.handed.map((h) => h.message.id),
      [call.messageId],
    );
  });

  test("a Graph call that hangs is retried with backoff", async () => {
    const s = await setup({ graphTimeoutMs: 300 });
    await s.subscribe({ rich: false });
    await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    await control(emu, "POST", "/_emulator/faults", { target: "graph", kind: "hang", match: "/messages" });
    s.inbox.add(item);
    const t = clock.now();
    await s.worker.runOnce();
    const row = s.inbox.row(item.id);
    assert.equal(row.status, "pending");
    assert.equal(row.nextAt, t + 5000, "5 s after the first attempt");
    assert.match(row.lastError!, /timeout/);
    clock.advance(5000);
    await s.worker.runOnce();
    assert.equal(s.handed.length, 1);
  });
});

describe("hand-off and lifecycle", () => {
  test("a failed hand-off releases the message: the retry hands it over, once", async () => {
    const s = await setup();
    await s.subscribe();
    await s.emergencyCall();
    const [item] = (await s.deliveries()) as [InboxItem];
    s.failHandOffs.count = 1;
    s.inbox.add(item);
    await s.worker.runOnce();
    assert.equal(s.inbox.row(item.id).status, "pending");
    assert.match(s.inbox.row(item.id).lastError!, /detection is down/);
    clock.advance(5000);
    s.inbox.add(copy(item));
    await s.worker.runOnce();
    assert.equal(s.handed.length, 1);
    assert.ok([...s.inbox.rows.values()].every((r) => r.status === "processed"));
  });

  test("lifecycle events go to the subscription keeper; unknown subscriptions are refused", async () => {
    const s = await setup();
    const subscriptionId = await s.subscribe();
    await control(emu, "POST", `/_emulator/subscriptions/${subscriptionId}/lifecycle`, {
      event: "reauthorizationRequired",
    });
    const items = await s.deliveries();
    assert.equal(items.length, 1);
    assert.equal(items[0]!.kind, "lifecycle");
    const unknown = copy(items[0]!, { subscriptionId: randomUUID() });
    s.inbox.add(items[0]!, unknown);
    await s.worker.runOnce();
    assert.deepEqual(s.lifecycle, [{ subscriptionId, event: "reauthorizationRequired" }]);
    assert.equal(s.inbox.row(items[0]!.id).status, "processed");
    assert.match(s.inbox.row(unknown.id).reason!, /^unknown_subscription: /);
  });
});
