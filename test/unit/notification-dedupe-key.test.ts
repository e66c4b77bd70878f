import assert from "node:assert/strict";
import { test } from "node:test";
import { notificationDedupeKey } from "../../src/http/graph-notification-routes.ts";

const change = (messageId: string, data = "ciphertext") => ({
  subscriptionId: "sub-1",
  changeType: "created",
  clientState: "secret",
  resource: `chats('19:abc@thread.v2')/messages('${messageId}')`,
  encryptedContent: { data },
});

test("a redelivered item gets the same key, whatever its clientState", () => {
  assert.equal(
    notificationDedupeKey(change("1700000000001")),
    notificationDedupeKey({ ...change("1700000000001"), clientState: "other" }),
  );
});

test("keys of chat messages lead with the message id, so later messages sort after earlier ones", () => {
  const earlier = notificationDedupeKey(change("1700000000001"));
  const later = notificationDedupeKey(change("1700000000002"));
  assert.match(earlier, /^1700000000001:[0-9a-f]{64}$/);
  assert.ok(earlier < later);
});

test("another change of the same message (an edit) is another item", () => {
  assert.notEqual(
    notificationDedupeKey(change("1700000000001", "v1")),
    notificationDedupeKey(change("1700000000001", "v2")),
  );
});

test("lifecycle items and other resources keep a plain digest", () => {
  const lifecycle = notificationDedupeKey({
    subscriptionId: "sub-1",
    lifecycleEvent: "reauthorizationRequired",
    subscriptionExpirationDateTime: "2026-11-30T00:00:00Z",
  });
  assert.match(lifecycle, /^[0-9a-f]{64}$/);
  assert.match(
    notificationDedupeKey({ subscriptionId: "s", resource: "teams('t')/channels('c')" }),
    /^[0-9a-f]{64}$/,
  );
});
