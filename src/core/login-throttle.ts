// Login rate limiting (OWASP Authentication cheat sheet): after a few failures a key (a username, a client
// address) is locked for a while, doubling with each further failure. Failures are forgotten after a quiet
// window. Pure: the caller stores the state and passes `now`.

export interface ThrottleState {
  failures: number;
  lastFailureAt: number;
  /** Epoch ms; 0 when not locked. */
  lockedUntil: number;
}

export interface ThrottlePolicy {
  /** The failure that starts the first lock. */
  freeFailures: number;
  /** Failures older than this (and no lock running) are forgotten. */
  windowMs: number;
  firstLockMs: number;
  maxLockMs: number;
}

const MINUTE = 60_000;

/** Per username: the fifth failure in a row locks for a minute, each further one twice as long, at most an hour. */
export const USERNAME_THROTTLE: ThrottlePolicy = {
  freeFailures: 5,
  windowMs: 15 * MINUTE,
  firstLockMs: MINUTE,
  maxLockMs: 60 * MINUTE,
};

// Per client address: more room, since a whole site may share one address behind NAT, but a guesser spraying
// many usernames from one address still stops quickly.
export const ADDRESS_THROTTLE: ThrottlePolicy = {
  freeFailures: 20,
  windowMs: 15 * MINUTE,
  firstLockMs: MINUTE,
  maxLockMs: 60 * MINUTE,
};

/** Milliseconds until the key may try again; 0 when it may now. */
export function lockRemaining(state: ThrottleState | undefined, now: number): number {
  return state === undefined ? 0 : Math.max(0, state.lockedUntil - now);
}

export function afterFailure(
  state: ThrottleState | undefined,
  now: number,
  policy: ThrottlePolicy,
): ThrottleState {
  const stale =
    state !== undefined && state.lockedUntil <= now && now - state.lastFailureAt > policy.windowMs;
  const failures = (stale || state === undefined ? 0 : state.failures) + 1;
  const over = failures - policy.freeFailures;
  const lockedUntil =
    over >= 0 ? now + Math.min(policy.maxLockMs, policy.firstLockMs * 2 ** Math.min(over, 30)) : 0;
  return { failures, lastFailureAt: now, lockedUntil };
}

/** True when the stored state no longer matters and may be deleted. */
export function isForgotten(state: ThrottleState, now: number, policy: ThrottlePolicy): boolean {
  return state.lockedUntil <= now && now - state.lastFailureAt > policy.windowMs;
}
