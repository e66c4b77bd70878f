// NIST SP 800-63B: length over composition rules, a cap that still allows passphrases, and no well-known
// passwords. The cap also bounds the work scrypt does for a hostile request.
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

const COMMON = new Set([
  "password",
  "password123",
  "passw0rd",
  "123456789012",
  "qwertyuiop",
  "letmein",
  "welcome",
  "changeme",
  "administrator",
  "emergency",
  "teams",
  "microsoft",
]);

/** Why `password` is not acceptable for `username`, or undefined. Never repeats the password. */
export function passwordProblem(password: string, username: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    return `must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long (a passphrase of several words works well)`;
  }
  const lower = password.toLowerCase();
  if (username !== "" && lower.includes(username.toLowerCase())) return "must not contain the username";
  if (new Set(lower).size < 4) return "must use more than a few different characters";
  const stripped = lower.replace(/[^a-z]/g, "");
  if (COMMON.has(lower) || (stripped.length >= lower.length - 4 && COMMON.has(stripped))) {
    return "is too common; choose another";
  }
  return undefined;
}
