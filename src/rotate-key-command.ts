import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { loadConfig } from "./config.ts";
import { systemClock } from "./core/clock.ts";
import { RelayError } from "./core/errors.ts";
import { verifyEncryptionKey } from "./storage/encryption-key-check.ts";
import {
  decodeEncryptionKey,
  readEncryptionKeyFile,
  replaceEncryptionKeyFile,
} from "./storage/encryption-key.ts";
import { migrateToLatest } from "./storage/migrate.ts";
import { openDatabase } from "./storage/open-database.ts";
import { rotateEncryptionKey } from "./storage/rotate-encryption-key.ts";
import { createSecretBox, secretKeyId } from "./storage/secret-box.ts";

export const ROTATE_KEY_USAGE = `Usage: teams-emergency-relay rotate-key --new-key-file FILE

Re-seals every secret in the database (client secrets, token caches, PKCE verifiers, certificate keys,
clientStates, channel secrets, alert messages) from the current key to the key in FILE, in one transaction.
The current key is RELAY_ENCRYPTION_KEY, or the data directory's encryption.key. FILE holds 32 bytes as base64
or 64 hex characters, e.g. made with \`openssl rand -base64 32 > new.key\`.

Stop every instance first. Afterwards set RELAY_ENCRYPTION_KEY to the new key on every instance (when the key came
from the data directory, its encryption.key is replaced and the old one kept as encryption.key.retired-<id>).
`;

export interface RotateKeyIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** `teams-emergency-relay rotate-key`: returns the exit status; RelayErrors (bad key, database) propagate. */
export async function runRotateKey(
  args: string[],
  env: Record<string, string | undefined>,
  io: RotateKeyIo,
): Promise<number> {
  let newKeyFile: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: { "new-key-file": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      io.stdout.write(ROTATE_KEY_USAGE);
      return 0;
    }
    newKeyFile = values["new-key-file"];
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${ROTATE_KEY_USAGE}`);
    return 2;
  }
  if (!newKeyFile) {
    io.stderr.write(`--new-key-file is required\n\n${ROTATE_KEY_USAGE}`);
    return 2;
  }

  const config = loadConfig(env);
  const fromFile = config.encryptionKey === undefined;
  const oldKey = config.encryptionKey ?? (await readEncryptionKeyFile(config.dataDir));
  if (oldKey === undefined) {
    throw new RelayError(
      "ERR_CONFIG",
      `No current key: RELAY_ENCRYPTION_KEY is unset and ${config.dataDir} has no encryption.key`,
    );
  }
  const newKey = decodeEncryptionKey((await readFile(newKeyFile, "utf8").catch(() => "")).trim());
  if (newKey === undefined) {
    throw new RelayError(
      "ERR_CONFIG",
      `${newKeyFile} is missing or malformed: it must hold 32 bytes as base64 or 64 hex characters`,
    );
  }
  if (newKey.equals(oldKey)) throw new RelayError("ERR_CONFIG", "The new key is the current key");

  // One connection: on PostgreSQL, any other relay connection to this database is a running instance.
  const storage = await openDatabase({ ...config.database, poolMax: 1 });
  try {
    await migrateToLatest(storage.db, storage.engine);
    if (storage.engine === "postgres") {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'teams-emergency-relay'
          and pid <> pg_backend_pid()`.execute(storage.db);
      const others = Number(rows[0]?.n ?? 0);
      if (others > 0) {
        throw new RelayError(
          "ERR_CONFLICT",
          `${others} other relay connection(s) to this database are open: stop every instance, then run rotate-key again`,
        );
      }
    }
    const from = createSecretBox(oldKey);
    await verifyEncryptionKey(storage.db, from, systemClock.now());
    const counts = await rotateEncryptionKey(storage.db, from, createSecretBox(newKey));
    io.stdout.write(`re-sealed with key ${secretKeyId(newKey)} (was ${secretKeyId(oldKey)}):\n`);
    for (const [column, n] of Object.entries(counts)) io.stdout.write(`  ${column}: ${n}\n`);
    if (fromFile) {
      const retired = await replaceEncryptionKeyFile(config.dataDir, newKey, secretKeyId(oldKey));
      io.stdout.write(
        `${config.dataDir}/encryption.key now holds the new key; the old one is ${retired} (backups taken ` +
          "before now need it).\n",
      );
    } else {
      io.stdout.write(
        "Set RELAY_ENCRYPTION_KEY to the new key on every instance before starting them; keep the old key with " +
          "the backups taken before now.\n",
      );
    }
    return 0;
  } finally {
    await storage.close();
  }
}
