import { z } from 'zod';
import { configuredProviders, embeddingModelKind, modelIdProblem } from '../providers/index.ts';
import { accessSettings } from './access-settings.ts';
import { approvalSettings } from './approval-settings.ts';
import { databaseSettings } from './database-settings.ts';
import { integrationSettings } from './integration-settings.ts';
import { knowledgeSettings } from './knowledge-settings.ts';
import { modelSettings } from './model-settings.ts';
import { observabilitySettings } from './observability-settings.ts';
import { serverSettings } from './server-settings.ts';
import { sessionSettings } from './session-settings.ts';
import { streamSettings } from './stream-settings.ts';
import { templateSettings } from './template-settings.ts';
import { triggerSettings } from './trigger-settings.ts';

/**
 * Every setting Agentry reads, by name, each with its grammar, default and description. The
 * README's configuration table mirrors it (a test checks that every name appears there). The
 * groups only keep the files small: a name is read the same whichever group holds it.
 */
export const settings = {
  ...serverSettings,
  ...databaseSettings,
  ...accessSettings,
  ...integrationSettings,
  ...knowledgeSettings,
  ...modelSettings,
  ...templateSettings,
  ...sessionSettings,
  ...triggerSettings,
  ...approvalSettings,
  ...streamSettings,
  ...observabilitySettings,
} as const;

export type SettingName = keyof typeof settings;

/**
 * The whole configuration's grammar: every setting, no unknown name (a typo in the config file
 * stops the start), and the checks that need two settings at once.
 */
export const settingsSchema = z
  .object(settings)
  .strict()
  .superRefine((raw, ctx) => {
    const providers = configuredProviders({
      openai: { apiKey: raw.OPENAI_API_KEY, baseUrl: raw.OPENAI_BASE_URL },
      anthropic: { apiKey: raw.ANTHROPIC_API_KEY, baseUrl: raw.ANTHROPIC_BASE_URL },
      google: { apiKey: raw.GOOGLE_GENERATIVE_AI_API_KEY, baseUrl: raw.GOOGLE_BASE_URL },
      endpoints: raw.MODEL_ENDPOINTS,
    });
    const endpoints = providers.endpoints;
    for (const { name } of raw.MODEL_ENDPOINT_KEYS) {
      if (!endpoints.includes(name))
        ctx.addIssue({ code: 'custom', path: ['MODEL_ENDPOINT_KEYS'], message: `"${name}" is not an endpoint in MODEL_ENDPOINTS` });
    }
    if (raw.HTTP_HEADERS_TIMEOUT_MS > raw.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must be at most HTTP_REQUEST_TIMEOUT_MS' });
    }
    const problem = modelIdProblem(raw.DEFAULT_MODEL, providers);
    if (problem) ctx.addIssue({ code: 'custom', path: ['DEFAULT_MODEL'], message: problem });
    for (const setting of ['EMBEDDING_MODEL', 'TEMPLATE_MATCH_EMBEDDING_MODEL'] as const) {
      const embedderProblem = modelIdProblem(raw[setting], providers, embeddingModelKind);
      if (embedderProblem) ctx.addIssue({ code: 'custom', path: [setting], message: embedderProblem });
    }
  });

/** The validated settings, typed, before they become a `Config`. */
export type Settings = z.output<typeof settingsSchema>;
