// A real SMTP server (npm smtp-server, the server half of nodemailer's project) standing in for a mail relay:
// STARTTLS or implicit TLS with a throw-away CA, optional AUTH, and knobs to defer or refuse.
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from "smtp-server";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";

export interface ReceivedMail {
  /** MAIL FROM and RCPT TO, as the envelope said. */
  envelope: { from: string; to: string[] };
  /** The user that authenticated, if any. */
  user: string | undefined;
  /** Whether the session was encrypted (implicit TLS or after STARTTLS). */
  secure: boolean;
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpReceiverOptions {
  /** `starttls` (default): plain connection that offers STARTTLS; `tls`: TLS from the first byte; `none`: no TLS. */
  security?: "starttls" | "tls" | "none";
  /** Require AUTH with these credentials. */
  auth?: { username: string; password: string };
  /** Names in the server certificate besides localhost, 127.0.0.1 and ::1. */
  dnsNames?: string[];
}

export interface SmtpReceiver {
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that issued the server certificate (trust it in the client). */
  readonly caPem: string;
  readonly messages: ReceivedMail[];
  /** The next `times` messages are refused at DATA with this reply (451 defers, 550 refuses). */
  failNext(times: number, code: number, text?: string): void;
  /** RCPT TO for this address is answered with `code`. */
  refuseRecipient(address: string, code: number): void;
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  reset(): void;
  close(): Promise<void>;
}

export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const security = options.security ?? "starttls";
  const ca = await createLocalCa({ dnsNames: ["localhost", ...(options.dnsNames ?? [])] });
  const messages: ReceivedMail[] = [];
  const failures: { code: number; text: string }[] = [];
  const refusedRecipients = new Map<string, number>();
  const waiters: { count: number; resolve: () => void }[] = [];

  const server = new SMTPServer({
    secure: security === "tls",
    key: ca.keyPem,
    cert: ca.certPem,
    hideSTARTTLS: security === "none",
    disabledCommands: [
      ...(security === "none" ? ["STARTTLS"] : []),
      ...(options.auth === undefined ? ["AUTH"] : []),
    ],
    authOptional: options.auth === undefined,
    logger: false,
    onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback) {
      const expected = options.auth;
      if (expected && auth.username === expected.username && auth.password === expected.password) {
        return callback(null, { user: auth.username });
      }
      callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const code = refusedRecipients.get(address.address.toLowerCase());
      if (code !== undefined) {
        return callback(Object.assign(new Error(`Recipient refused (${code})`), { responseCode: code }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const failure = failures.shift();
        if (failure) return callback(Object.assign(new Error(failure.text), { responseCode: failure.code }));
        const raw = Buffer.concat(chunks).toString("utf8");
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              user: session.user,
              secure: session.secure,
              raw,
              parsed,
            });
            for (const waiter of [...waiters]) {
              if (messages.length >= waiter.count) {
                waiters.splice(waiters.indexOf(waiter), 1);
                waiter.resolve();
              }
            }
            callback();
          },
          (error: unknown) => callback(error as Error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: "127.0.0.1",
    port,
    caPem: ca.caCertPem,
    messages,
    failNext(times, code, text = code >= 500 ? "Message refused" : "Try again later") {
      for (let i = 0; i < times; i++) failures.push({ code, text });
    },
    refuseRecipient(address, code) {
      refusedRecipients.set(address.toLowerCase(), code);
    },
    waitForMessages(count, timeoutMs = 5000) {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} messages, got ${messages.length}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(messages);
          },
        });
      });
    },
    reset() {
      messages.length = 0;
      failures.length = 0;
      refusedRecipients.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
