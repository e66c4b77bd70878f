/**
 * Seals secrets at rest (client secrets, the msal token cache, PKCE verifiers). `aad` binds a ciphertext to its
 * place (`table:column:rowId`), so a sealed value copied into another row does not open.
 */
export interface SecretBox {
  seal(plaintext: string, aad: string): string;
  /** Throws RelayError ERR_SECRET_UNREADABLE on a wrong key, a tampered envelope or a mismatched `aad`. */
  open(envelope: string, aad: string): string;
}
