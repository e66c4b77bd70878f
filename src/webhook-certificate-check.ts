import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";

export type CheckStatus = "pass" | "warn" | "fail";

export interface CertificateCheckResult {
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Under this many days left the certificate check warns. */
export const CERTIFICATE_WARN_DAYS = 30;

/**
 * Whether the webhook certificate (PEM, leaf first) names every host Graph calls (`urls`) and has not expired;
 * WARN when under 30 days are left.
 */
export function checkWebhookCertificate(
  certPem: string,
  urls: string[],
  now: number = Date.now(),
): CertificateCheckResult {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    return {
      status: "fail",
      detail: `cannot parse the certificate: ${(error as Error).message}`,
      fix: "set RELAY_TLS_CERT_FILE to a PEM certificate (leaf first, then the chain)",
    };
  }
  const hosts = [...new Set(urls.map((url) => new URL(url).hostname.replace(/^\[|\]$/g, "")))];
  const uncovered = hosts.filter((host) =>
    isIP(host) ? cert.checkIP(host) === undefined : cert.checkHost(host, { subject: "never" }) === undefined,
  );
  const names = cert.subjectAltName ?? "no subjectAltName";
  if (uncovered.length > 0) {
    return {
      status: "fail",
      detail: `the certificate (${names}) does not cover ${uncovered.join(", ")}`,
      fix: `get a certificate whose DNS names include ${uncovered.join(", ")}, or change RELAY_PUBLIC_URL / the org's webhookBaseUrl`,
    };
  }
  const validTo = Date.parse(cert.validTo);
  const validFrom = Date.parse(cert.validFrom);
  const daysLeft = Math.floor((validTo - now) / DAY_MS);
  if (validTo <= now) {
    return {
      status: "fail",
      detail: `the certificate expired on ${new Date(validTo).toISOString()}`,
      fix: "renew the certificate in RELAY_TLS_CERT_FILE / RELAY_TLS_KEY_FILE (the relay reloads it when the files change)",
    };
  }
  if (validFrom > now) {
    return {
      status: "fail",
      detail: `the certificate is not valid before ${new Date(validFrom).toISOString()}`,
      fix: "check the system clock, or install a certificate that is valid now",
    };
  }
  const covered = `covers ${hosts.join(", ")}, expires ${new Date(validTo).toISOString()} (${daysLeft} days left)`;
  if (daysLeft < CERTIFICATE_WARN_DAYS) {
    return {
      status: "warn",
      detail: covered,
      fix: "renew the certificate in RELAY_TLS_CERT_FILE / RELAY_TLS_KEY_FILE before it expires",
    };
  }
  return { status: "pass", detail: covered };
}
