//! OpenTelemetry export: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the real binary sends its
//! spans over OTLP/gRPC, and one REST call's trace runs from the caller's `traceparent`
//! through the gateway into the service it calls.

use crate::support::System;
use lms_testkit::Backend;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A collector that keeps every span it receives.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test]
async fn a_rest_call_is_one_trace_from_the_gateway_through_the_service() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let endpoint = format!("http://{addr}");
    let sys = System::start_with_env(
        Backend::Sqlite,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let token = sys.admin_token().await;

    // The caller's own trace: every span of the call must join it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let res = sys
        .http
        .get(format!("{}/lead/api/leads?size=5", sys.base))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let want = hex::decode(trace_id).unwrap();
    let mut ours = Vec::new();
    for _ in 0..150 {
        ours = collector
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == want)
            .cloned()
            .collect::<Vec<_>>();
        let paths: Vec<String> = ours.iter().filter_map(|s| attr(s, "path")).collect();
        if paths.iter().any(|p| p == "/lead/api/leads")
            && paths
                .iter()
                .any(|p| p == "/lms.lead.v1.LeadService/ListLeads")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_path = |p: &str| {
        ours.iter()
            .find(|s| attr(s, "path").as_deref() == Some(p))
            .unwrap_or_else(|| {
                let seen: Vec<_> = ours.iter().map(|s| (&s.name, attr(s, "path"))).collect();
                panic!("no span for {p} in trace {trace_id}; spans of the trace: {seen:?}")
            })
    };
    let gateway = by_path("/lead/api/leads");
    let lead = by_path("/lms.lead.v1.LeadService/ListLeads");
    assert_eq!(
        gateway.parent_span_id,
        hex::decode(caller_span).unwrap(),
        "the gateway's span continues the caller's trace"
    );
    let span_ids: Vec<&Vec<u8>> = ours.iter().map(|s| &s.span_id).collect();
    assert!(
        span_ids.contains(&&lead.parent_span_id),
        "the lead service's span has a parent in the same trace"
    );
    assert_ne!(lead.parent_span_id, gateway.parent_span_id);
    // The request id is on both spans, and it is the same id.
    assert!(attr(gateway, "request_id").is_some());
    assert_eq!(attr(gateway, "request_id"), attr(lead, "request_id"));
    server.abort();
}
