//! Telemetry, initialised once per process: `tracing` to stdout (text, or JSON with
//! `LMS_LOG_FORMAT=json` via config), OpenTelemetry trace export over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, W3C trace context carried across gRPC hops, and
//! a request id (`x-request-id`) in the span of every request, so every log line of a
//! request carries it.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Keeps the OTLP exporter alive; flushes spans when dropped.
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber. `otlp_endpoint` turns on trace export. Calling it
/// twice is harmless (the second call keeps the first subscriber).
pub fn init(service_name: &str, json: bool, otlp_endpoint: Option<&str>) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt: Box<dyn Layer<_> + Send + Sync> = if json {
        Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_filter(filter()),
        )
    } else {
        Box::new(tracing_subscriber::fmt::layer().with_filter(filter()))
    };
    let mut provider = None;
    let otel = otlp_endpoint.and_then(|endpoint| {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| eprintln!("otlp exporter: {e}"))
            .ok()?;
        let p = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service_name.to_string())
                    .build(),
            )
            .build();
        let tracer = p.tracer("lms");
        opentelemetry::global::set_tracer_provider(p.clone());
        provider = Some(p);
        // Exported spans do not follow RUST_LOG: quieting the logs must not cut the
        // traces. Request spans are ours, at INFO; dependencies export only warnings.
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(EnvFilter::new("warn,lms=info")),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

/// The request id of the request being served, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Writes the current span's trace context and the request id into outgoing metadata.
pub fn inject_context(metadata: &mut tonic::metadata::MetadataMap) {
    struct Meta<'a>(&'a mut tonic::metadata::MetadataMap);
    impl Injector for Meta<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_str()),
            ) {
                self.0.insert(k, v);
            }
        }
    }
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut Meta(metadata));
    if let Some(v) = current_request_id()
        .and_then(|id| tonic::metadata::MetadataValue::try_from(id.as_str()).ok())
    {
        metadata.insert(REQUEST_ID_HEADER, v);
    }
}

/// Writes the current trace context and request id into HTTP headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    struct Hdr<'a>(&'a mut http::HeaderMap);
    impl Injector for Hdr<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(key.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(k, v);
            }
        }
    }
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut Hdr(headers));
    if let Some(v) = current_request_id().and_then(|id| http::HeaderValue::from_str(&id).ok()) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A request id from the caller when it is sane (at most 64 visible ASCII characters),
/// else a new UUID.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Tower layer: request id, a span per request (child of the caller's trace context),
/// the id echoed in the response, and one log line per finished request.
#[derive(Clone, Copy, Default)]
pub struct RequestContextLayer;

impl<S> tower::Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestContext { inner }
    }
}

/// The service made by [`RequestContextLayer`].
#[derive(Clone)]
pub struct RequestContext<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RequestContext<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let id = request_id(req.headers());
        if let Ok(v) = http::HeaderValue::from_str(&id) {
            req.headers_mut().insert(REQUEST_ID_HEADER, v);
        }
        // Never log a query string: it may carry a refresh token.
        let path = req.uri().path().to_string();
        let span =
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path);
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
        let started = Instant::now();
        let scoped_id = id.clone();
        let fut = async move {
            let mut res = inner.call(req).await;
            if let Ok(r) = &mut res {
                if let Ok(v) = http::HeaderValue::from_str(&id) {
                    r.headers_mut().insert(REQUEST_ID_HEADER, v);
                }
                let grpc = r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string();
                tracing::info!(status = r.status().as_u16(), grpc_status = %grpc,
                    elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "request finished");
            }
            res
        };
        Box::pin(REQUEST_ID.scope(scoped_id, fut.instrument(span)))
    }
}
