import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import { ENCRYPTION_KEY_FILE, loadOrCreateEncryptionKey } from "../../src/storage/encryption-key.ts";

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "relay-key-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("encryption key", () => {
  it("creates a 0600 key file in a new 0700 data directory on first start", async (t) => {
    const dataDir = path.join(await tempDir(t), "data", "nested");
    const first = await loadOrCreateEncryptionKey({ dataDir });
    assert.equal(first.source, "file");
    assert.equal(first.createdFile, true);
    assert.equal(first.key.length, 32);

    const file = path.join(dataDir, ENCRYPTION_KEY_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    const text = await readFile(file, "utf8");
    assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.deepEqual(Buffer.from(text.trim(), "base64"), first.key);
    // No temporary file left behind.
    assert.deepEqual(await readdir(dataDir), [ENCRYPTION_KEY_FILE]);
  });

  it("reuses the file afterwards", async (t) => {
    const dataDir = await tempDir(t);
    const first = await loadOrCreateEncryptionKey({ dataDir });
    const second = await loadOrCreateEncryptionKey({ dataDir });
    assert.deepEqual(second, { key: first.key, source: "file", createdFile: false });
  });

  it("gives every racer the same key and creates the file once", async (t) => {
    const dataDir = await tempDir(t);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateEncryptionKey({ dataDir })),
    );
    assert.equal(results.filter((r) => r.createdFile).length, 1);
    for (const result of results) assert.deepEqual(result.key, results[0]!.key);
    assert.deepEqual(await readdir(dataDir), [ENCRYPTION_KEY_FILE]);
  });

  it("uses the configured key and touches no file", async (t) => {
    const dataDir = await tempDir(t);
    const configuredKey = randomBytes(32);
    await writeFile(path.join(dataDir, ENCRYPTION_KEY_FILE), `${randomBytes(32).toString("base64")}\n`);
    const result = await loadOrCreateEncryptionKey({ configuredKey, dataDir });
    assert.deepEqual(result, { key: configuredKey, source: "env", createdFile: false });

    const empty = path.join(dataDir, "empty");
    await loadOrCreateEncryptionKey({ configuredKey, dataDir: empty });
    await assert.rejects(stat(empty), { code: "ENOENT" });
  });

  it("rejects a configured key that is not 32 bytes", async (t) => {
    const dataDir = await tempDir(t);
    await assert.rejects(loadOrCreateEncryptionKey({ configuredKey: randomBytes(16), dataDir }), {
      code: "ERR_CONFIG",
    });
  });

  it("accepts a key file written as hex", async (t) => {
    const dataDir = await tempDir(t);
    const key = randomBytes(32);
    await writeFile(path.join(dataDir, ENCRYPTION_KEY_FILE), key.toString("hex"));
    assert.deepEqual((await loadOrCreateEncryptionKey({ dataDir })).key, key);
  });

  it("names a malformed file without showing its content, and does not replace it", async (t) => {
    const dataDir = await tempDir(t);
    const file = path.join(dataDir, ENCRYPTION_KEY_FILE);
    const contents = [
      "",
      "not a key at all: hunter2-hunter2",
      randomBytes(16).toString("base64"),
      randomBytes(33).toString("base64"),
    ];
    for (const content of contents) {
      await writeFile(file, content, { mode: 0o600 });
      await assert.rejects(loadOrCreateEncryptionKey({ dataDir }), (error: unknown) => {
        assert.ok(error instanceof RelayError);
        assert.equal(error.code, "ERR_CONFIG");
        assert.ok(error.message.includes(file), "the message names the file");
        assert.match(error.message, /malformed/);
        if (content !== "") assert.ok(!error.message.includes(content), "the message shows the content");
        assert.ok(!error.message.includes("hunter2"));
        return true;
      });
      assert.equal(await readFile(file, "utf8"), content);
    }
  });

  it("reports a key file it cannot read", async (t) => {
    const dataDir = await tempDir(t);
    // A directory in the key file's place: unreadable as a file even for root (unlike a 0000 file).
    await mkdir(path.join(dataDir, ENCRYPTION_KEY_FILE));
    await assert.rejects(loadOrCreateEncryptionKey({ dataDir }), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.code, "ERR_CONFIG");
      assert.match(error.message, /Cannot read the encryption key file .*encryption\.key: EISDIR/);
      return true;
    });
  });
});
