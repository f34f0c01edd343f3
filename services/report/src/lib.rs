//! `lms-report`: owns analytics projections fed by lead events and generated report jobs. It reads no other service's tables: it will consume
//! `LeadService.StreamEvents` from a cursor kept in its own database.
//!
//! Its contract (`proto/lms/report/v1`) is designed and served now, so grpcurl, reflection,
//! health and the permission table already cover it; the behaviour lands with its own
//! issue, and until then every RPC answers `UNIMPLEMENTED` with a message saying so.

use lms_platform::db::Db;
use lms_proto::report::v1 as pb;
use sqlx::migrate::Migrator;

static PG: Migrator = sqlx::migrate!("../../migrations/report/postgres");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/report/sqlite");

/// Fully qualified gRPC service names served.
pub const SERVICE_NAMES: &[&str] = &[
    "lms.report.v1.AnalyticsService",
    "lms.report.v1.ReportService",
];

/// Settings of the report service.
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
            addr: "127.0.0.1:50055".to_string(),
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
    Ok(
        tonic::service::Routes::new(pb::analytics_service_server::AnalyticsServiceServer::new(
            AnalyticsGrpc,
        ))
        .add_service(pb::report_service_server::ReportServiceServer::new(
            ReportGrpc,
        )),
    )
}

fn not_yet(method: &str) -> tonic::Status {
    lms_platform::ApiError::new(
        tonic::Code::Unimplemented,
        "NOT_IMPLEMENTED_YET",
        format!("{method} is part of the contract but not implemented yet"),
    )
    .into()
}

/// The AnalyticsService gRPC implementation.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticsGrpc;

#[tonic::async_trait]
impl pb::analytics_service_server::AnalyticsService for AnalyticsGrpc {
    async fn get_dashboard_stats(
        &self,
        _request: tonic::Request<pb::GetDashboardStatsRequest>,
    ) -> Result<tonic::Response<pb::GetDashboardStatsResponse>, tonic::Status> {
        Err(not_yet("AnalyticsService.GetDashboardStats"))
    }
    async fn get_new_leads_count(
        &self,
        _request: tonic::Request<pb::GetNewLeadsCountRequest>,
    ) -> Result<tonic::Response<pb::GetNewLeadsCountResponse>, tonic::Status> {
        Err(not_yet("AnalyticsService.GetNewLeadsCount"))
    }
    async fn get_top_lead_sources(
        &self,
        _request: tonic::Request<pb::GetTopLeadSourcesRequest>,
    ) -> Result<tonic::Response<pb::GetTopLeadSourcesResponse>, tonic::Status> {
        Err(not_yet("AnalyticsService.GetTopLeadSources"))
    }
    async fn get_lead_funnel(
        &self,
        _request: tonic::Request<pb::GetLeadFunnelRequest>,
    ) -> Result<tonic::Response<pb::GetLeadFunnelResponse>, tonic::Status> {
        Err(not_yet("AnalyticsService.GetLeadFunnel"))
    }
    async fn get_leads_time_series(
        &self,
        _request: tonic::Request<pb::GetLeadsTimeSeriesRequest>,
    ) -> Result<tonic::Response<pb::GetLeadsTimeSeriesResponse>, tonic::Status> {
        Err(not_yet("AnalyticsService.GetLeadsTimeSeries"))
    }
}

/// The ReportService gRPC implementation.
#[derive(Debug, Clone, Copy)]
pub struct ReportGrpc;

#[tonic::async_trait]
impl pb::report_service_server::ReportService for ReportGrpc {
    async fn create_report(
        &self,
        _request: tonic::Request<pb::CreateReportRequest>,
    ) -> Result<tonic::Response<pb::CreateReportResponse>, tonic::Status> {
        Err(not_yet("ReportService.CreateReport"))
    }
    async fn get_report(
        &self,
        _request: tonic::Request<pb::GetReportRequest>,
    ) -> Result<tonic::Response<pb::GetReportResponse>, tonic::Status> {
        Err(not_yet("ReportService.GetReport"))
    }
    async fn list_reports(
        &self,
        _request: tonic::Request<pb::ListReportsRequest>,
    ) -> Result<tonic::Response<pb::ListReportsResponse>, tonic::Status> {
        Err(not_yet("ReportService.ListReports"))
    }
    async fn delete_report(
        &self,
        _request: tonic::Request<pb::DeleteReportRequest>,
    ) -> Result<tonic::Response<pb::DeleteReportResponse>, tonic::Status> {
        Err(not_yet("ReportService.DeleteReport"))
    }
    type DownloadReportStream =
        futures::stream::BoxStream<'static, Result<pb::DownloadReportResponse, tonic::Status>>;
    async fn download_report(
        &self,
        _request: tonic::Request<pb::DownloadReportRequest>,
    ) -> Result<tonic::Response<Self::DownloadReportStream>, tonic::Status> {
        Err(not_yet("ReportService.DownloadReport"))
    }
}
