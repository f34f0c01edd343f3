//! The front door: one port, three protocols. A request whose content type is
//! `application/grpc-web*` goes through tonic-web to the gRPC side; `application/grpc*`
//! goes to the gRPC side as is; everything else is REST. Around all of it: the request
//! context (request id and trace context in every log line, id echoed back) and CORS.
//! The client address is resolved once here (trusted proxies) for the services.

use crate::client_ip::{ClientIp, TrustedProxies};
use crate::cors::{self, OriginPolicy};
use crate::error::RestError;
use crate::grpc::{GrpcDispatch, local_routes};
use crate::rest::{self, AppState};
use crate::{Config, Upstreams};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::Request;
use lms_platform::telemetry::RequestContextLayer;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use tower::{Layer, ServiceExt};

/// Builds the gateway router and the reporter of its own gRPC health.
pub fn build(
    cfg: &Config,
    up: Upstreams,
) -> (Router, Option<tonic_health::server::HealthReporter>) {
    let origins = cors::allowed_origins(&cfg.cors_allowed_origins);
    let proxies = TrustedProxies::parse(&cfg.trusted_proxies).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring gateway.trusted_proxies");
        TrustedProxies::default()
    });
    let (local, reporter) = match local_routes() {
        Ok((routes, reporter)) => (routes, Some(reporter)),
        Err(e) => {
            tracing::error!(error = %e, "gRPC health and reflection unavailable on the gateway");
            (tonic::service::Routes::default(), None)
        }
    };
    // One copy of the channels, shared by every clone of the services below.
    let up = std::sync::Arc::new(up);
    let grpc = GrpcDispatch::new(local, up.clone());
    let front = Front {
        grpc_web: tonic_web::GrpcWebLayer::new().layer(grpc.clone()),
        grpc,
        rest: rest::router(AppState {
            up,
            max_body_bytes: cfg.max_body_bytes,
        }),
        origins: OriginPolicy::new(origins.clone()),
        proxies,
    };
    let router = Router::new()
        .fallback_service(front)
        .layer(cors::layer(origins))
        .layer(RequestContextLayer);
    (router, reporter)
}

/// Builds the gateway router.
pub fn router(cfg: &Config, up: Upstreams) -> Router {
    build(cfg, up).0
}

#[derive(Clone)]
struct Front {
    grpc: GrpcDispatch,
    grpc_web: tonic_web::GrpcWebService<GrpcDispatch>,
    rest: Router,
    origins: OriginPolicy,
    proxies: TrustedProxies,
}

impl tower::Service<Request<Body>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        if let Some(ip) = self.proxies.resolve(peer, req.headers()) {
            req.extensions_mut().insert(ClientIp(ip));
        }
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let browser_ok = self.origins.allows(req.method(), req.uri(), req.headers());
        if content_type.starts_with("application/grpc-web") {
            if !browser_ok {
                return Box::pin(async { Ok(RestError::origin_not_allowed().into_response()) });
            }
            let svc = self.grpc_web.clone();
            return Box::pin(async move {
                let res = svc.oneshot(req).await?;
                Ok(res.map(Body::new))
            });
        }
        if content_type.starts_with("application/grpc") {
            let svc = self.grpc.clone();
            return Box::pin(async move {
                let res = svc.oneshot(req.map(tonic::body::Body::new)).await?;
                Ok(res.map(Body::new))
            });
        }
        if !browser_ok {
            return Box::pin(async { Ok(RestError::origin_not_allowed().into_response()) });
        }
        let svc = self.rest.clone();
        Box::pin(async move { svc.oneshot(req).await })
    }
}
