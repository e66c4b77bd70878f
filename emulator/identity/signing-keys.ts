import { exportJWK, generateKeyPair, type JWK } from "jose";
import type { KeyObject } from "node:crypto";
import { newGuid } from "../ids.ts";

export interface SigningKeys {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwks: { keys: JWK[] };
}

/** One RS256 key signs ID tokens, access tokens and Graph `validationTokens`, as Entra's common keys do. */
export async function createSigningKeys(): Promise<SigningKeys> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = newGuid().replaceAll("-", "").slice(0, 27);
  const jwk = await exportJWK(publicKey);
  return {
    kid,
    privateKey: privateKey as unknown as KeyObject,
    publicKey: publicKey as unknown as KeyObject,
    jwks: { keys: [{ ...jwk, kid, use: "sig", kty: "RSA", alg: "RS256" }] },
  };
}
