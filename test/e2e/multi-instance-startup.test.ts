// Issue 7, starting and running several instances on one PostgreSQL database: an instance with another
// RELAY_ENCRYPTION_KEY refuses to start (and says why without showing a key), and /readyz follows the database.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { freePort } from "../helpers/relay-setup.ts";
import { spawnRelayProcess, waitFor, type RelayProcess } from "../helpers/relay-process.ts";
import { startTcpForwarder, type TcpForwarder } from "../helpers/tcp-forwarder.ts";

let db: TestDatabase;
let dir: string;
const started: RelayProcess[] = [];
const keyA = randomBytes(32).toString("hex");
const keyB = randomBytes(32).toString("hex");
/** The key the database's secrets are sealed with, once the first test decided it. */
let databaseKey = keyA;

async function start(env: Record<string, string>): Promise<RelayProcess> {
  const port = await freePort();
  const relay = spawnRelayProcess(
    {
      RELAY_DATABASE_URL: db.location,
      RELAY_DATA_DIR: await mkdtemp(path.join(dir, "instance-")),
      RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
      RELAY_ADMIN_TOKEN: randomBytes(32).toString("base64url"),
      RELAY_LOG_LEVEL: "warn",
      ...env,
    },
    port,
  );
  started.push(relay);
  return relay;
}

before(async () => {
  db = await openTestDatabase("postgres", { migrate: false });
  dir = await mkdtemp(path.join(tmpdir(), "relay-startup-"));
});
after(async () => {
  for (const relay of started) relay.child.kill("SIGKILL");
  await Promise.all(started.map((r) => r.exited));
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test("an instance with another encryption key than the database's refuses to start and names key ids only", async () => {
  // Two at once on a new database with different keys: exactly one seals the key check, the other refuses.
  const [first, second] = await Promise.all([
    start({ RELAY_ENCRYPTION_KEY: keyA }),
    start({ RELAY_ENCRYPTION_KEY: keyB }),
  ]);
  const outcomes = await Promise.all(
    [first!, second!].map((relay) =>
      relay.ready(60_000).then(
        () => "ready",
        () => "refused",
      ),
    ),
  );
  assert.deepEqual([...outcomes].sort(), ["ready", "refused"]);
  const winner = outcomes[0] === "ready" ? first! : second!;
  const loser = outcomes[0] === "ready" ? second! : first!;
  const winnerKey = winner === first ? keyA : keyB;
  const loserKey = winner === first ? keyB : keyA;
  databaseKey = winnerKey;
  assert.deepEqual(await loser.exited, { code: 78, signal: null });
  const message = loser.stderr();
  assert.match(message, /RELAY_ENCRYPTION_KEY does not match this database/);
  assert.match(message, /sealed with key id [0-9a-f]{8}, this instance's key has id [0-9a-f]{8}/);
  assert.match(message, /rotate-key/);
  for (const key of [keyA, keyB, Buffer.from(keyA, "hex").toString("base64")])
    assert.ok(!message.includes(key), "no key in the message");

  // The same key again: a third instance joins; the refused key is refused again.
  const third = await start({ RELAY_ENCRYPTION_KEY: winnerKey });
  await third.ready();
  const again = await start({ RELAY_ENCRYPTION_KEY: loserKey });
  assert.deepEqual(await again.exited, { code: 78, signal: null });
  winner.child.kill("SIGTERM");
  third.child.kill("SIGTERM");
  assert.deepEqual(await winner.exited, { code: 0, signal: null });
  assert.deepEqual(await third.exited, { code: 0, signal: null });
});

test("/readyz answers 503 within its timeout while the database does not answer, and 200 again after", async (t) => {
  const target = new URL(db.location);
  const forwarder: TcpForwarder = await startTcpForwarder({
    host: target.hostname,
    port: Number(target.port),
  });
  t.after(() => forwarder.close());
  const viaForwarder = new URL(db.location);
  viaForwarder.port = String(forwarder.port);
  const live = await start({
    RELAY_DATABASE_URL: viaForwarder.toString(),
    RELAY_ENCRYPTION_KEY: databaseKey,
  });
  await live.ready();
  const readyz = () => httpRequest(`${live.url}/readyz`, { timeoutMs: 10_000 });
  assert.equal((await readyz()).status, 200);

  forwarder.blackhole();
  const startedAt = Date.now();
  const down = await readyz();
  assert.equal(down.status, 503, down.text);
  assert.ok(Date.now() - startedAt < 5000, "answered within the check's timeout");
  assert.equal(down.json().checks.storage, "unreachable: no answer within 2000 ms");
  assert.ok(!down.text.includes(target.password), "no database password in the answer");
  assert.equal((await httpRequest(`${live.url}/healthz`)).status, 200, "the process itself is up");

  forwarder.restore();
  await waitFor("ready again", async () => ((await readyz()).status === 200 ? true : undefined), 30_000, 250);
  live.child.kill("SIGTERM");
  assert.deepEqual(await live.exited, { code: 0, signal: null });
});
