//! Thin tonic impls: validate the request's shape, convert, call the service, convert
//! back. Who may call what is decided before these run, by the platform's auth layer and
//! its permission table.

pub mod documents;

use crate::convert;
use crate::service::{Products, VersionSelector, check_hash_selector};
use lms_platform::auth::{Principal, principal};
use lms_platform::{ApiError, paging};
use lms_proto::config::v1 as pb;
use pb::product_service_server::ProductService;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub use documents::DocumentGrpc;

/// Default (and largest) page of `ListProducts`.
const DEFAULT_PAGE: i32 = 100;

/// The product service's tonic impl.
#[derive(Clone)]
pub struct ProductGrpc {
    products: Arc<Products>,
}

impl ProductGrpc {
    /// Wraps the service.
    pub fn new(products: Arc<Products>) -> Self {
        Self { products }
    }
}

/// The list cursor inside a page token.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Last product code of the previous page.
    a: String,
}

/// Who stores a version: the user's id, or `service` for a mesh call.
fn actor<T>(req: &Request<T>) -> String {
    match principal(req) {
        Principal::User(u) => u.user_id,
        Principal::Service => "service".to_string(),
        Principal::Anonymous => "anonymous".to_string(),
    }
}

fn required<'a, T>(v: Option<&'a T>, field: &str) -> Result<&'a T, ApiError> {
    v.ok_or_else(|| ApiError::invalid_field(field, "is required"))
}

#[tonic::async_trait]
impl ProductService for ProductGrpc {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::CreateProductResponse>, Status> {
        let actor = actor(&request);
        let p = required(request.get_ref().product.as_ref(), "product")?;
        let stored = self
            .products
            .create(convert::product_input(p), &actor)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::CreateProductResponse {
            product: Some(convert::product(&stored)),
        }))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::GetProductResponse>, Status> {
        let stored = self
            .products
            .get(&request.get_ref().product_code)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetProductResponse {
            product: Some(convert::product(&stored)),
        }))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let req = request.get_ref();
        let size = paging::page_size(req.page_size, DEFAULT_PAGE, "pageSize")?;
        let after = match req.page_token.as_str() {
            "" => None,
            t => Some(paging::decode_token::<Cursor>(t, "pageToken")?.a),
        };
        let page = self
            .products
            .list(after.as_deref(), size)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListProductsResponse {
            products: page.products.iter().map(|p| convert::product(p)).collect(),
            next_page_token: page
                .next_after
                .map(|a| paging::encode_token(&Cursor { a }))
                .unwrap_or_default(),
            total_size: page.total,
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::UpdateProductResponse>, Status> {
        let actor = actor(&request);
        let p = required(request.get_ref().product.as_ref(), "product")?;
        let expected = match p.version {
            0 => None,
            v if v < 0 => return Err(ApiError::invalid_field("version", "must be positive").into()),
            v => Some(v),
        };
        let stored = self
            .products
            .update(convert::product_input(p), expected, &actor)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::UpdateProductResponse {
            product: Some(convert::product(&stored)),
        }))
    }

    async fn get_product_version(
        &self,
        request: Request<pb::GetProductVersionRequest>,
    ) -> Result<Response<pb::GetProductVersionResponse>, Status> {
        use pb::get_product_version_request::Selector;
        let req = request.get_ref();
        let selector = match &req.selector {
            Some(Selector::Version(v)) if *v >= 1 => VersionSelector::Number(*v),
            Some(Selector::Version(_)) => {
                return Err(ApiError::invalid_field("version", "must be 1 or more").into());
            }
            Some(Selector::ConfigHash(h)) => {
                check_hash_selector(h)?;
                VersionSelector::Hash(h.clone())
            }
            None => {
                return Err(ApiError::invalid_field(
                    "version",
                    "give either a version number or a configHash",
                )
                .into());
            }
        };
        let stored = self
            .products
            .version(&req.product_code, &selector)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetProductVersionResponse {
            product: Some(convert::product(&stored)),
        }))
    }

    async fn get_render_package(
        &self,
        request: Request<pb::GetRenderPackageRequest>,
    ) -> Result<Response<pb::GetRenderPackageResponse>, Status> {
        let origin = lms_platform::auth::request_origin(request.metadata());
        let package = self
            .products
            .render_package(&request.get_ref().product_code, origin)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::render_package(package)))
    }

    async fn verify_form_token(
        &self,
        request: Request<pb::VerifyFormTokenRequest>,
    ) -> Result<Response<pb::VerifyFormTokenResponse>, Status> {
        let verified = self
            .products
            .verify_token(&request.get_ref().signature)
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::verified_token(verified)))
    }

    async fn get_form_verification_keys(
        &self,
        request: Request<pb::GetFormVerificationKeysRequest>,
    ) -> Result<Response<pb::GetFormVerificationKeysResponse>, Status> {
        // The permission table already admits mesh services only; the keys are secret, so
        // check again here rather than trust one line of configuration.
        if !matches!(principal(&request), Principal::Service) {
            return Err(ApiError::forbidden("only mesh services may read the form keys").into());
        }
        let keys = self.products.verification_keys();
        Ok(Response::new(convert::verification_keys(&keys)))
    }
}
