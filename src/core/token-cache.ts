/**
 * Where one org's msal token cache lives between operations: an opaque serialized blob (it holds the refresh
 * token, so implementations store it encrypted). The identity adapter loads it before each msal cache access
 * and saves it when msal changed it; flows pass it through without importing msal.
 */
export interface TokenCachePersistence {
  /** The last saved blob, or undefined when the org has none yet. */
  load(): Promise<string | undefined>;
  save(serialized: string): Promise<void>;
}
