import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import { isUuid, type DatabaseSchema, type PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { compileTemplate, type CompiledTemplate, type TemplateDefinition } from './template-definition.ts';

/** One version of a template, compiled, with its identity. */
export interface StoredTemplate {
  id: string;
  version: number;
  builtIn: boolean;
  /** When this version was made. */
  createdAt: string;
  compiled: CompiledTemplate;
}

/** A template version as the API shows it: the definition plus its identity. */
export type TemplateView = TemplateDefinition & { id: string; version: number; builtIn: boolean; createdAt: string };

export function toView(template: StoredTemplate): TemplateView {
  return {
    ...template.compiled.definition,
    id: template.id,
    version: template.version,
    builtIn: template.builtIn,
    createdAt: template.createdAt,
  };
}

export interface TemplateFilters {
  category?: string | undefined;
  tag?: string | undefined;
}

const uniqueViolation = '23505';
const libraryLock = sql`select pg_advisory_xact_lock(hashtext('agentry.templates.library'))`;

function checksum(definition: TemplateDefinition): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex');
}

/** A unique-index violation on insert or update means the caller already has a template with that slug. */
function slugConflict(error: unknown, slug: string): unknown {
  if ((error as { code?: string }).code !== uniqueViolation) return error;
  return new AppError('TEMPLATE_SLUG_TAKEN', `You already have a template with the slug "${slug}".`);
}

/**
 * Templates in the database: built-ins (no owner, synced from the library) and each user's own.
 * Every change adds an immutable version; a user sees the built-ins and their own templates, and
 * anyone else's id answers 404.
 */
export class TemplateStore {
  /** Versions this instance has read, compiled: immutable, so never stale. */
  private readonly stored = new LRUCache<string, { compiled: CompiledTemplate; createdAt: string }>({ max: 5_000 });

  constructor(private readonly database: PostgresDatabase) {}

  /**
   * Brings the built-ins in line with the library: a new template gets version 1, a changed one a
   * new version, one no longer shipped is retired (its versions stay for the sessions using them).
   * Serialised by an advisory lock, so instances starting together add each version once.
   */
  async syncLibrary(library: readonly TemplateDefinition[]): Promise<{ added: string[]; updated: string[]; retired: string[] }> {
    return this.database.transaction(async (tx) => {
      await libraryLock.execute(tx);
      const existing = await tx
        .selectFrom('templates as t')
        .innerJoin('template_versions as v', (join) => join.onRef('v.template_id', '=', 't.id').onRef('v.version', '=', 't.latest_version'))
        .where('t.user_id', 'is', null)
        .select(['t.id', 't.slug', 't.deleted_at', 'v.checksum'])
        .execute();
      const bySlug = new Map(existing.map((row) => [row.slug, row]));
      const result = { added: [] as string[], updated: [] as string[], retired: [] as string[] };
      for (const definition of library) {
        const current = bySlug.get(definition.slug);
        const sum = checksum(definition);
        if (!current) {
          const { id } = await tx
            .insertInto('templates')
            .values({ slug: definition.slug, user_id: null })
            .returning('id')
            .executeTakeFirstOrThrow();
          await tx.insertInto('template_versions').values({ template_id: id, version: 1, definition, checksum: sum }).execute();
          result.added.push(definition.slug);
        } else if (current.checksum !== sum || current.deleted_at) {
          if (current.checksum !== sum) {
            await this.addVersion(tx, current.id, definition, sum);
            result.updated.push(definition.slug);
          }
          await tx.updateTable('templates').set({ deleted_at: null }).where('id', '=', current.id).execute();
        }
      }
      const shipped = new Set(library.map((d) => d.slug));
      for (const row of existing) {
        if (shipped.has(row.slug) || row.deleted_at) continue;
        await tx
          .updateTable('templates')
          .set({ deleted_at: sql`now()` })
          .where('id', '=', row.id)
          .execute();
        result.retired.push(row.slug);
      }
      return result;
    });
  }

  /** The caller's templates and the built-ins, latest versions, by name. */
  async list(userId: string, filters: TemplateFilters = {}): Promise<StoredTemplate[]> {
    let query = this.visible(userId, true);
    if (filters.category || filters.tag) {
      query = query.innerJoin('template_versions as v', (join) =>
        join.onRef('v.template_id', '=', 't.id').onRef('v.version', '=', 't.latest_version'),
      );
      if (filters.category) query = query.where(sql<boolean>`lower(v.definition->>'category') = lower(${filters.category})`);
      if (filters.tag) query = query.where(sql<boolean>`v.definition->'tags' @> ${JSON.stringify([filters.tag])}::jsonb`);
    }
    const rows = await query.select(['t.id', 't.user_id', 't.latest_version as version']).execute();
    const templates = await this.withDefinitions(rows);
    return templates.sort((a, b) => a.compiled.definition.name.localeCompare(b.compiled.definition.name, 'en') || a.id.localeCompare(b.id));
  }

  /**
   * One template by id (or, for people typing, by slug: the caller's own first, then a built-in),
   * at its latest version or the one asked for. Another user's template answers 404.
   */
  async get(userId: string, idOrSlug: string, version?: number): Promise<StoredTemplate> {
    const row = await this.visible(userId)
      .where(isUuid(idOrSlug) ? sql<boolean>`t.id = ${idOrSlug.toLowerCase()}::uuid` : sql<boolean>`t.slug = ${idOrSlug}`)
      .select(['t.id', 't.user_id', 't.latest_version as version'])
      .orderBy(sql`t.user_id is null`)
      .limit(1)
      .executeTakeFirst();
    if (!row) throw new AppError('TEMPLATE_NOT_FOUND');
    const [template] = await this.withDefinitions([{ ...row, version: version ?? row.version }]);
    if (!template) throw new AppError('TEMPLATE_NOT_FOUND', `This template has no version ${version}.`);
    return template;
  }

  /**
   * Adds each version's definition, from memory when this instance has read it before: versions
   * never change, so the one query on the hot path only checks who may see what.
   */
  private async withDefinitions(rows: ReadonlyArray<{ id: string; user_id: string | null; version: number }>): Promise<StoredTemplate[]> {
    const missing = rows.filter((row) => !this.stored.has(`${row.id}:${row.version}`));
    if (missing.length > 0) {
      const loaded = await this.database.db
        .selectFrom('template_versions')
        .where(sql<boolean>`(template_id, version) in (${sql.join(missing.map((row) => sql`(${row.id}::uuid, ${row.version}::integer)`))})`)
        .select(['template_id', 'version', 'definition', 'created_at'])
        .execute();
      for (const row of loaded) {
        let compiled: CompiledTemplate;
        try {
          compiled = compileTemplate(row.definition);
        } catch (error) {
          // Stored definitions were valid when written: one that no longer compiles is our fault, not the caller's.
          throw new AppError('INTERNAL', { details: { template: row.template_id, version: row.version }, cause: error });
        }
        this.remember(row.template_id, row.version, compiled, row.created_at);
      }
    }
    return rows.flatMap((row) => {
      const stored = this.stored.get(`${row.id}:${row.version}`);
      return stored ? [{ id: row.id, version: row.version, builtIn: row.user_id === null, ...stored }] : [];
    });
  }

  private remember(id: string, version: number, compiled: CompiledTemplate, createdAt: Date): StoredTemplate {
    const stored = { compiled, createdAt: createdAt.toISOString() };
    this.stored.set(`${id}:${version}`, stored);
    return { id, version, builtIn: false, ...stored };
  }

  /** Every version of a template, newest first. */
  async versions(userId: string, id: string): Promise<Array<{ version: number; createdAt: string }>> {
    const template = await this.get(userId, id);
    const rows = await this.database.db
      .selectFrom('template_versions')
      .where('template_id', '=', template.id)
      .select(['version', 'created_at'])
      .orderBy('version', 'desc')
      .execute();
    return rows.map((row) => ({ version: row.version, createdAt: row.created_at.toISOString() }));
  }

  async create(userId: string, compiled: CompiledTemplate): Promise<StoredTemplate> {
    const { definition } = compiled;
    const row = await this.database
      .transaction(async (tx) => {
        const { id } = await tx
          .insertInto('templates')
          .values({ user_id: userId, slug: definition.slug })
          .returning('id')
          .executeTakeFirstOrThrow();
        const added = await tx
          .insertInto('template_versions')
          .values({ template_id: id, version: 1, definition, checksum: checksum(definition) })
          .returning(['version', 'created_at'])
          .executeTakeFirstOrThrow();
        return { id, ...added };
      })
      .catch((error: unknown) => {
        throw slugConflict(error, definition.slug);
      });
    // Remembered only once committed: a version number of a rolled-back change may be used again.
    return this.remember(row.id, row.version, compiled, row.created_at);
  }

  /**
   * Adds a version to one of the caller's templates; concurrent updates each get their own
   * number. Undefined when the caller has no such template (any more).
   */
  async update(userId: string, id: string, compiled: CompiledTemplate): Promise<StoredTemplate | undefined> {
    const { definition } = compiled;
    const row = await this.database
      .transaction(async (tx) => {
        const owned = await tx
          .updateTable('templates')
          .set({ slug: definition.slug })
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .where('deleted_at', 'is', null)
          .returning('id')
          .executeTakeFirst();
        return owned && this.addVersion(tx, id, definition, checksum(definition));
      })
      .catch((error: unknown) => {
        throw slugConflict(error, definition.slug);
      });
    return row && this.remember(id, row.version, compiled, row.created_at);
  }

  /** Deletes one of the caller's templates; false when there is none. Its versions stay for the sessions that use them. */
  async delete(userId: string, id: string): Promise<boolean> {
    const result = await this.database.db
      .updateTable('templates')
      .set({ deleted_at: sql`now()` })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * The caller's live templates and the built-ins. A retired built-in stays readable by id (sessions
   * started on it keep working) but is not listed: pass `listing`.
   */
  private visible(userId: string, listing = false) {
    return this.database.db
      .selectFrom('templates as t')
      .where((eb) =>
        eb.or([
          eb.and([eb('t.user_id', '=', userId), eb('t.deleted_at', 'is', null)]),
          listing ? eb.and([eb('t.user_id', 'is', null), eb('t.deleted_at', 'is', null)]) : eb('t.user_id', 'is', null),
        ]),
      );
  }

  private async addVersion(tx: Transaction<DatabaseSchema>, id: string, definition: TemplateDefinition, sum: string) {
    const { latest_version: version } = await tx
      .updateTable('templates')
      .set({ latest_version: sql`latest_version + 1`, updated_at: sql`now()` })
      .where('id', '=', id)
      .returning('latest_version')
      .executeTakeFirstOrThrow();
    return tx
      .insertInto('template_versions')
      .values({ template_id: id, version, definition, checksum: sum })
      .returning(['version', 'created_at'])
      .executeTakeFirstOrThrow();
  }
}
