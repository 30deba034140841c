/**
 * `npm start`: the Agentry server. Wiring only: configuration, database, migrations, services,
 * HTTP, and an orderly shutdown on SIGTERM/SIGINT.
 */
import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { MigrationRunner } from './database/index.ts';
import { AppError } from './errors.ts';
import { createRuntime, migrateAtStart, openDatabase, type Runtime } from './runtime.ts';
import { resolveSecretKey } from './secret-key.ts';
import { buildApp, logRedactions } from './server/index.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, redact: logRedactions });
  resolveSecretKey(config);
  const database = await openDatabase(config, logger, 'server', (error) => {
    logger.fatal({ err: error }, 'the embedded database stopped; exiting so a supervisor can restart Agentry');
    process.exit(1);
  });
  let runtime: Runtime | undefined;
  try {
    if (config.autoMigrate) await migrateAtStart(config, database, logger);
    else if ((await new MigrationRunner(database.db).status()).pending > 0) throw new AppError('MIGRATIONS_PENDING');
    runtime = await createRuntime(config, database, logger);
    const admin = await runtime.users.ensureFirstAdmin(config.adminEmail);
    if (admin) {
      // Shown once, on a line of its own, so it can be copied or read by a script. Never logged.
      process.stdout.write(
        `\nFirst start: created the admin user ${admin.user.email}.\nAdmin token: ${admin.token}\nKeep it safe: it is not shown again.\n\n`,
      );
    }
  } catch (error) {
    await (runtime ?? database).close();
    throw error;
  }
  const app = await buildApp(runtime, { loggerInstance: logger });
  await app.listen({ port: config.port, host: config.host });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('in-flight requests did not finish in time; closing their connections');
      app.server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    force.unref();
    await app.close();
    await runtime.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof AppError) {
    process.stderr.write(`agentry: ${error.code}: ${error.message}\n`);
  } else {
    process.stderr.write(`agentry: could not start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
