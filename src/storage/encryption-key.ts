import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { RelayError } from "../core/errors.ts";
import { KEY_BYTES } from "./secret-box.ts";

export const ENCRYPTION_KEY_FILE = "encryption.key";

export interface EncryptionKeyResult {
  key: Buffer;
  /** `env`: RELAY_ENCRYPTION_KEY; `file`: `<dataDir>/encryption.key`. */
  source: "env" | "file";
  /** True only on the start that generated the file (worth one log line: back the file up). */
  createdFile: boolean;
}

/**
 * The key that seals secrets at rest. A configured key (RELAY_ENCRYPTION_KEY, parsed by config.ts) wins;
 * otherwise `<dataDir>/encryption.key` is read, or created on first start: 32 random bytes as base64 text,
 * mode 0600, in a 0700 directory. Losing or changing the key makes every stored secret unreadable.
 */
export async function loadOrCreateEncryptionKey(options: {
  configuredKey?: Buffer;
  dataDir: string;
}): Promise<EncryptionKeyResult> {
  if (options.configuredKey !== undefined) {
    if (options.configuredKey.length !== KEY_BYTES) {
      throw new RelayError("ERR_CONFIG", `RELAY_ENCRYPTION_KEY must be exactly ${KEY_BYTES} bytes`);
    }
    return { key: Buffer.from(options.configuredKey), source: "env", createdFile: false };
  }

  const file = path.join(options.dataDir, ENCRYPTION_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== undefined) return { key: existing, source: "file", createdFile: false };

  try {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RelayError(
      "ERR_CONFIG",
      `Cannot create the data directory ${options.dataDir}: ${reason(error)}`,
      {
        cause: error,
      },
    );
  }
  const key = randomBytes(KEY_BYTES);
  if (await publishKeyFile(file, key)) return { key, source: "file", createdFile: true };
  // Another process created it between our read and our write: use theirs, so both seal with the same key.
  const winner = await readKeyFile(file);
  if (winner === undefined) {
    throw new RelayError("ERR_CONFIG", `Encryption key file ${file} disappeared while starting; start again`);
  }
  return { key: winner, source: "file", createdFile: false };
}

/** The key in `file`, or undefined when there is no file. Never puts the file's content in an error. */
async function readKeyFile(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RelayError("ERR_CONFIG", `Cannot read the encryption key file ${file}: ${reason(error)}`, {
      cause: error,
    });
  }
  const key = decodeEncryptionKey(text.trim());
  if (key === undefined) {
    throw new RelayError(
      "ERR_CONFIG",
      `Encryption key file ${file} is malformed: it must hold ${KEY_BYTES} bytes written as base64 (or 64 hex ` +
        "characters). Restore it from a backup, or set RELAY_ENCRYPTION_KEY to the key the stored secrets were " +
        "sealed with; replacing it makes every stored secret unreadable.",
    );
  }
  return key;
}

/** The same forms config.ts accepts for RELAY_ENCRYPTION_KEY: 64 hex characters, or base64(url) of 32 bytes. */
export function decodeEncryptionKey(text: string): Buffer | undefined {
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Buffer.from(text, "base64");
    if (bytes.length === KEY_BYTES) return bytes;
  }
  return undefined;
}

/**
 * Writes the key under a unique temporary name (`wx`, 0600, fsynced), then hard-links it to `file`. link(2)
 * fails with EEXIST when `file` exists, so of two processes racing exactly one publishes, and no reader ever
 * sees a half-written key (a crash leaves at most a stray temporary file, never an empty key file).
 * Returns false when another process published first.
 */
async function publishKeyFile(file: string, key: Buffer): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temporary, "wx", 0o600);
    try {
      await handle.writeFile(`${key.toString("base64")}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    await syncDirectory(path.dirname(file));
    return true;
  } catch (error) {
    throw new RelayError("ERR_CONFIG", `Cannot create the encryption key file ${file}: ${reason(error)}`, {
      cause: error,
    });
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/** The data directory's key file, or undefined when there is none (never creates one). */
export async function readEncryptionKeyFile(dataDir: string): Promise<Buffer | undefined> {
  return readKeyFile(path.join(dataDir, ENCRYPTION_KEY_FILE));
}

/**
 * After a key rotation: the old key file stays as `encryption.key.retired-<retiredKeyId>` (backups taken before
 * the rotation need it), and `encryption.key` holds `key`, replaced atomically (written, fsynced, renamed).
 * Returns the retired file's path.
 */
export async function replaceEncryptionKeyFile(
  dataDir: string,
  key: Buffer,
  retiredKeyId: string,
): Promise<string> {
  const file = path.join(dataDir, ENCRYPTION_KEY_FILE);
  const retired = `${file}.retired-${retiredKeyId}`;
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await link(file, retired).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    const handle = await open(temporary, "wx", 0o600);
    try {
      await handle.writeFile(`${key.toString("base64")}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    await syncDirectory(dataDir);
    return retired;
  } catch (error) {
    throw new RelayError("ERR_CONFIG", `Cannot replace the encryption key file ${file}: ${reason(error)}`, {
      cause: error,
    });
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/** Makes the new directory entry durable; best effort (not every platform can open a directory). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The key file itself is synced; at worst a power cut right now loses a key nothing was sealed with yet.
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (error instanceof Error ? error.message : String(error));
}
