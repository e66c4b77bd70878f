export { createEmulator, type Emulator, type EmulatorOptions } from "./create-emulator.ts";
export type { EmulatorClock } from "./emulator-clock.ts";
export { GRAPH_CHANGE_TRACKING_APP_ID } from "./emulator-context.ts";
export { loadOrCreateLocalCa } from "./tls/local-ca.ts";
