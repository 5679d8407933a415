import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces. Without it spans are not recorded. */
  readonly otlpEndpoint?: string;
  /** Extra headers for the collector (an auth token, say); never logged. */
  readonly otlpHeaders?: Readonly<Record<string, string>>;
  readonly serviceName?: string;
  /** A custom exporter (tests); takes precedence over the endpoint. */
  readonly exporter?: SpanExporter;
  /** How long spans may wait before a batch is sent (default 1 s). */
  readonly batchDelayMs?: number;
}

/**
 * One trace per request: the HTTP span, then the sandbox run, then each tool
 * call, each a child of the one before. Parents are passed explicitly (no
 * global context manager or global tracer provider), so two gateways in one
 * process never mix their spans.
 */
export class Tracing {
  private constructor(
    private readonly tracer: Tracer | undefined,
    private readonly provider: BasicTracerProvider | undefined,
  ) {}

  static create(options: TracingOptions = {}): Tracing {
    const exporter =
      options.exporter ??
      (options.otlpEndpoint === undefined
        ? undefined
        : new OTLPTraceExporter({
            url: options.otlpEndpoint,
            ...(options.otlpHeaders === undefined ? {} : { headers: { ...options.otlpHeaders } }),
          }));
    if (exporter === undefined) return new Tracing(undefined, undefined);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'oacp-gateway' }),
      spanProcessors: [
        new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.batchDelayMs ?? 1000 }),
      ],
    });
    return new Tracing(provider.getTracer('oacp-gateway'), provider);
  }

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /** Starts a span under `parent` (a span, a remote parent context, or none for a new trace). */
  start(
    name: string,
    parent: Span | Context | undefined,
    attributes?: Attributes,
    kind = SpanKind.INTERNAL,
  ): Span {
    if (this.tracer === undefined) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const context =
      parent === undefined ? ROOT_CONTEXT : isSpan(parent) ? trace.setSpan(ROOT_CONTEXT, parent) : parent;
    return this.tracer.startSpan(
      name,
      { kind, ...(attributes === undefined ? {} : { attributes }) },
      context,
    );
  }

  /** Runs `work` in a child span, ending it with the outcome (an exception marks it as an error). */
  async inSpan<T>(
    name: string,
    parent: Span | Context | undefined,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
  ): Promise<T> {
    const span = this.start(name, parent, attributes);
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  flush(): Promise<void> {
    return this.provider?.forceFlush() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.provider?.shutdown() ?? Promise.resolve();
  }
}

export function failSpan(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: typeof code === 'string' ? code : error instanceof Error ? error.name : 'error',
  });
}

/**
 * Reads a W3C `traceparent` header (version 00) into a remote parent, so a
 * client's trace continues through the gateway. Anything malformed is ignored:
 * the request then starts a trace of its own.
 */
export function remoteParent(header: string | undefined): Context | undefined {
  if (header === undefined) return undefined;
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header.trim());
  if (match === null) return undefined;
  const [, traceId = '', spanId = '', flags = '00'] = match;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
  });
}

function isSpan(value: Span | Context): value is Span {
  return typeof (value as Span).spanContext === 'function';
}

export { SpanKind };
