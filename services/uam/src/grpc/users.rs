//! `lms.uam.v1.UserService`.

use crate::convert::{role_from_proto, roles_from_proto, user_to_proto};
use crate::error::UamError;
use crate::service::UamService;
use lms_platform::auth::principal;
use lms_proto::uam::v1 as pb;
use lms_proto::uam::v1::user_service_server::UserService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The UserService handlers.
#[derive(Clone)]
pub struct UamUserGrpc {
    svc: Arc<UamService>,
}

impl UamUserGrpc {
    /// Wraps the service.
    pub fn new(svc: Arc<UamService>) -> Self {
        Self { svc }
    }
}

#[tonic::async_trait]
impl UserService for UamUserGrpc {
    async fn get_current_user(
        &self,
        req: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let p = principal(&req);
        let user = self.svc.current_user(p.user()?).await?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(user_to_proto(user)),
        }))
    }

    async fn get_user(
        &self,
        req: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let user = self.svc.get_user(&req.get_ref().id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user_to_proto(user)),
        }))
    }

    async fn list_users(
        &self,
        req: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let r = req.into_inner();
        let role = match r.role {
            0 => None,
            v => Some(role_from_proto(v).ok_or_else(|| UamError::field("role", "is not a role"))?),
        };
        let page = self
            .svc
            .list_users(
                role,
                r.enabled_only,
                r.page_size,
                &r.page_token,
                r.page_number,
            )
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.into_iter().map(user_to_proto).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn update_user(
        &self,
        req: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        let user = r
            .user
            .ok_or_else(|| UamError::field("user", "is required"))?;
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(UamError::field("updateMask", "must name roles and/or enabled").into());
        }
        let (mut roles, mut enabled) = (None, None);
        for path in &paths {
            match path.as_str() {
                "roles" => {
                    let list = roles_from_proto(&user.roles, "user.roles")?;
                    if list.is_empty() {
                        return Err(
                            UamError::field("user.roles", "must hold at least one role").into()
                        );
                    }
                    roles = Some(list);
                }
                "enabled" => enabled = Some(user.enabled),
                other => return Err(UamError::FieldNotWritable(other.to_string()).into()),
            }
        }
        let updated = self.svc.update_user(&p, &user.id, roles, enabled).await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user_to_proto(updated)),
        }))
    }
}
