import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors.ts';
import { compileTemplate, type TemplateDefinition } from './template-definition.ts';

/** The built-in templates shipped with this release: one YAML file per template, named after its slug. */
export const libraryDir = fileURLToPath(new URL('./library/', import.meta.url));

/**
 * Reads and validates every template in a library directory. A file that does not validate stops
 * the start with `TEMPLATE_INVALID` naming the file, so a broken release never half-syncs.
 */
export function loadLibrary(dir: string = libraryDir): TemplateDefinition[] {
  const files = fs
    .readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort();
  return files.map((file) => {
    const where = path.join(dir, file);
    let raw: unknown;
    try {
      raw = parseYaml(fs.readFileSync(where, 'utf8'));
    } catch (error) {
      throw new AppError('TEMPLATE_INVALID', `${where} is not valid YAML: ${(error as Error).message}`);
    }
    let definition: TemplateDefinition;
    try {
      definition = compileTemplate(raw).definition;
    } catch (error) {
      throw new AppError('TEMPLATE_INVALID', `${where}: ${(error as Error).message}`);
    }
    if (`${definition.slug}.yaml` !== file)
      throw new AppError('TEMPLATE_INVALID', `${where}: the file must be named after its slug, ${definition.slug}.yaml.`);
    return definition;
  });
}
