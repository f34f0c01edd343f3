//! The one permission table: every RPC of the mesh and who may call it. A method
//! missing here is denied (PERMISSION_DENIED), whoever calls.

use super::Role;

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone, without a token (a valid token is still read, e.g. an ADMIN registering).
    Public,
    /// Any signed-in user.
    Authenticated,
    /// Users with one of these roles, or the mesh's own services.
    Roles(&'static [Role]),
    /// Only the mesh's own services.
    Service,
}

const ALL: &[Role] = &[Role::Admin, Role::Manager, Role::Agent];
const STAFF: &[Role] = &[Role::Admin, Role::Manager];
const ADMIN: &[Role] = &[Role::Admin];

/// `(full method path, policy)` for every RPC.
pub const TABLE: &[(&str, Policy)] = &[
    // uam
    ("/lms.uam.v1.AuthService/Register", Policy::Public),
    ("/lms.uam.v1.AuthService/Login", Policy::Public),
    ("/lms.uam.v1.AuthService/TotpLogin", Policy::Public),
    ("/lms.uam.v1.AuthService/RefreshToken", Policy::Public),
    ("/lms.uam.v1.AuthService/GetSigningKeys", Policy::Public),
    (
        "/lms.uam.v1.AuthService/WatchRevokedSessions",
        Policy::Service,
    ),
    ("/lms.uam.v1.AuthService/Logout", Policy::Authenticated),
    (
        "/lms.uam.v1.AuthService/ChangePassword",
        Policy::Authenticated,
    ),
    ("/lms.uam.v1.AuthService/SetupTotp", Policy::Authenticated),
    ("/lms.uam.v1.AuthService/EnableTotp", Policy::Authenticated),
    ("/lms.uam.v1.AuthService/DisableTotp", Policy::Authenticated),
    (
        "/lms.uam.v1.UserService/GetCurrentUser",
        Policy::Authenticated,
    ),
    ("/lms.uam.v1.UserService/GetUser", Policy::Roles(STAFF)),
    ("/lms.uam.v1.UserService/ListUsers", Policy::Roles(ADMIN)),
    ("/lms.uam.v1.UserService/UpdateUser", Policy::Roles(ADMIN)),
    // config
    (
        "/lms.config.v1.ProductService/CreateProduct",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.config.v1.ProductService/GetProduct",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.config.v1.ProductService/ListProducts",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.config.v1.ProductService/UpdateProduct",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.config.v1.ProductService/GetProductVersion",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.config.v1.ProductService/GetRenderPackage",
        Policy::Public,
    ),
    (
        "/lms.config.v1.ProductService/VerifyFormToken",
        Policy::Service,
    ),
    (
        "/lms.config.v1.ProductService/GetFormVerificationKeys",
        Policy::Service,
    ),
    (
        "/lms.config.v1.DocumentService/UploadDocument",
        Policy::Roles(ALL),
    ),
    (
        "/lms.config.v1.DocumentService/GetDocument",
        Policy::Roles(ALL),
    ),
    (
        "/lms.config.v1.DocumentService/ListDocuments",
        Policy::Roles(ALL),
    ),
    (
        "/lms.config.v1.DocumentService/UpdateDocument",
        Policy::Roles(ALL),
    ),
    (
        "/lms.config.v1.DocumentService/DeleteDocument",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.config.v1.DocumentService/DownloadDocument",
        Policy::Roles(ALL),
    ),
    // lead
    ("/lms.lead.v1.LeadService/SubmitLead", Policy::Public),
    ("/lms.lead.v1.LeadService/GetLead", Policy::Roles(ALL)),
    ("/lms.lead.v1.LeadService/ListLeads", Policy::Roles(ALL)),
    ("/lms.lead.v1.LeadService/UpdateLead", Policy::Roles(ALL)),
    // Agents too, for their own leads: the service authorises each id.
    (
        "/lms.lead.v1.LeadService/BulkUpdateLeads",
        Policy::Roles(ALL),
    ),
    (
        "/lms.lead.v1.LeadService/ListLeadHistory",
        Policy::Roles(ALL),
    ),
    (
        "/lms.lead.v1.LeadService/StreamEvents",
        Policy::Roles(ADMIN),
    ),
    // notify
    (
        "/lms.notify.v1.NotifyService/ListNotifications",
        Policy::Authenticated,
    ),
    (
        "/lms.notify.v1.NotifyService/MarkNotificationsRead",
        Policy::Authenticated,
    ),
    (
        "/lms.notify.v1.NotifyService/GetUnreadNotificationCount",
        Policy::Authenticated,
    ),
    (
        "/lms.notify.v1.NotifyService/ListNotificationRules",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.notify.v1.NotifyService/GetNotificationRule",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.notify.v1.NotifyService/CreateNotificationRule",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/UpdateNotificationRule",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/DeleteNotificationRule",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/ListWebhookEndpoints",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/GetWebhookEndpoint",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/CreateWebhookEndpoint",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/UpdateWebhookEndpoint",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/DeleteWebhookEndpoint",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/RotateWebhookEndpointSecret",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/ListWebhookDeliveries",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/RedeliverWebhookDelivery",
        Policy::Roles(ADMIN),
    ),
    (
        "/lms.notify.v1.NotifyService/ListOutboxEmails",
        Policy::Roles(ADMIN),
    ),
    // report
    (
        "/lms.report.v1.AnalyticsService/GetDashboardStats",
        Policy::Roles(ALL),
    ),
    (
        "/lms.report.v1.AnalyticsService/GetNewLeadsCount",
        Policy::Roles(ALL),
    ),
    (
        "/lms.report.v1.AnalyticsService/GetTopLeadSources",
        Policy::Roles(ALL),
    ),
    (
        "/lms.report.v1.AnalyticsService/GetLeadFunnel",
        Policy::Roles(ALL),
    ),
    (
        "/lms.report.v1.AnalyticsService/GetLeadsTimeSeries",
        Policy::Roles(ALL),
    ),
    (
        "/lms.report.v1.ReportService/CreateReport",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.report.v1.ReportService/GetReport",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.report.v1.ReportService/ListReports",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.report.v1.ReportService/DeleteReport",
        Policy::Roles(STAFF),
    ),
    (
        "/lms.report.v1.ReportService/DownloadReport",
        Policy::Roles(STAFF),
    ),
];

/// Prefixes of methods open to everyone on every port: health checks and reflection.
const PUBLIC_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The policy of a full method path; `None` means deny.
pub fn policy_for(path: &str) -> Option<Policy> {
    if PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Some(Policy::Public);
    }
    TABLE.iter().find(|(m, _)| *m == path).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_denied_and_health_is_public() {
        assert_eq!(policy_for("/lms.lead.v1.LeadService/DropTable"), None);
        assert_eq!(
            policy_for("/grpc.health.v1.Health/Check"),
            Some(Policy::Public)
        );
        assert_eq!(
            policy_for("/lms.lead.v1.LeadService/SubmitLead"),
            Some(Policy::Public)
        );
    }

    #[test]
    fn every_method_in_the_descriptor_set_has_a_policy() {
        use prost::Message;
        let fds = prost_types::FileDescriptorSet::decode(lms_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_default();
        let mut missing = Vec::new();
        for file in &fds.file {
            let pkg = file.package();
            for svc in &file.service {
                for m in &svc.method {
                    let path = format!("/{pkg}.{}/{}", svc.name(), m.name());
                    if policy_for(&path).is_none() {
                        missing.push(path);
                    }
                }
            }
        }
        assert!(missing.is_empty(), "methods without a policy: {missing:?}");
    }
}
