// A throw-away local certificate authority for the emulator's HTTPS. node:crypto can parse certificates but not
// create them, hence @peculiar/x509 (which needs reflect-metadata loaded first and a WebCrypto provider).
import "reflect-metadata";
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto.webcrypto);

type CryptoKey = crypto.webcrypto.CryptoKey;

export interface LocalCa {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

export interface LocalCaOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Lifetime of the server certificate; the CA lives ten times longer. */
  validDays?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// ECDSA P-256: generated in milliseconds, accepted by Node, browsers and curl.
const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const EC_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const subtle = crypto.webcrypto.subtle;

export async function createLocalCa(options: LocalCaOptions = {}): Promise<LocalCa> {
  const validDays = options.validDays ?? 365;
  const caKeys = await subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ["teams-emergency-relay local CA"] }, { O: ["teams-emergency-relay emulator"] }],
    keys: caKeys,
    signingAlgorithm: EC_SIGN,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 10 * validDays * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caKeyPem = await exportPrivateKeyPem(caKeys.privateKey);
  const server = await issueServerCertificate(caCert, caKeys.privateKey, options);
  return { caCertPem: caCert.toString("pem"), caKeyPem, ...server };
}

export interface LocalCaFiles {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

/**
 * Reuses `dir/{ca,ca-key,server,server-key}.pem` when present so a CA the user already trusts stays valid; issues a
 * new server certificate from the stored CA when it expired or does not cover the requested names.
 */
export async function loadOrCreateLocalCa(
  dir: string,
  options: LocalCaOptions = {},
): Promise<LocalCa & { files: LocalCaFiles; written: string[] }> {
  const files: LocalCaFiles = {
    caCert: path.join(dir, "ca.pem"),
    caKey: path.join(dir, "ca-key.pem"),
    cert: path.join(dir, "server.pem"),
    key: path.join(dir, "server-key.pem"),
  };
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const [caCertPem, caKeyPem, certPem, keyPem] = await Promise.all(
    [files.caCert, files.caKey, files.cert, files.key].map(readIfExists),
  );
  const written: string[] = [];

  if (
    caCertPem === undefined ||
    caKeyPem === undefined ||
    !isCurrent(new crypto.X509Certificate(caCertPem))
  ) {
    const created = await createLocalCa(options);
    await writeFiles(files, created, written);
    return { ...created, files, written };
  }
  if (
    certPem !== undefined &&
    keyPem !== undefined &&
    serverCertificateFits(certPem, keyPem, caCertPem, options)
  ) {
    return { caCertPem, caKeyPem, certPem, keyPem, files, written };
  }
  const caKey = await importSigningKey(caKeyPem);
  const server = await issueServerCertificate(new x509.X509Certificate(caCertPem), caKey, options);
  const result = { caCertPem, caKeyPem, ...server };
  await writeFiles(files, result, written, ["key", "cert"]);
  return { ...result, files, written };
}

async function issueServerCertificate(
  caCert: x509.X509Certificate,
  caKey: CryptoKey,
  options: LocalCaOptions,
): Promise<{ certPem: string; keyPem: string }> {
  const dnsNames = options.dnsNames ?? ["localhost"];
  const ipAddresses = options.ipAddresses ?? ["127.0.0.1", "::1"];
  const keys = await subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    subject: [{ CN: [dnsNames[0] ?? ipAddresses[0] ?? "localhost"] }],
    issuer: caCert.subjectName,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: signingAlgorithmFor(caKey),
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + (options.validDays ?? 365) * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // Clients match names against the SAN only; the subject CN is ignored for hostname checks.
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

function serverCertificateFits(
  certPem: string,
  keyPem: string,
  caCertPem: string,
  options: LocalCaOptions,
): boolean {
  const cert = new crypto.X509Certificate(certPem);
  const ca = new crypto.X509Certificate(caCertPem);
  const names = options.dnsNames ?? ["localhost"];
  const ips = options.ipAddresses ?? ["127.0.0.1", "::1"];
  const keyMatches = crypto
    .createPublicKey(keyPem)
    .export({ type: "spki", format: "der" })
    .equals(cert.publicKey.export({ type: "spki", format: "der" }));
  return (
    keyMatches &&
    isCurrent(cert) &&
    cert.checkIssued(ca) &&
    cert.verify(ca.publicKey) &&
    names.every((name) => cert.checkHost(name) !== undefined) &&
    ips.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

function isCurrent(cert: crypto.X509Certificate): boolean {
  return Date.parse(cert.validTo) > Date.now() + DAY_MS;
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  const type = crypto.createPrivateKey(pem).asymmetricKeyType;
  const algorithm = type === "ec" ? EC_KEY : ({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const);
  return subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
}

function signingAlgorithmFor(key: CryptoKey): crypto.webcrypto.Algorithm | crypto.webcrypto.EcdsaParams {
  return key.algorithm.name === "ECDSA" ? EC_SIGN : { name: "RSASSA-PKCS1-v1_5" };
}

async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function writeFiles(
  files: LocalCaFiles,
  pems: LocalCa,
  written: string[],
  which: (keyof LocalCaFiles)[] = ["caKey", "caCert", "key", "cert"],
): Promise<void> {
  const content: Record<keyof LocalCaFiles, string> = {
    caCert: pems.caCertPem,
    caKey: pems.caKeyPem,
    cert: pems.certPem,
    key: pems.keyPem,
  };
  for (const name of which) {
    const isKey = name === "caKey" || name === "key";
    // Write then rename, so a crash or a second process never sees half a file; keys are owner-only.
    const temporary = `${files[name]}.${process.pid}.tmp`;
    await fs.writeFile(temporary, content[name], { mode: isKey ? 0o600 : 0o644 });
    await fs.chmod(temporary, isKey ? 0o600 : 0o644);
    await fs.rename(temporary, files[name]);
    written.push(files[name]);
  }
}
