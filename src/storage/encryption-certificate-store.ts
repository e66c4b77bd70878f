import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { DecryptionKeyring } from "../core/intake-ports.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { CertificateRepository, EncryptionCertificateInfo } from "../core/subscription.ts";
import { CERTIFICATE_VALID_DAYS } from "../core/subscription-policy.ts";
import { createSelfSignedEncryptionCertificate } from "../microsoft/encryption-certificate.ts";
import type { Database, EncryptionCertificatesTable } from "./schema.ts";

export type StoredEncryptionCertificate = EncryptionCertificateInfo;

/** Binds a sealed private key to its certificate row. */
export function privateKeyAad(id: string): string {
  return `encryption_certificates:private_key:${id}`;
}

const MAX_ID_LENGTH = 128;

/**
 * `encryption_certificates`: one RSA-2048 certificate per org for rich notifications, private key sealed. Rotation
 * creates a new one and retires the old, which stays resolvable: Graph may keep encrypting with it for a while.
 */
export class EncryptionCertificateStore implements DecryptionKeyring, CertificateRepository {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, secretBox: SecretBox) {
    this.#db = db;
    this.#box = secretBox;
  }

  /** The newest certificate of the org that is not retired. */
  async current(orgId: string): Promise<StoredEncryptionCertificate | undefined> {
    const row = await this.#db
      .selectFrom("encryption_certificates")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("retired_at", "is", null)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? toCertificate(row) : undefined;
  }

  async get(id: string): Promise<StoredEncryptionCertificate | undefined> {
    const row = await this.#db
      .selectFrom("encryption_certificates")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toCertificate(row) : undefined;
  }

  /** Every certificate of the org, newest first, retired ones included. */
  async list(orgId: string): Promise<StoredEncryptionCertificate[]> {
    const rows = await this.#db
      .selectFrom("encryption_certificates")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .execute();
    return rows.map(toCertificate);
  }

  /** Generates and stores a new certificate for the org (valid from `now`); the private key is stored sealed. */
  async create(orgId: string, now: number): Promise<StoredEncryptionCertificate> {
    const id = `relay-${orgId}-${randomBytes(12).toString("hex")}`;
    if (id.length > MAX_ID_LENGTH)
      throw new RangeError(`encryptionCertificateId longer than ${MAX_ID_LENGTH}`);
    const generated = await createSelfSignedEncryptionCertificate({
      commonName: `teams-emergency-relay ${orgId}`,
      bits: 2048,
      validDays: CERTIFICATE_VALID_DAYS,
      now,
    });
    const row: Selectable<EncryptionCertificatesTable> = {
      id,
      org_id: orgId,
      certificate_der_base64: generated.base64Der,
      private_key_ciphertext: this.#box.seal(generated.privateKeyPem, privateKeyAad(id)),
      thumbprint: generated.thumbprint,
      not_after: generated.notAfter,
      created_at: now,
      retired_at: null,
    };
    await this.#db.insertInto("encryption_certificates").values(row).execute();
    return toCertificate(row);
  }

  /** Marks it no longer current; it keeps decrypting notifications that still name it. */
  async retire(id: string, now: number): Promise<void> {
    await this.#db
      .updateTable("encryption_certificates")
      .set({ retired_at: now })
      .where("id", "=", id)
      .where("retired_at", "is", null)
      .execute();
  }

  /** The private key registered as `encryptionCertificateId`, retired ones included; undefined when unknown. */
  async resolve(
    encryptionCertificateId: string,
  ): Promise<{ orgId: string; privateKeyPem: string; thumbprint: string } | undefined> {
    const row = await this.#db
      .selectFrom("encryption_certificates")
      .select(["org_id", "private_key_ciphertext", "thumbprint"])
      .where("id", "=", encryptionCertificateId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      orgId: row.org_id,
      privateKeyPem: this.#box.open(row.private_key_ciphertext, privateKeyAad(encryptionCertificateId)),
      thumbprint: row.thumbprint,
    };
  }
}

function toCertificate(row: Selectable<EncryptionCertificatesTable>): StoredEncryptionCertificate {
  return {
    id: row.id,
    orgId: row.org_id,
    certificateDerBase64: row.certificate_der_base64,
    thumbprint: row.thumbprint,
    notAfter: Number(row.not_after),
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  };
}
