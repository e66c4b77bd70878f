import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import { createSecretBox, secretKeyId } from "../../src/storage/secret-box.ts";

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);
const SECRET = "Xq8~Q-very.secret_value~0123456789";
const AAD = "orgs:client_secret:org_0123456789abcdef";

/** Asserts `fn` throws ERR_SECRET_UNREADABLE whose message matches `why` and leaks neither plaintext nor key. */
function assertUnreadable(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RelayError, `expected RelayError, got ${String(error)}`);
    assert.equal(error.code, "ERR_SECRET_UNREADABLE");
    assert.match(error.message, why);
    for (const leak of [SECRET, KEY.toString("base64"), KEY.toString("hex"), OTHER_KEY.toString("hex")]) {
      assert.ok(!error.message.includes(leak), "message leaks a secret value");
    }
    assert.ok(!String(error.stack).includes(SECRET));
    return true;
  });
}

/** Replaces part `index` of an envelope, keeping the rest. */
function withPart(envelope: string, index: number, replace: (part: Buffer) => Buffer): string {
  const parts = envelope.split(".");
  parts[index] = replace(Buffer.from(parts[index]!, "base64url")).toString("base64url");
  return parts.join(".");
}

function flipFirstBit(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[0] = copy[0]! ^ 1;
  return copy;
}

describe("secret box (AES-256-GCM)", () => {
  it("round-trips text, including empty and non-ASCII text", () => {
    const box = createSecretBox(KEY);
    for (const plaintext of [SECRET, "", "é🔑 ünïcode", "x".repeat(100_000)]) {
      assert.equal(box.open(box.seal(plaintext, AAD), AAD), plaintext);
    }
  });

  it("writes v1.<keyId>.<iv>.<tag>.<ciphertext> without the plaintext", () => {
    const envelope = createSecretBox(KEY).seal(SECRET, AAD);
    const parts = envelope.split(".");
    assert.equal(parts.length, 5);
    assert.equal(parts[0], "v1");
    assert.equal(parts[1], secretKeyId(KEY));
    assert.match(parts[1]!, /^[0-9a-f]{8}$/);
    assert.equal(Buffer.from(parts[2]!, "base64url").length, 12);
    assert.equal(Buffer.from(parts[3]!, "base64url").length, 16);
    assert.equal(Buffer.from(parts[4]!, "base64url").length, Buffer.byteLength(SECRET));
    for (const part of parts.slice(2)) assert.match(part, /^[A-Za-z0-9_-]+$/);
    assert.ok(!envelope.includes(SECRET));
    assert.ok(!envelope.includes(Buffer.from(SECRET).toString("base64url")));
  });

  it("uses a fresh IV for every seal", () => {
    const box = createSecretBox(KEY);
    const envelopes = Array.from({ length: 50 }, () => box.seal(SECRET, AAD));
    assert.equal(new Set(envelopes.map((e) => e.split(".")[2])).size, envelopes.length);
    assert.equal(new Set(envelopes).size, envelopes.length);
  });

  it("opens with another box built from the same key (a restart)", () => {
    const envelope = createSecretBox(KEY).seal(SECRET, AAD);
    assert.equal(createSecretBox(Buffer.from(KEY)).open(envelope, AAD), SECRET);
  });

  it("rejects a different aad: a value moved to another row", () => {
    const box = createSecretBox(KEY);
    const envelope = box.seal(SECRET, AAD);
    assertUnreadable(
      () => box.open(envelope, "orgs:client_secret:org_ffffffffffffffff"),
      /authentication failed/,
    );
    assertUnreadable(() => box.open(envelope, ""), /authentication failed/);
  });

  it("reports a different key as such", () => {
    const envelope = createSecretBox(KEY).seal(SECRET, AAD);
    assertUnreadable(() => createSecretBox(OTHER_KEY).open(envelope, AAD), /different key id/);
  });

  it("rejects a wrong key even when the key id is forged to match", () => {
    const other = createSecretBox(OTHER_KEY);
    const parts = createSecretBox(KEY).seal(SECRET, AAD).split(".");
    parts[1] = secretKeyId(OTHER_KEY);
    assertUnreadable(() => other.open(parts.join("."), AAD), /authentication failed/);
  });

  it("rejects a tampered tag, ciphertext or IV", () => {
    const box = createSecretBox(KEY);
    const envelope = box.seal(SECRET, AAD);
    assertUnreadable(() => box.open(withPart(envelope, 3, flipFirstBit), AAD), /authentication failed/);
    assertUnreadable(() => box.open(withPart(envelope, 4, flipFirstBit), AAD), /authentication failed/);
    assertUnreadable(() => box.open(withPart(envelope, 2, flipFirstBit), AAD), /authentication failed/);
    // A truncated ciphertext, and one with a byte appended.
    assertUnreadable(
      () =>
        box.open(
          withPart(envelope, 4, (b) => b.subarray(1)),
          AAD,
        ),
      /authentication failed/,
    );
    assertUnreadable(
      () =>
        box.open(
          withPart(envelope, 4, (b) => Buffer.concat([b, Buffer.from([0])])),
          AAD,
        ),
      /authentication failed/,
    );
  });

  it("rejects malformed envelopes", () => {
    const box = createSecretBox(KEY);
    const envelope = box.seal(SECRET, AAD);
    const malformed = [
      "",
      SECRET,
      envelope.replace(/^v1/, "v2"),
      envelope.split(".").slice(0, 4).join("."),
      `${envelope}.extra`,
      envelope.replace(/\.([^.]*)$/, ".!!!"),
      withPart(envelope, 3, (b) => b.subarray(0, 12)), // short tag: GCM would accept a truncated tag
      withPart(envelope, 2, (b) => Buffer.concat([b, b])), // 24-byte IV
    ];
    for (const bad of malformed) assertUnreadable(() => box.open(bad, AAD), /malformed envelope/);
  });

  it("accepts only a 32-byte key", () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(
        () => createSecretBox(randomBytes(length)),
        (error: unknown) => {
          assert.ok(error instanceof RelayError);
          assert.match(error.message, /32 bytes/);
          return true;
        },
      );
    }
  });

  it("keeps its own copy of the key", () => {
    const key = Buffer.from(KEY);
    const box = createSecretBox(key);
    const envelope = box.seal(SECRET, AAD);
    key.fill(0);
    assert.equal(box.open(envelope, AAD), SECRET);
  });
});
