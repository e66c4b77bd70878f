/**
 * Tells whoever shows emergencies live (the web board) that one changed: raised, attempted, escalated,
 * acknowledged, noted. Only the id travels; listeners read the current state from storage, so a late or
 * repeated signal never shows stale data.
 */
export interface EmergencyFeed {
  publish(emergencyId: string): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: (emergencyId: string) => void): () => void;
}

/** One timeline event as the change poller reads it (storage's `emergency_events`). */
export interface EmergencyChange {
  /** Sortable by time (storage/sortable-id.ts), so it doubles as the poller's watermark. */
  id: string;
  emergencyId: string;
  at: number;
}

/** What the change poller needs from storage. */
export interface EmergencyChangeSource {
  /** Timeline events written at or after `fromAt` (and after `afterId`, for paging), ordered by id. */
  changesSince(fromAt: number, afterId: string | undefined, limit: number): Promise<EmergencyChange[]>;
}
