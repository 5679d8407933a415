// Observability of the gateway: Prometheus metrics, OpenTelemetry traces, redacted JSON logs.

export { isSecretField, REDACTED, redact, redactText } from '../../core/redact.js';
export { GatewayMetrics, type SecuritySeverity, type ToolCallStatus } from './gateway-metrics.js';
export { Logger, type LogLevel, type LogSink, silentLogger, stderrLogger } from './logger.js';
export {
  Counter,
  DEFAULT_SECONDS_BUCKETS,
  Gauge,
  Histogram,
  type Labels,
  MAX_SERIES_PER_FAMILY,
} from './metric-family.js';
export { MetricRegistry, PROMETHEUS_CONTENT_TYPE } from './registry.js';
export { failSpan, remoteParent, SpanKind, Tracing, type TracingOptions } from './tracing.js';
