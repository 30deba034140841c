import { z } from 'zod';
import { bool, int } from './value-schemas.ts';

/** Watching the server: background checks of the model servers it depends on, and traces of every turn. */
export const observabilitySettings = {
  MODEL_HEALTH_INTERVAL_MS: int(0, 86_400_000)
    .default(60_000)
    .describe(
      'How often each model provider, endpoint and the embedding model is checked in the background (a models-list call, no tokens); 0 turns the checks off.',
    ),
  MODEL_HEALTH_TIMEOUT_MS: int(100, 600_000)
    .default(5000)
    .describe('How long one of those checks may take before its server counts as down.'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional()
    .describe(
      'OpenTelemetry collector to send traces of every turn to, over OTLP/HTTP (JSON), e.g. http://localhost:4318 (spans go to its /v1/traces). Unset: no traces, at no cost.',
    ),
  OTEL_CAPTURE_CONTENT: bool
    .default(false)
    .describe('Put prompts, answers, tool arguments and tool results in the traces. Off: traces carry names, counts and timings only.'),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('agentry').describe('The service name traces are reported under.'),
} as const;
