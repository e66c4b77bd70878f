import type { EmulatorState, Fault } from "./emulator-state.ts";
import { newGuid } from "./ids.ts";

export const FAULT_KINDS: Record<Fault["target"], Fault["kind"][]> = {
  token: ["aadsts", "http", "hang"],
  graph: ["http", "hang"],
  delivery: ["duplicate", "reorder", "delay", "drop"],
};

/** Registers a fault that applies to the next `times` matching calls. */
export function addFault(state: EmulatorState, fault: Omit<Fault, "id" | "remaining">, times = 1): Fault {
  const stored: Fault = { ...fault, id: newGuid(), remaining: times };
  state.faults.push(stored);
  return stored;
}

/** Takes (and uses up) the first fault for this target whose `match` is contained in `subject`. */
export function takeFault(
  state: EmulatorState,
  target: Fault["target"],
  subject: string,
  kinds?: Fault["kind"][],
): Fault | undefined {
  const fault = state.faults.find(
    (f) =>
      f.target === target &&
      f.remaining > 0 &&
      (!f.match || subject.includes(f.match)) &&
      (!kinds || kinds.includes(f.kind)),
  );
  if (!fault) return undefined;
  fault.remaining -= 1;
  if (fault.remaining === 0) state.faults.splice(state.faults.indexOf(fault), 1);
  return fault;
}
