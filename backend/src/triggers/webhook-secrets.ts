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

/**
 * Re-seals every webhook secret not under the keyring's current key (part of `agentry keys
 * rotate`: a secret left under a key later removed could not be opened, and every delivery to its
 * trigger would be refused). A row at a time under its lock, so a rotation through the API
 * interleaves safely; a previous secret past its grace period is dropped, not re-sealed. Secrets
 * that cannot be opened are counted and left as they are. `rewritten` counts secrets re-sealed;
 * `byKey`: the secrets still valid, by key.
 */
export async function rotateWebhookSecrets(
  database: PostgresDatabase,
  vault: CredentialVault,
): Promise<{ rewritten: number; unreadable: number; byKey: Record<string, number> }> {
  const current = vault.currentKeyId;
  let rewritten = 0;
  let unreadable = 0;
  for (let after = ''; ;) {
    const batch = await database.db
      .selectFrom('triggers')
      .select('id')
      .where((eb) => eb.or([eb('secret_key_id', '<>', current), eb('previous_secret_key_id', '<>', current)]))
      .$if(after !== '', (q) => q.where('id', '>', after))
      .orderBy('id')
      .limit(100)
      .execute();
    if (batch.length === 0) break;
    after = batch.at(-1)!.id;
    for (const { id } of batch) {
      await database.transaction(async (tx) => {
        const row = await tx.selectFrom('triggers').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
        if (!row) return;
        // Each secret on its own: one that cannot be opened stays as it is (and its key in use).
        const reseal = (sealed: Buffer | null, keyId: string | null): SealedRecord | null => {
          if (!sealed || !keyId) return null;
          if (keyId === current) return { keyId, sealed };
          const who = owner(row.user_id, row.id);
          try {
            const record = vault.seal(who, vault.open(who, { keyId, sealed: Buffer.from(sealed) }));
            rewritten += 1;
            return record;
          } catch {
            unreadable += 1;
            return { keyId, sealed };
          }
        };
        const previousValid = row.previous_secret_expires_at !== null && row.previous_secret_expires_at.getTime() > Date.now();
        const secret = reseal(row.secret, row.secret_key_id);
        const previous = previousValid ? reseal(row.previous_secret, row.previous_secret_key_id) : null;
        await tx
          .updateTable('triggers')
          .set({
            secret: secret?.sealed ?? null,
            secret_key_id: secret?.keyId ?? null,
            previous_secret: previous?.sealed ?? null,
            previous_secret_key_id: previous?.keyId ?? null,
            previous_secret_expires_at: previous ? row.previous_secret_expires_at : null,
          })
          .where('id', '=', id)
          .execute();
      });
    }
  }
  const { rows } = await sql<{ key_id: string; count: string }>`
    select key_id, count(*) as count
      from (select secret_key_id as key_id from triggers where secret is not null
            union all
            select previous_secret_key_id from triggers where previous_secret is not null and previous_secret_expires_at > now()) as secrets
     group by key_id`.execute(database.db);
  return { rewritten, unreadable, byKey: Object.fromEntries(rows.map((r) => [r.key_id, Number(r.count)])) };
}
