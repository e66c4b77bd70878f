import type { EmergencyFeed } from "../core/emergency-feed.ts";
import type { FlowLog } from "./process-inbox.ts";

/**
 * The feed within one process: stores publish after their transaction commits, the board listens. Other
 * instances' changes arrive through the change poller (flows/poll-emergency-changes.ts).
 */
export function createInProcessEmergencyFeed(options: { log?: FlowLog } = {}): EmergencyFeed {
  const listeners = new Set<(emergencyId: string) => void>();
  return {
    publish(emergencyId) {
      for (const listener of listeners) {
        try {
          listener(emergencyId);
        } catch (error) {
          // A broken listener must not fail the write that published (an alert already went out).
          options.log?.error({ emergencyId, err: error }, "emergency feed listener failed");
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
