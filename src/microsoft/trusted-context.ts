import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";

const contexts = new Map<string, SecureContext>();

/**
 * Node's roots plus one extra CA (the emulator's, or a corporate TLS-inspection CA), built once per CA:
 * building a context parses every root certificate, which costs milliseconds per request otherwise.
 */
export function trustedContext(extraCaPem: string): SecureContext {
  let context = contexts.get(extraCaPem);
  if (!context) {
    context = createSecureContext({ ca: [...rootCertificates, extraCaPem], minVersion: "TLSv1.2" });
    contexts.set(extraCaPem, context);
  }
  return context;
}
