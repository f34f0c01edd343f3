//! `lms.uam.v1.AuthService`.

use crate::convert::{
    key_to_proto, register_from_proto, revoked_to_proto, tokens_to_proto, user_to_proto,
};
use crate::service::{LoginOutcome, UamService};
use lms_platform::auth::principal;
use lms_proto::uam::v1 as pb;
use lms_proto::uam::v1::auth_service_server::AuthService;
use std::net::IpAddr;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The AuthService handlers.
#[derive(Clone)]
pub struct UamAuthGrpc {
    svc: Arc<UamService>,
    /// Ends the revoked-session feeds when the host shuts down.
    stopped: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
}

impl UamAuthGrpc {
    /// Wraps the service; `stopped` resolves when the host begins to shut down.
    pub fn new(
        svc: Arc<UamService>,
        stopped: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Self {
        use futures::FutureExt;
        Self {
            svc,
            stopped: stopped.boxed().shared(),
        }
    }

    fn client_ip<T>(&self, req: &Request<T>) -> IpAddr {
        let xff = req
            .metadata()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        self.svc.client_ip(req.remote_addr().map(|a| a.ip()), xff)
    }
}

#[tonic::async_trait]
impl AuthService for UamAuthGrpc {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let p = principal(&req);
        let input = register_from_proto(req.into_inner())?;
        let user = self.svc.register(&p, input).await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user_to_proto(user)),
        }))
    }

    async fn login(
        &self,
        req: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let ip = self.client_ip(&req);
        let r = req.into_inner();
        let result = match self
            .svc
            .login(ip, &r.username_or_email, &r.password)
            .await?
        {
            LoginOutcome::Tokens(t) => pb::login_response::Result::Tokens(tokens_to_proto(t)),
            LoginOutcome::Mfa {
                mfa_token,
                expires_in,
            } => pb::login_response::Result::Mfa(pb::MfaChallenge {
                mfa_token,
                expires_in,
            }),
        };
        Ok(Response::new(pb::LoginResponse {
            result: Some(result),
        }))
    }

    async fn totp_login(
        &self,
        req: Request<pb::TotpLoginRequest>,
    ) -> Result<Response<pb::TotpLoginResponse>, Status> {
        let ip = self.client_ip(&req);
        // The MFA token travels in the body; a bare `authorization: Bearer` is accepted
        // too (grpcurl, grpc-web clients). The auth layer never accepts it as a principal.
        let header_token = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string());
        let r = req.into_inner();
        let token = if r.mfa_token.is_empty() {
            header_token.unwrap_or_default()
        } else {
            r.mfa_token
        };
        let tokens = self.svc.totp_login(ip, &token, &r.code).await?;
        Ok(Response::new(pb::TotpLoginResponse {
            tokens: Some(tokens_to_proto(tokens)),
        }))
    }

    async fn refresh_token(
        &self,
        req: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        let tokens = self.svc.refresh(&req.get_ref().refresh_token).await?;
        Ok(Response::new(pb::RefreshTokenResponse {
            tokens: Some(tokens_to_proto(tokens)),
        }))
    }

    async fn logout(
        &self,
        req: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let p = principal(&req);
        let n = self
            .svc
            .logout(p.user()?, &req.get_ref().refresh_token)
            .await?;
        Ok(Response::new(pb::LogoutResponse {
            revoked_sessions: n,
        }))
    }

    async fn change_password(
        &self,
        req: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let p = principal(&req);
        let r = req.get_ref();
        let n = self
            .svc
            .change_password(
                p.user()?,
                &r.current_password,
                &r.new_password,
                &r.refresh_token,
            )
            .await?;
        Ok(Response::new(pb::ChangePasswordResponse {
            revoked_sessions: n,
        }))
    }

    async fn setup_totp(
        &self,
        req: Request<pb::SetupTotpRequest>,
    ) -> Result<Response<pb::SetupTotpResponse>, Status> {
        let p = principal(&req);
        let (secret, otpauth_uri) = self.svc.setup_totp(p.user()?).await?;
        Ok(Response::new(pb::SetupTotpResponse {
            secret,
            otpauth_uri,
        }))
    }

    async fn enable_totp(
        &self,
        req: Request<pb::EnableTotpRequest>,
    ) -> Result<Response<pb::EnableTotpResponse>, Status> {
        let p = principal(&req);
        let user = self.svc.enable_totp(p.user()?, &req.get_ref().code).await?;
        Ok(Response::new(pb::EnableTotpResponse {
            user: Some(user_to_proto(user)),
        }))
    }

    async fn disable_totp(
        &self,
        req: Request<pb::DisableTotpRequest>,
    ) -> Result<Response<pb::DisableTotpResponse>, Status> {
        let p = principal(&req);
        let user = self
            .svc
            .disable_totp(p.user()?, &req.get_ref().code)
            .await?;
        Ok(Response::new(pb::DisableTotpResponse {
            user: Some(user_to_proto(user)),
        }))
    }

    type WatchRevokedSessionsStream = std::pin::Pin<
        Box<
            dyn tokio_stream::Stream<Item = Result<pb::WatchRevokedSessionsResponse, Status>>
                + Send,
        >,
    >;

    async fn watch_revoked_sessions(
        &self,
        _req: Request<pb::WatchRevokedSessionsRequest>,
    ) -> Result<Response<Self::WatchRevokedSessionsStream>, Status> {
        use tokio_stream::StreamExt;
        let rx = self.svc.revocation_feed();
        // The feed never ends on its own; on shutdown it ends, so the drain can finish.
        let stream = futures::StreamExt::take_until(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            self.stopped.clone(),
        )
        .map(|batch| {
            batch
                .map(|rows| pb::WatchRevokedSessionsResponse {
                    sessions: rows.into_iter().map(revoked_to_proto).collect(),
                })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_signing_keys(
        &self,
        _req: Request<pb::GetSigningKeysRequest>,
    ) -> Result<Response<pb::GetSigningKeysResponse>, Status> {
        Ok(Response::new(pb::GetSigningKeysResponse {
            keys: self
                .svc
                .signing_keys()
                .into_iter()
                .map(key_to_proto)
                .collect(),
        }))
    }
}
