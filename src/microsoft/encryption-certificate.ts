// The self-signed RSA certificate a Graph client sends as `encryptionCertificate` for rich notifications
// (https://learn.microsoft.com/graph/change-notifications-with-resource-data, "Supplying the key"): Graph uses the
// public key only and checks neither issuer nor validity. node:crypto can parse certificates but not create them,
// hence @peculiar/x509 (which needs reflect-metadata loaded first and a WebCrypto provider).
import "reflect-metadata";
import crypto from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto.webcrypto);

const DAY_MS = 24 * 60 * 60 * 1000;

export interface EncryptionCertificateOptions {
  commonName: string;
  /** Graph accepts 2048 to 4096; other sizes are allowed here so tests can exercise the rejection. */
  bits?: number;
  validDays?: number;
  /** Validity is counted from here (epoch ms); defaults to the system clock. */
  now?: number;
}

export interface EncryptionCertificate {
  certificatePem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** The DER as base64 without armour or line breaks: exactly what `encryptionCertificate` carries. */
  base64Der: string;
  /** Upper-case hex SHA-1 of the DER, as Graph sends `encryptionCertificateThumbprint`. */
  thumbprint: string;
  /** Epoch ms. */
  notAfter: number;
}

/** A self-signed RSA certificate for Graph's `encryptionCertificate`. */
export async function createSelfSignedEncryptionCertificate(
  options: EncryptionCertificateOptions,
): Promise<EncryptionCertificate> {
  const subtle = crypto.webcrypto.subtle;
  const now = options.now ?? Date.now();
  const keys = await subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: options.bits ?? 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  // Whole seconds: X.509 times carry no milliseconds, so `notAfter` reads back exactly as stored.
  const notAfter = Math.floor((now + (options.validDays ?? 365) * DAY_MS) / 1000) * 1000;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [options.commonName] }],
    keys,
    notBefore: new Date(Math.floor((now - DAY_MS) / 1000) * 1000),
    notAfter: new Date(notAfter),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.dataEncipherment,
        true,
      ),
    ],
  });
  const der = Buffer.from(certificate.rawData);
  return {
    certificatePem: certificate.toString("pem"),
    privateKeyPem: x509.PemConverter.encode(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
    base64Der: der.toString("base64"),
    thumbprint: certificateThumbprint(der),
    notAfter,
  };
}

/** Upper-case hex SHA-1 of a certificate's DER (`encryptionCertificateThumbprint`); base64 strings are decoded first. */
export function certificateThumbprint(der: Uint8Array | string): string {
  const bytes = typeof der === "string" ? Buffer.from(der, "base64") : der;
  return crypto.createHash("sha1").update(bytes).digest("hex").toUpperCase();
}
