import { LRUCache } from 'lru-cache';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { hashesEqual, hashToken, isWellFormedToken, issueToken } from './api-token.ts';
import { recordAudit } from './audit-log.ts';
import type { Actor, PublicUser } from './user-service.ts';
import { toPublicUser } from './user-service.ts';

export interface Principal {
  user: PublicUser;
  tokenId: string;
  /** When the token stops working (ms since the epoch), or null: long-lived connections end then. */
  expiresAt: number | null;
}

/**
 * What a token stands for. A token that does not work is either one that was issued and has ended
 * (revoked, expired, or its user disabled) or one that was never issued: a guess.
 */
export type TokenCheck = { principal: Principal } | { principal?: undefined; issued: boolean };

export interface TokenInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export interface Eviction {
  kind: 'user' | 'token';
  id: string;
}

interface CacheEntry {
  principal: Principal;
  lastUsedWrittenAt: number;
}

/** Channel on which every instance hears which cached tokens to drop. */
const evictionChannel = 'agentry_auth_evict';
const lastUsedInterval = 60_000;
const maxCacheEntries = 10_000;
const maxTokensPerUser = 100;

/**
 * API tokens: issued once, stored as SHA-256 hashes, verified with a short cache.
 *
 * Revoking a token or disabling a user evicts the cache entries at once on this instance and, by
 * a NOTIFY sent in the same transaction, on every other instance when the change commits.
 * `last_used_at` is written at most once a minute per token.
 */
export class TokenService {
  /**
   * By token hash, for `cacheTtlMs` by the service's clock (checked at every read, hence no TTL
   * resolution), at most `maxCacheEntries`: the least recently used goes first.
   */
  private readonly cache: LRUCache<string, CacheEntry>;
  private readonly evictionListeners = new Set<(eviction: Eviction) => void>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly database: PostgresDatabase,
    private readonly options: { cacheTtlMs: number; onBackgroundError: (error: Error) => void; now?: () => number },
  ) {
    this.cache = new LRUCache({
      max: maxCacheEntries,
      ttl: Math.max(0, options.cacheTtlMs),
      ttlResolution: 0,
      perf: { now: () => this.now() },
    });
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Starts hearing other instances' evictions. */
  async start(): Promise<void> {
    // Evictions sent while the listening connection was down are lost: then drop the whole cache.
    this.unlisten = await this.database.listen(
      evictionChannel,
      (payload) => this.evictLocal(payload),
      () => this.cache.clear(),
    );
  }

  /**
   * Hears every eviction (a revoked token, a disabled user), from this instance or another, so
   * long-lived connections authenticated with them can be closed.
   */
  onEvict(listener: (eviction: Eviction) => void): () => void {
    this.evictionListeners.add(listener);
    return () => this.evictionListeners.delete(listener);
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** The principal a bearer token stands for, or undefined for any token that must not work. */
  async authenticate(token: string): Promise<Principal | undefined> {
    return (await this.verify(token)).principal;
  }

  /**
   * Like `authenticate`, and for a token that does not work, whether it was ever issued: revoked
   * and expired tokens keep their rows (hashes only), so an ended one is told from a guess.
   */
  async verify(token: string): Promise<TokenCheck> {
    if (!isWellFormedToken(token)) return { issued: false };
    const hash = hashToken(token);
    const now = this.now();
    const cached = this.cache.get(hash);
    if (cached && (cached.principal.expiresAt === null || cached.principal.expiresAt > now)) {
      this.touch(hash, cached, now);
      return { principal: cached.principal };
    }
    this.cache.delete(hash);
    const row = await this.database.db
      .selectFrom('api_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .selectAll('u')
      .select(['t.id as token_id', 't.token_hash', 't.expires_at', 't.revoked_at', 't.last_used_at'])
      .where('t.token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || !hashesEqual(row.token_hash, hash)) return { issued: false };
    if (row.revoked_at || row.disabled_at || (row.expires_at && row.expires_at.getTime() <= now)) return { issued: true };
    const entry: CacheEntry = {
      principal: { user: toPublicUser(row), tokenId: row.token_id, expiresAt: row.expires_at?.getTime() ?? null },
      lastUsedWrittenAt: row.last_used_at?.getTime() ?? 0,
    };
    // A TTL of 0 means no cache here (to lru-cache it would mean no expiry).
    if (this.options.cacheTtlMs > 0) this.cache.set(hash, entry);
    this.touch(hash, entry, now);
    return { principal: entry.principal };
  }

  async create(
    userId: string,
    input: { name: string; expiresInDays?: number },
    actor: Actor,
  ): Promise<{ id: string; token: string; info: TokenInfo }> {
    return this.database.transaction(async (tx) => {
      const { count } = await tx
        .selectFrom('api_tokens')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date(this.now()))]))
        .executeTakeFirstOrThrow();
      if (Number(count) >= maxTokensPerUser) {
        throw new AppError('CONFLICT', `You have ${maxTokensPerUser} active tokens; revoke one before creating another.`);
      }
      return this.createIn(tx, userId, input, actor);
    });
  }

  /** Creates a token inside the caller's transaction (user creation issues the first one). */
  async createIn(executor: Executor, userId: string, input: { name: string; expiresInDays?: number }, actor: Actor) {
    const issued = issueToken();
    const row = await executor
      .insertInto('api_tokens')
      .values({
        user_id: userId,
        name: input.name,
        token_hash: issued.hash,
        token_prefix: issued.prefix,
        expires_at: input.expiresInDays ? new Date(this.now() + input.expiresInDays * 86_400_000) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(executor, {
      action: 'token.created',
      actorUserId: actor.userId,
      targetType: 'token',
      targetId: row.id,
      ip: actor.ip,
      details: { userId, name: row.name, expiresAt: row.expires_at?.toISOString() ?? null },
    });
    return { id: row.id, token: issued.token, info: toTokenInfo(row) };
  }

  /** The user's tokens that still work or could: never the secret, never revoked ones. */
  async list(userId: string): Promise<TokenInfo[]> {
    const rows = await this.database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toTokenInfo);
  }

  /** Revokes one of the user's own tokens; another user's token answers NOT_FOUND. */
  async revoke(userId: string, tokenId: string, actor: Actor): Promise<void> {
    await this.database.transaction(async (tx) => {
      const row = await tx
        .updateTable('api_tokens')
        .set({ revoked_at: new Date() })
        .where('id', '=', tokenId)
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .returning(['id', 'name'])
        .executeTakeFirst();
      if (!row) throw new AppError('NOT_FOUND', 'No such token.');
      await recordAudit(tx, {
        action: 'token.revoked',
        actorUserId: actor.userId,
        targetType: 'token',
        targetId: row.id,
        ip: actor.ip,
        details: { name: row.name },
      });
      this.database.afterCommit(tx, () => this.evictLocal(`token:${row.id}`));
      await this.database.notify(evictionChannel, `token:${row.id}`, tx);
    });
  }

  /**
   * Evicts a user's cached tokens when `executor`'s transaction commits: here at once, and on every
   * other instance through the notification.
   */
  async evictUserIn(executor: Executor, userId: string): Promise<void> {
    this.database.afterCommit(executor, () => this.evictLocal(`user:${userId}`));
    await this.database.notify(evictionChannel, `user:${userId}`, executor);
  }

  private evictLocal(payload: string): void {
    const [kind, id] = payload.split(':', 2);
    if ((kind !== 'user' && kind !== 'token') || !id) return;
    // Collected first: the cache's order is not to be changed while it is walked.
    const evicted = [...this.cache.entries()].filter(
      ([, entry]) => (kind === 'user' ? entry.principal.user.id : entry.principal.tokenId) === id,
    );
    for (const [hash] of evicted) this.cache.delete(hash);
    for (const listener of this.evictionListeners) {
      try {
        listener({ kind, id });
      } catch (error) {
        this.options.onBackgroundError(error as Error);
      }
    }
  }

  private touch(hash: string, entry: CacheEntry, now: number): void {
    if (now - entry.lastUsedWrittenAt < lastUsedInterval) return;
    entry.lastUsedWrittenAt = now;
    this.database.db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date(now) })
      .where('token_hash', '=', hash)
      .execute()
      .catch((error: Error) => this.options.onBackgroundError(error));
  }
}

function toTokenInfo(row: {
  id: string;
  name: string;
  token_prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.token_prefix,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}
