import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

// scrypt as OWASP's password storage cheat sheet describes it, at N=2^15, r=8, p=1 (32 MiB, about 0.1 s here):
// a little under OWASP's 2^17 so a sign-in stays quick on a 2-core host. The parameters travel in the hash, so
// raising them later only affects new hashes, and verification follows whatever a hash says (within limits).
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAX_N = 2 ** 20;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
  /** Same cost as `verify` for an unknown username, so response time does not tell which usernames exist. */
  verifyDummy(password: string): Promise<void>;
}

export function createPasswordHasher(
  cost: { N: number; r: number; p: number } = DEFAULT_COST,
): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const hash = async (password: string) => {
    const salt = randomBytes(SALT_LENGTH);
    const key = await derive(password, salt, cost);
    return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")].join(
      "$",
    );
  };
  const verify = async (password: string, stored: string) => {
    const parsed = parseHash(stored);
    if (parsed === undefined) return false;
    const key = await derive(password, parsed.salt, parsed);
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  };
  return {
    hash,
    verify,
    async verifyDummy(password) {
      dummy ??= hash(randomBytes(16).toString("hex"));
      await verify(password, await dummy);
    },
  };
}

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = {
    N: cost.N,
    r: cost.r,
    p: cost.p,
    maxmem: 256 * cost.N * cost.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFC"), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

function parseHash(
  stored: string,
): { N: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || salt === undefined || key === undefined) return undefined;
  const N = Number(n);
  const cost = { N, r: Number(r), p: Number(p) };
  // A corrupted or hostile row must not make one sign-in allocate gigabytes.
  const sane =
    Number.isInteger(N) &&
    N >= 2 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    cost.r >= 1 &&
    cost.r <= 32 &&
    cost.p >= 1 &&
    cost.p <= 16;
  if (!sane) return undefined;
  return { ...cost, salt: Buffer.from(salt, "base64url"), key: Buffer.from(key, "base64url") };
}
