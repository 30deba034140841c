/**
 * `agentry`: administration from the shell, for server deployments and lost tokens. Wiring only:
 * each command opens the configured database, calls a service and prints the outcome.
 *
 * On an embedded installation the data directory is locked by the running server: stop it first.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, type Config } from './config.ts';
import { backupDatabase, isEmbedded, MigrationRunner, readBackupHeader, restoreDatabase, type PostgresDatabase } from './database/index.ts';
import { AppError } from './errors.ts';
import { kb, kbUsage } from './knowledge-cli.ts';
import { triggers, triggersUsage } from './triggers-cli.ts';
import { createRuntime, openDatabase } from './runtime.ts';
import { recordAudit } from './accounts/index.ts';
import { CredentialVault, rotateCredentials } from './integrations/index.ts';
import { generateKeyEntry, parseKeyring, resolveSecretKey, secretKeyFile } from './secret-key.ts';
import { removeFinishedSessions } from './sessions/index.ts';
import { rotateWebhookSecrets } from './triggers/index.ts';

const usage = `Usage: agentry <command>

  migrate up                       apply every pending migration
  migrate down [--to NAME|0]       revert the newest migration, or every one after NAME (0: all)
  migrate status                   list migrations and whether they ran
  users create --email E [--name N] [--admin]
                                   create a user and print their first token
  users token --email E [--name N] issue a new token for a user (a lost token)
  backup FILE [--include-secret-key]
                                   write a portable SQL backup of the whole database
  restore FILE                     load a backup into an empty database (embedded or DATABASE_URL)
  sessions cleanup [--days N]      remove completed and failed sessions inactive N days
                                   (default SESSION_RETENTION_DAYS), with their events
  keys rotate                      re-encrypt stored credentials and webhook secrets under the keyring's first key
                                   (embedded, without AGENTRY_SECRET_KEY: adds a new key first)
  keys generate                    print a new key entry (id:key) to put first in AGENTRY_SECRET_KEY
${kbUsage}
${triggersUsage}

Settings come from the environment and agentry.config.yaml, as for the server.`;

type Print = (line: string) => void;

async function withDatabase<T>(config: Config, fn: (database: PostgresDatabase) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, pino({ level: 'warn' }), 'cli');
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

async function migrate(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { to: { type: 'string' } }, allowPositionals: true });
  const action = positionals[0];
  await withDatabase(config, async (database) => {
    const runner = new MigrationRunner(database.db);
    if (action === 'status') {
      const status = await runner.status();
      for (const m of status.migrations)
        print(
          `${m.executedAt ? 'applied ' : 'pending '} ${m.track.padEnd(6)} ${m.name}${m.executedAt ? `  (${m.executedAt.toISOString()})` : ''}`,
        );
      print(`${status.pending} pending${status.blocked ? `, ${status.blocked} waiting for the pgvector extension` : ''}`);
      return;
    }
    if (action !== 'up' && action !== 'down')
      throw new AppError('VALIDATION_FAILED', `Unknown migrate action "${action ?? ''}".\n\n${usage}`);
    const { applied } = action === 'up' ? await runner.up() : await runner.down(values.to);
    for (const m of applied) print(`${m.direction === 'Up' ? 'applied ' : 'reverted'} ${m.name}`);
    if (applied.length === 0) print('nothing to do');
  });
}

async function users(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { email: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean' } },
    allowPositionals: true,
  });
  const action = positionals[0];
  if (!values.email) throw new AppError('VALIDATION_FAILED', '--email is required.');
  const email = values.email;
  await withDatabase(config, async (database) => {
    if ((await new MigrationRunner(database.db).status()).pending > 0) throw new AppError('MIGRATIONS_PENDING');
    const runtime = await createRuntime(config, database, pino({ level: 'warn' }), { background: false });
    try {
      const actor = { userId: null, ip: null };
      if (action === 'create') {
        const { user, token } = await runtime.users.create(
          { email, ...(values.name ? { name: values.name } : {}), admin: values.admin ?? false },
          actor,
        );
        print(`Created ${user.admin ? 'admin ' : ''}user ${user.email} (${user.id}).`);
        print(`Token: ${token}`);
      } else if (action === 'token') {
        const user = await runtime.users.findByEmail(email);
        if (!user) throw new AppError('NOT_FOUND', `No user has the email ${email}.`);
        const { token } = await runtime.tokens.create(user.id, { name: values.name ?? 'issued by the CLI' }, actor);
        print(`Token: ${token}`);
      } else {
        throw new AppError('VALIDATION_FAILED', `Unknown users action "${action ?? ''}".\n\n${usage}`);
      }
    } finally {
      await runtime.tokens.stop();
    }
  });
}

async function backup(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { 'include-secret-key': { type: 'boolean' } }, allowPositionals: true });
  const file = positionals[0];
  if (!file) throw new AppError('VALIDATION_FAILED', 'Name the backup file: agentry backup FILE');
  const secretKey = values['include-secret-key'] ? resolveSecretKey(config) : undefined;
  await withDatabase(config, (database) => backupDatabase(database, file, secretKey ? { secretKey } : {}));
  print(`Wrote ${file}${secretKey ? ' (with the secret key: keep it as safe as the key itself)' : ' (without the secret key)'}.`);
}

async function restore(config: Config, args: string[], print: Print): Promise<void> {
  const file = parseArgs({ args, allowPositionals: true }).positionals[0];
  if (!file) throw new AppError('VALIDATION_FAILED', 'Name the backup file: agentry restore FILE');
  if (!fs.existsSync(file)) throw new AppError('RESTORE_REFUSED', `The backup file ${file} does not exist.`);
  const { secretKey } = readBackupHeader(file);
  await withDatabase(config, (database) => restoreDatabase(database, file));
  print(`Restored ${file}.`);
  if (secretKey && isEmbedded(config.database) && !config.secretKey && !fs.existsSync(secretKeyFile(config))) {
    fs.writeFileSync(secretKeyFile(config), `${secretKey}\n`, { mode: 0o600 });
    print(`Restored the secret key into ${secretKeyFile(config)}.`);
  } else if (secretKey && !config.secretKey) {
    print('The backup carries a secret key: set AGENTRY_SECRET_KEY to it on every instance.');
  }
}

async function sessions(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { days: { type: 'string' } }, allowPositionals: true });
  if (positionals[0] !== 'cleanup')
    throw new AppError('VALIDATION_FAILED', `Unknown sessions action "${positionals[0] ?? ''}".\n\n${usage}`);
  if (values.days === undefined && config.sessions.retentionDays === 0)
    return print('SESSION_RETENTION_DAYS is 0: finished sessions are kept. Give --days to remove them anyway.');
  const days = values.days === undefined ? config.sessions.retentionDays : Number(values.days);
  if (!Number.isInteger(days) || days < 1) throw new AppError('VALIDATION_FAILED', '--days must be a whole number of days, at least 1.');
  const removed = await withDatabase(config, (database) => removeFinishedSessions(database, days));
  print(`Removed ${removed} finished session${removed === 1 ? '' : 's'} inactive for ${days} days or more.`);
}

async function keys(config: Config, args: string[], print: Print): Promise<void> {
  const action = args[0];
  if (action === 'generate') return print(generateKeyEntry());
  if (action !== 'rotate') throw new AppError('VALIDATION_FAILED', `Unknown keys action "${action ?? ''}".\n\n${usage}`);
  const current = resolveSecretKey(config);
  // The embedded keyring lives in the data directory: a new key goes first and the old ones stay,
  // so records under them remain readable until rewritten below (and if this is interrupted).
  const keyring = config.secretKey ? current : `${generateKeyEntry()},${current}`;
  const vault = new CredentialVault(parseKeyring(keyring));
  const { credentials, webhooks } = await withDatabase(config, async (database) => {
    if (!config.secretKey) {
      const file = secretKeyFile(config);
      fs.writeFileSync(`${file}.new`, `${keyring}\n`, { mode: 0o600 });
      fs.renameSync(`${file}.new`, file);
      print(`Added the key "${vault.currentKeyId}" to ${file}.`);
    }
    const credentials = await rotateCredentials(database, vault);
    const webhooks = await rotateWebhookSecrets(database, vault);
    await recordAudit(database.db, {
      action: 'credentials.rotated',
      details: {
        keyId: vault.currentKeyId,
        rewritten: credentials.rewritten,
        unreadable: credentials.unreadable,
        webhookSecretsRewritten: webhooks.rewritten,
        webhookSecretsUnreadable: webhooks.unreadable,
      },
    });
    return { credentials, webhooks };
  });
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  print(
    `Re-encrypted ${plural(credentials.rewritten, 'credential record')} and ${plural(webhooks.rewritten, 'webhook secret')} under the key "${vault.currentKeyId}".`,
  );
  const unreadable = credentials.unreadable + webhooks.unreadable;
  const byKey = { ...credentials.byKey };
  for (const [id, count] of Object.entries(webhooks.byKey)) byKey[id] = (byKey[id] ?? 0) + count;
  if (unreadable > 0)
    print(
      `${unreadable} record${unreadable === 1 ? ' is' : 's are'} under a key not in the keyring, or damaged: left as they are; their users must connect the integration again, or rotate the trigger's webhook secret.`,
    );
  print(
    `Records per key: ${
      Object.entries(byKey)
        .map(([id, count]) => `${id} ${count}`)
        .join(', ') || 'none stored'
    }. Keys no record uses may be removed from the keyring.`,
  );
  if (config.secretKey && parseKeyring(keyring).ids.length === 1) {
    print(
      'To move to a new key: add one after the current key in AGENTRY_SECRET_KEY on every instance (agentry keys generate prints one) and restart them; then move it first on every instance and restart them; then run this again.',
    );
  }
}

const commands: Record<string, (config: Config, args: string[], print: Print) => Promise<void>> = {
  migrate,
  users,
  backup,
  restore,
  kb,
  triggers,
  sessions,
  keys,
};

/** Runs one CLI command; resolves to the process exit code. */
async function runCli(argv: string[], print: Print): Promise<number> {
  const [name, ...args] = argv;
  const command = name && commands[name];
  if (!command) {
    print(usage);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  try {
    await command(loadConfig(), args, print);
    return 0;
  } catch (error) {
    const message = error instanceof AppError ? `${error.code}: ${error.message}` : ((error as Error).stack ?? String(error));
    process.stderr.write(`agentry: ${message}\n`);
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
