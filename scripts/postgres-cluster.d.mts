// Types for postgres-cluster.mjs, so TypeScript scripts and benchmarks can start a throwaway cluster too.
export interface PostgresCluster {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/<database>`. */
  url: string;
  port: number;
  version: string;
  startMs: number;
  /** Synchronous and idempotent: stops the server and removes its directory. */
  stop(): void;
}

export function startPostgresCluster(options?: {
  database?: string;
  log?: (line: string) => void;
}): Promise<PostgresCluster>;

export function findPostgresBinDir(): string | undefined;
