import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { toConfig, settings, settingsSchema, type Config } from './config/index.ts';
import { AppError } from './errors.ts';

/*
 * Every setting Agentry reads comes through here. A setting comes from the environment or from one
 * optional YAML file (AGENTRY_CONFIG, default ./agentry.config.yaml) that uses the same names;
 * the environment wins. Everything is validated once at start: a bad value stops the start with a
 * message that names the setting. What each setting accepts is in config/settings.ts (by concern,
 * one group per file); the README's configuration table mirrors it (a test checks that every name
 * appears there).
 */

export { settings, type Config, type RateLimitGroup, type SettingName } from './config/index.ts';

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    if (explicit) throw new AppError('CONFIG_INVALID', `AGENTRY_CONFIG points to ${file}, which does not exist.`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `The config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AppError('CONFIG_INVALID', `The config file ${file} must be a mapping of SETTING: value.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Reads and validates the configuration. Throws `CONFIG_INVALID` naming every bad setting, so a
 * typo in a deployment fails at start instead of at the first request that needs it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const explicitFile = env.AGENTRY_CONFIG;
  const file = path.resolve(cwd, explicitFile ?? 'agentry.config.yaml');
  const fromFile = readConfigFile(file, explicitFile !== undefined);
  const merged: Record<string, unknown> = { ...fromFile };
  for (const name of Object.keys(settings)) {
    const value = env[name];
    if (value !== undefined && value !== '') merged[name] = value;
  }
  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} in ${file}`
        : `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return toConfig(result.data, cwd, env);
}
