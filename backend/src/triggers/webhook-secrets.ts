import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import type { CredentialVault } from '../integrations/index.ts';

interface SealedRecord {
  keyId: string;
  sealed: Buffer;
}

/**
 * Webhook secrets: 256-bit random, shown to their owner once, stored sealed (AES-256-GCM, bound to
 * the user and the trigger, so a record moved to another row does not open). A rotation keeps the
 * previous secret valid for a grace period, so senders can be switched over without a gap.
 */
export class WebhookSecrets {
  constructor(private readonly deps: { vault: CredentialVault; graceMs: number }) {}

  /** A new secret for the trigger, and its sealed record to store. */
  issue(userId: string, triggerId: string): { secret: string; record: SealedRecord } {
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    return { secret, record: this.deps.vault.seal(owner(userId, triggerId), { apiKey: secret }) };
  }

  /** Replaces the secret; the one it replaces stays valid for the grace period. */
  async rotate(
    database: PostgresDatabase,
    ids: { userId: string; triggerId: string },
  ): Promise<{ secret: string; previousValidUntil: string }> {
    const { secret, record } = this.issue(ids.userId, ids.triggerId);
    const until = new Date(Date.now() + this.deps.graceMs);
    await database.db
      .updateTable('triggers')
      .set({
        previous_secret: sql<Buffer>`secret`,
        previous_secret_key_id: sql<string>`secret_key_id`,
        previous_secret_expires_at: until,
        secret: record.sealed,
        secret_key_id: record.keyId,
        updated_at: sql`now()`,
      })
      .where('id', '=', ids.triggerId)
      .where('user_id', '=', ids.userId)
      .execute();
    return { secret, previousValidUntil: until.toISOString() };
  }

  /** The secrets a delivery may be signed with now: the current one, and the previous one inside its grace period. */
  valid(
    trigger: {
      id: string;
      user_id: string;
      secret: Buffer | null;
      secret_key_id: string | null;
      previous_secret: Buffer | null;
      previous_secret_key_id: string | null;
      previous_secret_expires_at: Date | null;
    },
    now: number,
  ): string[] {
    const secrets: string[] = [];
    const open = (sealed: Buffer | null, keyId: string | null) =>
      sealed && keyId ? this.deps.vault.open(owner(trigger.user_id, trigger.id), { keyId, sealed }).apiKey : undefined;
    const current = open(trigger.secret, trigger.secret_key_id);
    if (current) secrets.push(current);
    if (trigger.previous_secret_expires_at && trigger.previous_secret_expires_at.getTime() > now) {
      const previous = open(trigger.previous_secret, trigger.previous_secret_key_id);
      if (previous) secrets.push(previous);
    }
    return secrets;
  }
}

const owner = (userId: string, triggerId: string) => ({ userId, connectionId: `webhook:${triggerId}` });
