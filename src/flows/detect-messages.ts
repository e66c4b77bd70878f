import { stringOf } from "../core/chat-message.ts";
import { detectEmergency } from "../core/detect-emergency.ts";
import type { DetectionRuleSource, DrillRecorder } from "../core/detection-ports.ts";
import type { DetectionResult, DetectionRule } from "../core/emergency.ts";

export interface MessageDetectorDeps {
  rules: DetectionRuleSource;
  drills: DrillRecorder;
  /**
   * A failure that did not stop detection: the org's rules could not be read (the default rule still ran), or a
   * drill capture could not be stored. Log it; never with message content.
   */
  onError?(stage: "rules" | "drill_capture", orgId: string, error: unknown): void;
}

export interface MessageDetector {
  /**
   * Runs the default rule and the org's rules on one new chat message, and keeps it as a capture when a drill
   * runs for the org. Outside drills nothing about the message is stored here.
   */
  detect(orgId: string, message: Record<string, unknown>, now: number): Promise<DetectionResult>;
}

export function createMessageDetector(deps: MessageDetectorDeps): MessageDetector {
  return {
    async detect(orgId, message, now) {
      let rules: DetectionRule[] = [];
      let rulesError: unknown;
      try {
        rules = await deps.rules.listForOrg(orgId);
      } catch (error) {
        rulesError = error;
        deps.onError?.("rules", orgId, error);
      }
      const result = detectEmergency(message, rules);
      // The default rule found the call: alert now. Otherwise one of the org's rules might have, so the
      // message goes back to the caller's retry (the intake releases it) rather than being written off.
      if (rulesError !== undefined && !result.emergency) throw rulesError;
      await captureDuringDrill(orgId, message, result, now);
      return result;
    },
  };

  // A capture is for the admin's eyes; failing to keep one must never hold up an alert.
  async function captureDuringDrill(
    orgId: string,
    message: Record<string, unknown>,
    result: DetectionResult,
    now: number,
  ): Promise<void> {
    try {
      const drill = await deps.drills.runningDrill(orgId, now);
      if (drill === undefined) return;
      await deps.drills.addCapture({
        drillId: drill.id,
        orgId,
        chatId: stringOf(message, "chatId") ?? "",
        messageId: stringOf(message, "id") ?? "",
        capturedAt: now,
        message,
        result,
      });
    } catch (error) {
      deps.onError?.("drill_capture", orgId, error);
    }
  }
}
