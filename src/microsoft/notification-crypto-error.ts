/** Stable reasons a rich notification's `encryptedContent` is refused; callers branch on `code`, never on `message`. */
export type NotificationCryptoErrorCode =
  | "ERR_NOTIFICATION_UNKNOWN_CERTIFICATE"
  | "ERR_NOTIFICATION_SIGNATURE_MISMATCH"
  | "ERR_NOTIFICATION_KEY_UNWRAP_FAILED"
  | "ERR_NOTIFICATION_DECRYPT_FAILED"
  | "ERR_NOTIFICATION_MALFORMED";

/** Messages name the failing step and field only: never key material, ciphertext or plaintext. */
export class NotificationCryptoError extends Error {
  override readonly name = "NotificationCryptoError";
  readonly code: NotificationCryptoErrorCode;

  constructor(code: NotificationCryptoErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
