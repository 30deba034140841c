import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runEntry } from '../test/server-process.ts';
import { PostgresDatabase } from './database/index.ts';
import { CredentialVault } from './integrations/index.ts';
import { parseKeyring } from './secret-key.ts';
import { WebhookSecrets } from './triggers/webhook-secrets.ts';

/** The `agentry` CLI as an operator runs it, on an embedded data directory. */
describe('the agentry CLI', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-cli-'));
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir);
  fs.cpSync(inject('pgliteTemplate'), path.join(dataDir, 'pglite'), { recursive: true });
  const env = { AGENTRY_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const run = runEntry('cli', args, { ...env, ...extraEnv });
    const { code } = await run.exited;
    return { code, output: run.output() };
  };

  it('prints usage, and exits 2 on an unknown command', async () => {
    expect(await cli(['help'])).toMatchObject({ code: 0, output: expect.stringMatching(/Usage: agentry/) });
    expect((await cli(['frobnicate'])).code).toBe(2);
  });

  it('refuses to create users before the database is migrated, then migrates and creates them', async () => {
    const early = await cli(['users', 'create', '--email', 'ops@example.test']);
    expect(early.code).toBe(1);
    expect(early.output).toMatch(/MIGRATIONS_PENDING/);

    const status = await cli(['migrate', 'status']);
    expect(status.output).toMatch(/pending +core +0001-accounts/);
    expect((await cli(['migrate', 'up'])).output).toMatch(/applied +0001-accounts/);

    const created = await cli(['users', 'create', '--email', 'ops@example.test', '--name', 'Ops', '--admin']);
    expect(created.code).toBe(0);
    expect(created.output).toMatch(/Created admin user ops@example.test/);
    expect(created.output).toMatch(/^Token: agt_[A-Za-z0-9_-]{43}$/m);

    const duplicate = await cli(['users', 'create', '--email', 'OPS@example.test']);
    expect(duplicate).toMatchObject({ code: 1, output: expect.stringMatching(/EMAIL_TAKEN/) });
  }, 120_000);

  it('issues a new token for a lost one, and says so when the email is unknown', async () => {
    expect((await cli(['users', 'token', '--email', 'Ops@Example.test'])).output).toMatch(/^Token: agt_/m);
    expect(await cli(['users', 'token', '--email', 'nobody@example.test'])).toMatchObject({
      code: 1,
      output: expect.stringMatching(/NOT_FOUND/),
    });
  });

  it('removes finished sessions past their retention, and refuses a retention that is not a number of days', async () => {
    expect(await cli(['sessions', 'cleanup', '--days', '30'])).toMatchObject({
      code: 0,
      output: expect.stringMatching(/Removed 0 finished sessions inactive for 30 days/),
    });
    expect(await cli(['sessions', 'cleanup', '--days', 'soon'])).toMatchObject({
      code: 1,
      output: expect.stringMatching(/VALIDATION_FAILED: --days/),
    });
  });

  it('backs up with the secret key and restores into an empty data directory, key included', async () => {
    const file = path.join(root, 'backup.sql');
    const backup = await cli(['backup', file, '--include-secret-key']);
    expect(backup.code).toBe(0);
    const key = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
    expect(fs.readFileSync(file, 'utf8')).toContain(key);

    const restoredDir = path.join(root, 'restored');
    const restored = await cli(['restore', file], { AGENTRY_DATA_DIR: restoredDir });
    expect(restored.code).toBe(0);
    expect(fs.readFileSync(path.join(restoredDir, 'secret.key'), 'utf8').trim()).toBe(key);
    expect((await cli(['users', 'token', '--email', 'ops@example.test'], { AGENTRY_DATA_DIR: restoredDir })).code).toBe(0);

    const again = await cli(['restore', file], { AGENTRY_DATA_DIR: restoredDir });
    expect(again).toMatchObject({ code: 1, output: expect.stringMatching(/RESTORE_REFUSED: The target database already holds/) });
  }, 120_000);

  it('rotates the key: a new key goes first in the keyring and every credential and webhook secret is re-encrypted under it', async () => {
    const keyFile = path.join(dataDir, 'secret.key');
    const before = fs.readFileSync(keyFile, 'utf8').trim();
    const open = () =>
      PostgresDatabase.open(
        { driver: 'pglite', dataDir: path.join(dataDir, 'pglite') },
        { pool: { max: 1, timeoutMs: 5000, statementTimeoutMs: 0 } },
      );
    let database = await open();
    const { id: userId } = await database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'ops@example.test')
      .executeTakeFirstOrThrow();
    const connectionId = '00000000-0000-4000-8000-000000000001';
    const sealed = new CredentialVault(parseKeyring(before)).seal({ userId, connectionId }, { accessToken: 'still-readable' });
    await database.db
      .insertInto('integration_connections')
      .values({
        id: connectionId,
        user_id: userId,
        provider: 'acme',
        auth_type: 'oauth2',
        credentials: sealed.sealed,
        credentials_key_id: sealed.keyId,
      })
      .execute();
    // A webhook trigger's secret, and the previous one, whose grace period is over.
    const triggerId = '00000000-0000-4000-8000-000000000002';
    const oldVault = new CredentialVault(parseKeyring(before));
    const secret = oldVault.seal({ userId, connectionId: `webhook:${triggerId}` }, { apiKey: 'whsec_still-valid' });
    const expired = oldVault.seal({ userId, connectionId: `webhook:${triggerId}` }, { apiKey: 'whsec_expired' });
    await database.db
      .insertInto('triggers')
      .values({
        id: triggerId,
        user_id: userId,
        name: 'Deploys',
        kind: 'webhook',
        secret: secret.sealed,
        secret_key_id: secret.keyId,
        previous_secret: expired.sealed,
        previous_secret_key_id: expired.keyId,
        previous_secret_expires_at: new Date(Date.now() - 1000),
      })
      .execute();
    await database.close();

    const rotated = await cli(['keys', 'rotate']);
    expect(rotated).toMatchObject({
      code: 0,
      output: expect.stringMatching(/Re-encrypted 1 credential record and 1 webhook secret under the key "k-[0-9a-f]{8}"/),
    });
    expect(rotated.output).toMatch(/Records per key: k-[0-9a-f]{8} 2\. /);
    const after = fs.readFileSync(keyFile, 'utf8').trim();
    expect(after.endsWith(`,${before}`)).toBe(true);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const keyring = parseKeyring(after);

    database = await open();
    const row = await database.db.selectFrom('integration_connections').selectAll().executeTakeFirstOrThrow();
    const trigger = await database.db.selectFrom('triggers').selectAll().where('id', '=', triggerId).executeTakeFirstOrThrow();
    await database.close();
    // The new key alone opens the webhook secret: the old one may be removed from the keyring.
    const newKeyOnly = new CredentialVault(parseKeyring(after.split(',')[0]!));
    expect(new WebhookSecrets({ vault: newKeyOnly, graceMs: 0 }).valid(trigger, Date.now())).toEqual(['whsec_still-valid']);
    expect(trigger).toMatchObject({ secret_key_id: keyring.current.id, previous_secret: null, previous_secret_key_id: null });
    expect(row.credentials_key_id).toBe(keyring.current.id);
    expect(
      new CredentialVault(keyring).open(
        { userId, connectionId },
        { keyId: row.credentials_key_id!, sealed: Buffer.from(row.credentials!) },
      ),
    ).toEqual({ accessToken: 'still-readable' });
    expect(await cli(['keys', 'rotate'], { AGENTRY_SECRET_KEY: after })).toMatchObject({
      code: 0,
      output: expect.stringMatching(/Re-encrypted 0 credential records and 0 webhook secrets/),
    });
    expect((await cli(['keys', 'generate'])).output).toMatch(/^k\d{8}:[A-Za-z0-9_-]{43}$/m);
  }, 120_000);
});
