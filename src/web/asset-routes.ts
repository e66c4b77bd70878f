import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

const TYPES: Readonly<Record<string, string>> = {
  "app.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

// The files sit beside this module in src/web/assets/. `npm run build` compiles TypeScript only, so the
// compiled module (dist/src/web/) reads them from the source tree instead.
function assetsDir(): string {
  const beside = fileURLToPath(new URL("./assets/", import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL("../../../src/web/assets/", import.meta.url));
}

/** `GET /assets/{app.css,app.js,favicon.svg}`: served by the relay itself, no CDN (closed networks). */
export function registerAssetRoutes(scope: FastifyInstance): void {
  const dir = assetsDir();
  const assets = new Map(
    Object.entries(TYPES).map(([name, type]) => {
      const body = readFileSync(`${dir}${name}`);
      return [
        name,
        { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` },
      ];
    }),
  );
  scope.get<{ Params: { name: string } }>("/assets/:name", async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (asset === undefined) return reply.code(404).type("text/plain; charset=utf-8").send("Not found");
    void reply.header("etag", asset.etag).header("cache-control", "no-cache");
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
}
