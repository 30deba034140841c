/*
 * Watching the server: background health checks of the model servers it depends on, and
 * OpenTelemetry traces of every turn. Named exports only; each becomes public to the other areas.
 */
export {
  ModelHealthMonitor,
  type HealthStatus,
  type ModelHealthOptions,
  type PublicModelHealth,
  type TargetHealth,
} from './model-health-monitor.ts';
export { modelHealthTargets, type HealthTarget, type HealthTargetKind } from './model-health-targets.ts';
export { startTracing, type TraceSettings, type Tracing } from './tracing.ts';
export { ModelCallTrace, StepTrace, ToolCallTrace, TurnTrace, TurnTracer } from './turn-tracer.ts';
