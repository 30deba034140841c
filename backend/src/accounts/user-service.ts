import { sql } from 'kysely';
import type { PostgresDatabase, UserRow } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import type { TokenService } from './token-service.ts';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  timezone: string;
  admin: boolean;
  disabled: boolean;
  createdAt: string;
}

export function toPublicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    timezone: row.timezone,
    admin: row.is_admin,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at.toISOString(),
  };
}

/** True for an IANA time zone name this runtime knows, such as "Europe/Berlin" or "UTC". */
export function isValidTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface NewUserInput {
  email: string;
  name?: string;
  timezone?: string;
  admin?: boolean;
}

/** Who is acting, for the audit log. */
export interface Actor {
  userId: string | null;
  ip: string | null;
}

const uniqueViolation = '23505';

/** Users: creation (with a first token), profile updates, and what admins may change. */
export class UserService {
  constructor(
    private readonly database: PostgresDatabase,
    private readonly tokens: TokenService,
  ) {}

  /** Creates a user and their first API token in one transaction. */
  async create(input: NewUserInput, actor: Actor): Promise<{ user: PublicUser; token: string }> {
    try {
      return await this.database.transaction(async (tx) => {
        const row = await tx
          .insertInto('users')
          .values({ email: input.email.trim(), name: input.name ?? '', timezone: input.timezone ?? 'UTC', is_admin: input.admin ?? false })
          .returningAll()
          .executeTakeFirstOrThrow();
        const { token } = await this.tokens.createIn(tx, row.id, { name: 'initial' }, actor);
        await recordAudit(tx, {
          action: 'user.created',
          actorUserId: actor.userId,
          targetType: 'user',
          targetId: row.id,
          ip: actor.ip,
          details: { email: row.email, admin: row.is_admin },
        });
        return { user: toPublicUser(row), token };
      });
    } catch (error) {
      if ((error as { code?: string }).code === uniqueViolation) throw new AppError('EMAIL_TAKEN', { details: { email: input.email } });
      throw error;
    }
  }

  /**
   * On the very first start, creates the admin and returns their token (to be shown once).
   * Returns undefined when any user exists. Safe when several instances start together: only one
   * insert wins the email's unique index.
   */
  async ensureFirstAdmin(email: string): Promise<{ user: PublicUser; token: string } | undefined> {
    const existing = await this.database.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (existing) return undefined;
    try {
      return await this.create({ email, name: 'Admin', admin: true }, { userId: null, ip: null });
    } catch (error) {
      if (error instanceof AppError && error.code === 'EMAIL_TAKEN') return undefined;
      throw error;
    }
  }

  async get(id: string): Promise<PublicUser> {
    const row = await this.database.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such user.');
    return toPublicUser(row);
  }

  async findByEmail(email: string): Promise<PublicUser | undefined> {
    const row = await this.database.db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .executeTakeFirst();
    return row && toPublicUser(row);
  }

  /** Ordered by email; `after` is the last email of the previous page. */
  async list(options: { limit: number; after?: string }): Promise<PublicUser[]> {
    let query = this.database.db
      .selectFrom('users')
      .selectAll()
      .orderBy((eb) => eb.fn('lower', ['email']))
      .limit(options.limit);
    if (options.after) {
      const after = options.after.toLowerCase();
      query = query.where((eb) => eb(eb.fn('lower', ['email']), '>', after));
    }
    return (await query.execute()).map(toPublicUser);
  }

  async updateProfile(userId: string, patch: { name?: string; timezone?: string }): Promise<PublicUser> {
    const row = await this.database.db
      .updateTable('users')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No such user.');
    return toPublicUser(row);
  }

  /**
   * What an admin may change on any user: disable or enable, grant or remove admin. Disabling
   * takes effect at once on every instance: the user's cached tokens are evicted when it commits.
   *
   * There is always an enabled admin: taking the last one's rights away (demoting or disabling)
   * answers 409 LAST_ADMIN. Such changes run one at a time under a transaction lock, so two
   * admins demoting each other at once, on any instances, cannot leave none.
   */
  async adminUpdate(
    actor: Actor & { userId: string },
    id: string,
    patch: { disabled?: boolean; admin?: boolean; name?: string },
  ): Promise<PublicUser> {
    const user = await this.database.transaction(async (tx) => {
      const removesAdmin = patch.disabled === true || patch.admin === false;
      // Taken before any row lock, by every change that may remove an admin: the count below
      // then sees every such change that committed before it (READ COMMITTED reads afresh).
      if (removesAdmin) await sql`select pg_advisory_xact_lock(hashtext('agentry.users.admins'))`.execute(tx);
      const before = await tx.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!before) throw new AppError('NOT_FOUND', 'No such user.');
      if (before.id === actor.userId && removesAdmin) throw new AppError('SELF_LOCKOUT');
      if (removesAdmin && before.is_admin && before.disabled_at === null) {
        const other = await tx
          .selectFrom('users')
          .select('id')
          .where('is_admin', '=', true)
          .where('disabled_at', 'is', null)
          .where('id', '!=', id)
          .limit(1)
          .executeTakeFirst();
        if (!other) throw new AppError('LAST_ADMIN');
      }
      const row = await tx
        .updateTable('users')
        .set({
          updated_at: new Date(),
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.admin !== undefined ? { is_admin: patch.admin } : {}),
          ...(patch.disabled !== undefined ? { disabled_at: patch.disabled ? (before.disabled_at ?? new Date()) : null } : {}),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const disabledChanged = (before.disabled_at === null) !== (row.disabled_at === null);
      await recordAudit(tx, {
        action: disabledChanged ? (row.disabled_at ? 'user.disabled' : 'user.enabled') : 'user.updated',
        actorUserId: actor.userId,
        targetType: 'user',
        targetId: id,
        ip: actor.ip,
        details: { admin: row.is_admin, disabled: row.disabled_at !== null },
      });
      if (disabledChanged || before.is_admin !== row.is_admin) await this.tokens.evictUserIn(tx, row.id);
      return row;
    });
    return toPublicUser(user);
  }
}
