// What detecting emergencies in new chat messages needs from storage. src/storage implements these; main.ts
// passes them to src/flows/detect-messages.ts.
import type { Drill, NewDrillCapture } from "./drill.ts";
import type { DetectionRule } from "./emergency.ts";

export interface DetectionRuleSource {
  /** The org's own rules (the default rule is not among them), in the order they were created. */
  listForOrg(orgId: string): Promise<DetectionRule[]>;
}

export interface DrillRecorder {
  /** The org's drill capturing at `now`, if any. */
  runningDrill(orgId: string, now: number): Promise<Drill | undefined>;
  /** Keeps a message seen during a drill; the same (drill, chat, message) is kept once. */
  addCapture(capture: NewDrillCapture): Promise<void>;
}
