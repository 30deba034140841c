import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { PostgresDatabase } from '../database/index.ts';
import { isUuid } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { mapPayload } from './payload-path.ts';
import type { TriggerDefinition } from './trigger-definition.ts';
import type { WebhookSecrets } from './webhook-secrets.ts';

/** A generic signature older (or newer) than this is refused: a captured delivery cannot be replayed later. */
export const signatureToleranceMs = 5 * 60 * 1000;

/** The headers a delivery is read by (lower-case names, as Node gives them). */
export interface DeliveryHeaders {
  'x-hub-signature-256'?: string | undefined;
  'x-github-delivery'?: string | undefined;
  'x-agentry-signature'?: string | undefined;
  'x-agentry-delivery'?: string | undefined;
}

export interface Delivery {
  body: Buffer;
  headers: DeliveryHeaders;
  /** Parses the body once its signature holds (the HTTP layer's JSON rules). */
  parse: (text: string) => unknown;
}

/**
 * Webhook deliveries. A delivery must be signed with the trigger's secret (or the previous one
 * within its grace period), HMAC-SHA256 over the raw body: GitHub's `X-Hub-Signature-256:
 * sha256=<hex>`, or `X-Agentry-Signature: t=<unix seconds>,v1=<hex>` over `<t>.<body>`, refused
 * when `t` is more than 5 minutes away. A delivery id (`X-GitHub-Delivery`, `X-Agentry-Delivery`;
 * else the signature itself) is the firing's key, so a redelivery fires nothing new. Only the
 * firing row is written here; its run starts after the answer.
 */
export class WebhookReceiver {
  constructor(private readonly deps: { database: PostgresDatabase; secrets: WebhookSecrets; now: () => number; wake: () => void }) {}

  /** Records the delivery's firing; `duplicate` when this delivery id was already received. Throws 401 on any signature problem. */
  async receive(triggerId: string, delivery: Delivery): Promise<{ firingId: string | null; duplicate: boolean }> {
    const now = this.deps.now();
    const trigger = isUuid(triggerId)
      ? await this.deps.database.db
          .selectFrom('triggers as t')
          .innerJoin('trigger_versions as v', (join) => join.onRef('v.trigger_id', '=', 't.id').onRef('v.version', '=', 't.version'))
          .select([
            't.id',
            't.user_id',
            't.version',
            't.secret',
            't.secret_key_id',
            't.previous_secret',
            't.previous_secret_key_id',
            't.previous_secret_expires_at',
            'v.definition',
          ])
          .where('t.id', '=', triggerId)
          .where('t.kind', '=', 'webhook')
          .executeTakeFirst()
      : undefined;
    // An unknown id answers as a bad signature does: nothing tells a prober which ids exist.
    if (!trigger) throw new AppError('WEBHOOK_SIGNATURE_INVALID');
    const signature = verify(this.deps.secrets.valid(trigger, now), delivery, now);
    let payload: unknown;
    try {
      payload = delivery.body.length === 0 ? {} : delivery.parse(delivery.body.toString('utf8'));
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError('INVALID_JSON');
    }
    const definition = trigger.definition as unknown as TriggerDefinition;
    const deliveryId = delivery.headers['x-github-delivery'] ?? delivery.headers['x-agentry-delivery'];
    const key = deliveryId ? `delivery:${deliveryId.slice(0, 200)}` : `signature:${createHash('sha256').update(signature).digest('hex')}`;
    const row = await this.deps.database.db
      .insertInto('trigger_firings')
      .values({
        trigger_id: trigger.id,
        user_id: trigger.user_id,
        trigger_version: trigger.version,
        fire_key: key,
        source: 'webhook',
        input: mapPayload(payload, definition.webhook?.mapping ?? {}),
      })
      .onConflict((oc) => oc.columns(['trigger_id', 'fire_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (row) this.deps.wake();
    return { firingId: row?.id ?? null, duplicate: !row };
  }
}

/** Checks the delivery's signature against each valid secret; returns the signature that held. */
function verify(secrets: string[], delivery: Delivery, now: number): string {
  const github = delivery.headers['x-hub-signature-256'];
  const generic = delivery.headers['x-agentry-signature'];
  if (github !== undefined) {
    const hex = github.startsWith('sha256=') ? github.slice('sha256='.length) : '';
    if (secrets.some((secret) => sameHex(hex, hmac(secret, [delivery.body])))) return github;
  } else if (generic !== undefined) {
    const parts = new Map(
      generic
        .slice(0, 500)
        .split(',')
        .map((part) => [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()] as const),
    );
    const t = parts.get('t') ?? '';
    const seconds = /^\d{1,12}$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(seconds) || Math.abs(now - seconds * 1000) > signatureToleranceMs)
      throw new AppError(
        'WEBHOOK_SIGNATURE_INVALID',
        "The delivery's signature timestamp is missing or more than 5 minutes away: sign it again now.",
      );
    const v1 = parts.get('v1') ?? '';
    if (secrets.some((secret) => sameHex(v1, hmac(secret, [Buffer.from(`${t}.`), delivery.body])))) return generic;
  }
  throw new AppError('WEBHOOK_SIGNATURE_INVALID');
}

function hmac(secret: string, parts: Buffer[]): Buffer {
  const mac = createHmac('sha256', secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function sameHex(hex: string, expected: Buffer): boolean {
  if (hex.length !== expected.length * 2) return false;
  const given = Buffer.from(hex, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
