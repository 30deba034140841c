import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { TurnTracer } from './turn-tracer.ts';

export interface TraceSettings {
  /** The collector's base URL (OTLP/HTTP); spans go to its /v1/traces. Unset: no exporter. */
  endpoint?: string | undefined;
  /** Prompts, answers, tool arguments and results in the spans; off by default. */
  captureContent: boolean;
  serviceName: string;
}

export interface Tracing {
  tracer: TurnTracer;
  /** Sends what is queued now (tests, and `close`). */
  flush(): Promise<void>;
  /** Sends what is queued and stops the exporter. */
  close(): Promise<void>;
}

/** Spans waiting to be sent: past this, new ones are dropped rather than held in memory. */
const maxQueueSize = 2048;

/**
 * Traces of every turn. With a collector configured, spans are batched (a bounded queue, sent
 * every few seconds, the oldest waiting at most a batch) to it over OTLP/HTTP, from a provider
 * of this runtime's own (never registered globally, so two runtimes in one process never mix
 * their spans). Without one, the turn tracer uses the OpenTelemetry API's global tracer: a no-op
 * unless the process that embeds Agentry registered a provider of its own, so tracing costs
 * nothing when it is off.
 */
export function startTracing(settings: TraceSettings, version: string): Tracing {
  if (!settings.endpoint) {
    const tracer = new TurnTracer(trace.getTracer('agentry', version), { captureContent: settings.captureContent });
    return { tracer, flush: async () => undefined, close: async () => undefined };
  }
  const exporter = new OTLPTraceExporter({ url: `${settings.endpoint}/v1/traces`, timeoutMillis: 10_000 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: version }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize, maxExportBatchSize: 512, scheduledDelayMillis: 5000 })],
  });
  const tracer = new TurnTracer(provider.getTracer('agentry', version), { captureContent: settings.captureContent });
  return { tracer, flush: () => provider.forceFlush(), close: () => provider.shutdown() };
}
