//! `lms-notify`: owns notification rules, in-app notifications, webhook endpoints and deliveries, and the e-mail outbox, all driven by the lead event stream. It reads no other service's tables: it will consume
//! `LeadService.StreamEvents` from a cursor kept in its own database.
//!
//! Its contract (`proto/lms/notify/v1`) is designed and served now, so grpcurl, reflection,
//! health and the permission table already cover it; the behaviour lands with its own
//! issue, and until then every RPC answers `UNIMPLEMENTED` with a message saying so.

use lms_platform::db::Db;
use lms_proto::notify::v1 as pb;
use sqlx::migrate::Migrator;

static PG: Migrator = sqlx::migrate!("../../migrations/notify/postgres");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/notify/sqlite");

/// Fully qualified gRPC service names served.
pub const SERVICE_NAMES: &[&str] = &["lms.notify.v1.NotifyService"];

/// Settings of the notify service.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address of the gRPC server.
    pub addr: String,
    /// Database settings.
    pub database: lms_platform::config::DatabaseConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:50054".to_string(),
            database: Default::default(),
        }
    }
}

/// Runs this service's migrations for the pool's backend.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&PG, &SQLITE).await
}

/// Builds the service's gRPC routes.
pub async fn build(
    _cfg: &Config,
    _db: Db,
    _rt: &lms_platform::Runtime,
) -> anyhow::Result<tonic::service::Routes> {
    Ok(tonic::service::Routes::new(
        pb::notify_service_server::NotifyServiceServer::new(NotifyGrpc),
    ))
}

fn not_yet(method: &str) -> tonic::Status {
    lms_platform::ApiError::new(
        tonic::Code::Unimplemented,
        "NOT_IMPLEMENTED_YET",
        format!("{method} is part of the contract but not implemented yet"),
    )
    .into()
}

/// The NotifyService gRPC implementation.
#[derive(Debug, Clone, Copy)]
pub struct NotifyGrpc;

#[tonic::async_trait]
impl pb::notify_service_server::NotifyService for NotifyGrpc {
    async fn list_notifications(
        &self,
        _request: tonic::Request<pb::ListNotificationsRequest>,
    ) -> Result<tonic::Response<pb::ListNotificationsResponse>, tonic::Status> {
        Err(not_yet("NotifyService.ListNotifications"))
    }
    async fn mark_notifications_read(
        &self,
        _request: tonic::Request<pb::MarkNotificationsReadRequest>,
    ) -> Result<tonic::Response<pb::MarkNotificationsReadResponse>, tonic::Status> {
        Err(not_yet("NotifyService.MarkNotificationsRead"))
    }
    async fn get_unread_notification_count(
        &self,
        _request: tonic::Request<pb::GetUnreadNotificationCountRequest>,
    ) -> Result<tonic::Response<pb::GetUnreadNotificationCountResponse>, tonic::Status> {
        Err(not_yet("NotifyService.GetUnreadNotificationCount"))
    }
    async fn list_notification_rules(
        &self,
        _request: tonic::Request<pb::ListNotificationRulesRequest>,
    ) -> Result<tonic::Response<pb::ListNotificationRulesResponse>, tonic::Status> {
        Err(not_yet("NotifyService.ListNotificationRules"))
    }
    async fn get_notification_rule(
        &self,
        _request: tonic::Request<pb::GetNotificationRuleRequest>,
    ) -> Result<tonic::Response<pb::GetNotificationRuleResponse>, tonic::Status> {
        Err(not_yet("NotifyService.GetNotificationRule"))
    }
    async fn create_notification_rule(
        &self,
        _request: tonic::Request<pb::CreateNotificationRuleRequest>,
    ) -> Result<tonic::Response<pb::CreateNotificationRuleResponse>, tonic::Status> {
        Err(not_yet("NotifyService.CreateNotificationRule"))
    }
    async fn update_notification_rule(
        &self,
        _request: tonic::Request<pb::UpdateNotificationRuleRequest>,
    ) -> Result<tonic::Response<pb::UpdateNotificationRuleResponse>, tonic::Status> {
        Err(not_yet("NotifyService.UpdateNotificationRule"))
    }
    async fn delete_notification_rule(
        &self,
        _request: tonic::Request<pb::DeleteNotificationRuleRequest>,
    ) -> Result<tonic::Response<pb::DeleteNotificationRuleResponse>, tonic::Status> {
        Err(not_yet("NotifyService.DeleteNotificationRule"))
    }
    async fn list_webhook_endpoints(
        &self,
        _request: tonic::Request<pb::ListWebhookEndpointsRequest>,
    ) -> Result<tonic::Response<pb::ListWebhookEndpointsResponse>, tonic::Status> {
        Err(not_yet("NotifyService.ListWebhookEndpoints"))
    }
    async fn get_webhook_endpoint(
        &self,
        _request: tonic::Request<pb::GetWebhookEndpointRequest>,
    ) -> Result<tonic::Response<pb::GetWebhookEndpointResponse>, tonic::Status> {
        Err(not_yet("NotifyService.GetWebhookEndpoint"))
    }
    async fn create_webhook_endpoint(
        &self,
        _request: tonic::Request<pb::CreateWebhookEndpointRequest>,
    ) -> Result<tonic::Response<pb::CreateWebhookEndpointResponse>, tonic::Status> {
        Err(not_yet("NotifyService.CreateWebhookEndpoint"))
    }
    async fn update_webhook_endpoint(
        &self,
        _request: tonic::Request<pb::UpdateWebhookEndpointRequest>,
    ) -> Result<tonic::Response<pb::UpdateWebhookEndpointResponse>, tonic::Status> {
        Err(not_yet("NotifyService.UpdateWebhookEndpoint"))
    }
    async fn delete_webhook_endpoint(
        &self,
        _request: tonic::Request<pb::DeleteWebhookEndpointRequest>,
    ) -> Result<tonic::Response<pb::DeleteWebhookEndpointResponse>, tonic::Status> {
        Err(not_yet("NotifyService.DeleteWebhookEndpoint"))
    }
    async fn rotate_webhook_endpoint_secret(
        &self,
        _request: tonic::Request<pb::RotateWebhookEndpointSecretRequest>,
    ) -> Result<tonic::Response<pb::RotateWebhookEndpointSecretResponse>, tonic::Status> {
        Err(not_yet("NotifyService.RotateWebhookEndpointSecret"))
    }
    async fn list_webhook_deliveries(
        &self,
        _request: tonic::Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<tonic::Response<pb::ListWebhookDeliveriesResponse>, tonic::Status> {
        Err(not_yet("NotifyService.ListWebhookDeliveries"))
    }
    async fn redeliver_webhook_delivery(
        &self,
        _request: tonic::Request<pb::RedeliverWebhookDeliveryRequest>,
    ) -> Result<tonic::Response<pb::RedeliverWebhookDeliveryResponse>, tonic::Status> {
        Err(not_yet("NotifyService.RedeliverWebhookDelivery"))
    }
    async fn list_outbox_emails(
        &self,
        _request: tonic::Request<pb::ListOutboxEmailsRequest>,
    ) -> Result<tonic::Response<pb::ListOutboxEmailsResponse>, tonic::Status> {
        Err(not_yet("NotifyService.ListOutboxEmails"))
    }
}
