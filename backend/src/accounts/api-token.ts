import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `agt_` followed by 256 random bits, base64url: 43 characters. */
const tokenPattern = /^agt_[A-Za-z0-9_-]{43}$/;

export interface IssuedToken {
  /** Shown to the user once; never stored. */
  token: string;
  hash: string;
  prefix: string;
}

export function issueToken(): IssuedToken {
  const token = `agt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token), prefix: token.slice(0, 10) };
}

/** SHA-256, hex. A 256-bit random secret needs no slow hash: there is nothing to guess. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function isWellFormedToken(token: string): boolean {
  return tokenPattern.test(token);
}

/** Compares two hex hashes in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
