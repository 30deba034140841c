import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Keyring } from '../secret-key.ts';

/** What a connection's credentials hold; only ever in memory, decrypted. */
export interface Credentials {
  accessToken?: string;
  refreshToken?: string;
  tokenType?: string;
  apiKey?: string;
  /** The user's own token, granted beside the app's (Slack's `authed_user`): some methods take only it. */
  userToken?: string;
  /** A user's own MCP server URL: it may carry a key in its path or query. */
  mcpUrl?: string;
}

export interface SealedCredentials {
  keyId: string;
  /** version (1 byte) ‖ IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes) */
  sealed: Buffer;
}

const version = 1;

/**
 * AES-256-GCM for stored credentials. Each record gets a random 12-byte IV and names the key it
 * was written under; the owning user and connection are its associated data, so a record copied
 * onto another row (or another user's) fails to decrypt instead of lending its credentials.
 */
export class CredentialVault {
  constructor(private readonly keyring: Keyring) {}

  get currentKeyId(): string {
    return this.keyring.current.id;
  }

  seal(owner: { userId: string; connectionId: string }, credentials: Credentials): SealedCredentials {
    return this.sealWith(associatedData(owner), credentials);
  }

  /** Throws CREDENTIALS_UNREADABLE for a record tampered with, moved, or under a key no longer in the ring. */
  open(owner: { userId: string; connectionId: string }, record: SealedCredentials): Credentials {
    return this.openWith(associatedData(owner), record) as Credentials;
  }

  /**
   * Seals an OAuth client registration (its client secret) for the authorization server and
   * redirect URI it belongs to: a record moved to another server's row fails to open.
   */
  sealRegistration(owner: { issuer: string; redirectUri: string }, registration: object): SealedCredentials {
    return this.sealWith(registrationData(owner), registration);
  }

  /** Throws CREDENTIALS_UNREADABLE like `open`. */
  openRegistration(owner: { issuer: string; redirectUri: string }, record: SealedCredentials): unknown {
    return this.openWith(registrationData(owner), record);
  }

  private sealWith(aad: Buffer, value: object): SealedCredentials {
    const key = this.keyring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.aesKey, iv);
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { keyId: key.id, sealed: Buffer.concat([Buffer.from([version]), iv, ciphertext, cipher.getAuthTag()]) };
  }

  private openWith(aad: Buffer, record: SealedCredentials): unknown {
    const key = this.keyring.get(record.keyId);
    if (!key)
      throw new AppError(
        'CREDENTIALS_UNREADABLE',
        `The credentials were encrypted under the key "${record.keyId}", which is not in AGENTRY_SECRET_KEY.`,
      );
    const sealed = Buffer.from(record.sealed);
    if (sealed.length < 1 + 12 + 16 || sealed[0] !== version) throw new AppError('CREDENTIALS_UNREADABLE');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.aesKey, sealed.subarray(1, 13));
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plain = Buffer.concat([decipher.update(sealed.subarray(13, sealed.length - 16)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as unknown;
    } catch {
      throw new AppError('CREDENTIALS_UNREADABLE');
    }
  }
}

function associatedData(owner: { userId: string; connectionId: string }): Buffer {
  return Buffer.from(`agentry credentials v1\0${owner.userId}\0${owner.connectionId}`, 'utf8');
}

function registrationData(owner: { issuer: string; redirectUri: string }): Buffer {
  return Buffer.from(`agentry client registration v1\0${owner.issuer}\0${owner.redirectUri}`, 'utf8');
}
