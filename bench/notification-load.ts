// What the intake load generator (bench/notification-intake.bench.ts, forked with BENCH_ROLE=load) is asked to
// send and what it reports; bench/multi-instance.bench.ts drives the same generator.
import { randomBytes } from "node:crypto";

/** Where each request of a phase puts its own sequence number (unique resource ids, so nothing dedupes). */
export const SEQ = "{{SEQ}}";

export interface PhaseRequest {
  kind: "fixed" | "saturate";
  url: string;
  /** The body with `{{SEQ}}` where each request puts its own sequence number (unique resource ids). */
  template: string;
  /** A prefix making sequence numbers unique across phases (nothing dedupes). */
  tag: string;
  durationMs: number;
  rate?: number;
  connections?: number;
}

export interface PhaseResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  /** Saturation only: the connection count it ran with. */
  connections?: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  /** Fixed rate only: how late the generator itself sent its latest request (its own scheduling lag). */
  maxSendLagMs: number;
  /** p99 counted from when the request was actually sent rather than scheduled. */
  p99FromSend: number;
  /** CPU time (user + system, all threads) the load generator's process spent during the phase. */
  loadCpuMs: number;
  /** The same for the relay's process (event loop, inbox writer thread, GC), filled in by the parent. */
  relayCpuMs?: number;
}

/** A single-item rich notification shaped like Graph's (encrypted content, validation token), about 2.5 KB. */
export function notificationTemplate(subscriptionId: string, clientState: string, tenantId: string): string {
  const chatId = "19:3f1b6a0e8c2d4b7e9f0a1c2d3e4f5a6b@thread.v2";
  const b64 = (bytes: number) => randomBytes(bytes).toString("base64");
  const b64url = (bytes: number) => randomBytes(bytes).toString("base64url");
  const batch = {
    value: [
      {
        subscriptionId,
        changeType: "created",
        clientState,
        subscriptionExpirationDateTime: new Date(Date.now() + 3 * 86_400_000).toISOString(),
        resource: `chats('${chatId}')/messages('${SEQ}')`,
        resourceData: {
          id: SEQ,
          "@odata.type": "#Microsoft.Graph.chatMessage",
          "@odata.id": `chats('${chatId}')/messages('${SEQ}')`,
        },
        encryptedContent: {
          data: b64(500),
          dataSignature: b64(32),
          dataKey: b64(256),
          encryptionCertificateId: "bench-certificate",
          encryptionCertificateThumbprint: randomBytes(20).toString("hex").toUpperCase(),
        },
        tenantId,
      },
    ],
    validationTokens: [`${b64url(36)}.${b64url(520)}.${b64url(256)}`],
  };
  return JSON.stringify(batch);
}
