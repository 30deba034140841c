import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('there is always an enabled admin, on %s', (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(() => t.close());

  // The service call an operator's tool would make: an actor who is not the admin in question.
  const system = () => ({ userId: t.userId, ip: null });
  const patch = (token: string, id: string, payload: { admin?: boolean; disabled?: boolean }) =>
    t.app.inject({ method: 'PATCH', url: `/v1/users/${id}`, headers: bearer(token), payload });
  const enabledAdmins = async () =>
    (
      await t.runtime.database.db
        .selectFrom('users')
        .select('email')
        .where('is_admin', '=', true)
        .where('disabled_at', 'is', null)
        .execute()
    ).map((u) => u.email);
  const admin = async (email: string) => t.runtime.users.create({ email, admin: true }, { userId: null, ip: null });

  it('refuses to demote or disable the last enabled admin with 409 LAST_ADMIN', async () => {
    const only = (await t.runtime.users.findByEmail('admin@example.test'))!;
    expect(await enabledAdmins()).toEqual(['admin@example.test']);
    for (const change of [{ admin: false }, { disabled: true }, { admin: false, disabled: true }]) {
      const refused = await t.runtime.users.adminUpdate(system(), only.id, change).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'LAST_ADMIN', status: 409 });
    }
    expect(await enabledAdmins()).toEqual(['admin@example.test']);
    // A disabled admin does not count: with the other admin disabled, the last enabled one stays.
    const other = await admin(`disabled-${driver}@example.test`);
    expect((await patch(t.adminToken, other.user.id, { disabled: true })).statusCode).toBe(200);
    expect(await t.runtime.users.adminUpdate(system(), only.id, { admin: false }).catch((error: unknown) => error)).toMatchObject({
      code: 'LAST_ADMIN',
    });
    // Renaming is no removal, and another admin's rights may go while one enabled admin remains.
    expect((await t.runtime.users.adminUpdate(system(), only.id, { name: 'Still here' })).name).toBe('Still here');
    expect((await patch(t.adminToken, other.user.id, { admin: false })).statusCode).toBe(200);
  });

  it('lets one of two admins who demote each other at the same moment win, never both', async () => {
    const first = await admin(`first-${driver}@example.test`);
    const second = await admin(`second-${driver}@example.test`);
    // Leave these two as the only enabled admins.
    expect(
      (await t.runtime.users.adminUpdate(system(), (await t.runtime.users.findByEmail('admin@example.test'))!.id, { admin: false })).admin,
    ).toBe(false);
    for (const change of [{ admin: false }, { disabled: true }]) {
      const answers = await Promise.all([patch(first.token, second.user.id, change), patch(second.token, first.user.id, change)]);
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
      expect(answers.find((a) => a.statusCode === 409)!.json().error.code).toBe('LAST_ADMIN');
      expect(await enabledAdmins()).toHaveLength(1);
      // Restore both for the next round.
      await t.runtime.users.adminUpdate(system(), first.user.id, { admin: true, disabled: false });
      await t.runtime.users.adminUpdate(system(), second.user.id, { admin: true, disabled: false });
    }
  });
});
