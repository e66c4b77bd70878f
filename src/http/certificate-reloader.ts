// Reloads the HTTPS certificate when `RELAY_TLS_CERT_FILE` or `RELAY_TLS_KEY_FILE` changes (certbot, cert-manager,
// an operator copying files), without a restart: new connections get the new certificate, open ones keep theirs.
// fs.watchFile polls the files' metadata; unlike fs.watch it keeps working when a file is replaced by a rename or a
// symlink swap, which is how most tools install certificates. A file that does not load (half written, garbage, a
// key that does not belong to the certificate) keeps the previous certificate in service and is logged as an error.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { readFile } from "node:fs/promises";
import type { SecureContextOptions } from "node:tls";
import type { Logger } from "pino";

export const TLS_MIN_VERSION = "TLSv1.2" as const;

export interface CertificateWatchOptions {
  certFile: string;
  keyFile: string;
  /** How often the files' metadata is checked (default 2 s). */
  intervalMs?: number;
  /** Quiet time after the last change before loading, so a certificate and key written in turn load together. */
  debounceMs?: number;
}

/** The part of a `tls.Server` (fastify's HTTPS server) the reloader uses. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

export interface LoadedCertificate {
  serialNumber: string;
  fingerprint256: string;
  subject: string;
  validTo: Date;
}

export interface CertificateReloader {
  /** Loads both files now; false (and an error logged) when they do not form a usable certificate and key. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface CertificateReloaderDeps {
  logger: Logger;
  /** Told about every attempt (metrics). */
  onResult?: (result: "reloaded" | "failed", certificate?: LoadedCertificate) => void;
}

/**
 * Checks a PEM certificate (chain) and key the way a TLS server would need them: the first certificate parses, the
 * key parses and belongs to it. node:tls alone accepts an empty certificate and only fails at handshake time.
 */
export function inspectCertificatePair(cert: string, key: string): LoadedCertificate {
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new Error("the private key does not belong to the certificate");
  }
  return {
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    subject: x509.subject,
    validTo: new Date(x509.validTo),
  };
}

export function watchCertificateFiles(
  server: SecureContextTarget,
  options: CertificateWatchOptions,
  deps: CertificateReloaderDeps,
): CertificateReloader {
  const { certFile, keyFile } = options;
  const intervalMs = options.intervalMs ?? 2000;
  const debounceMs = options.debounceMs ?? 1000;
  const log = deps.logger.child({ component: "tls", certFile, keyFile });
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let again = false;

  const load = async (): Promise<boolean> => {
    try {
      const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
      const loaded = inspectCertificatePair(cert, key);
      // Throws on anything OpenSSL refuses; the server keeps its current context until this succeeds.
      server.setSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
      log.info(
        {
          serialNumber: loaded.serialNumber,
          fingerprint256: loaded.fingerprint256,
          subject: loaded.subject,
          validTo: loaded.validTo.toISOString(),
        },
        "TLS certificate reloaded",
      );
      if (loaded.validTo.getTime() < Date.now()) log.warn("the reloaded TLS certificate has expired");
      deps.onResult?.("reloaded", loaded);
      return true;
    } catch (error) {
      // The message only: OpenSSL and node:crypto errors name the problem, never the key material.
      log.error(
        { error: error instanceof Error ? error.message : String(error) },
        "TLS certificate reload failed; still serving the previous certificate",
      );
      deps.onResult?.("failed");
      return false;
    }
  };

  /** One load at a time; a change during a load causes one more. */
  const reload = (): Promise<boolean> => {
    if (running) {
      again = true;
      return running;
    }
    running = load().finally(() => {
      running = undefined;
      if (again && !closed) {
        again = false;
        void reload();
      }
    });
    return running;
  };

  const onChange = (current: Stats, previous: Stats) => {
    const changed =
      current.mtimeMs !== previous.mtimeMs ||
      current.ctimeMs !== previous.ctimeMs ||
      current.ino !== previous.ino ||
      current.size !== previous.size;
    if (!changed || closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, debounceMs);
    timer.unref();
  };

  for (const file of [certFile, keyFile])
    watchFile(file, { persistent: false, interval: intervalMs }, onChange);
  log.debug({ intervalMs, debounceMs }, "watching the TLS certificate files for changes");

  return {
    reload,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const file of [certFile, keyFile]) unwatchFile(file, onChange);
    },
  };
}
