import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/test-database.ts';
import { loadLibrary } from './template-library.ts';
import { TemplateStore } from './template-store.ts';

const library = loadLibrary();
const userId = '00000000-0000-4000-8000-000000000001';

describe.each(['pglite', 'postgres'] as const)('syncing the built-in library into the database (%s)', (driver) => {
  let test: TestDatabase;
  let store: TemplateStore;
  beforeAll(async () => {
    test = await createTestDatabase(driver);
    store = new TemplateStore(test.database);
  });
  afterAll(() => test.drop());

  it('adds each template once, even when instances start together', async () => {
    const [a, b] = await Promise.all([store.syncLibrary(library), new TemplateStore(test.database).syncLibrary(library)]);
    expect([a.added.length, b.added.length].sort()).toEqual([0, library.length]);
    expect((await store.list(userId)).length).toBe(library.length);
    expect(await store.syncLibrary(library)).toEqual({ added: [], updated: [], retired: [] });
  });

  it('adds a version when a release changes a template, and keeps the old one for the sessions using it', async () => {
    const changed = library.map((t) => (t.slug === 'email-triage' ? { ...t, description: 'Triages unread mail, now with labels.' } : t));
    const [a, b] = await Promise.all([store.syncLibrary(changed), store.syncLibrary(changed)]);
    expect([...a.updated, ...b.updated]).toEqual(['email-triage']);
    const latest = await store.get(userId, 'email-triage');
    expect(latest).toMatchObject({ version: 2, builtIn: true });
    expect(latest.compiled.definition.description).toBe('Triages unread mail, now with labels.');
    expect((await store.get(userId, latest.id, 1)).compiled.definition.description).toBe(
      library.find((t) => t.slug === 'email-triage')!.description,
    );
  });

  it('retires a template a release no longer ships: gone from the gallery, still readable by id, back when shipped again', async () => {
    const { id } = await store.get(userId, 'issue-triage');
    const without = library.filter((t) => t.slug !== 'issue-triage');
    expect((await store.syncLibrary(without)).retired).toEqual(['issue-triage']);
    expect((await store.list(userId)).some((t) => t.id === id)).toBe(false);
    expect((await store.get(userId, id)).compiled.definition.slug).toBe('issue-triage');
    await store.syncLibrary(library);
    expect((await store.list(userId)).some((t) => t.id === id)).toBe(true);
  });
});
