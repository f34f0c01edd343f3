//! `/config/api/products...`: product configuration and the public render package.

use super::AppState;
use crate::body::{Fields, JsonBody};
use crate::convert::product::{product_from_json, product_json, render_package_json};
use crate::error::RestError;
use crate::query::{Params, Segment};
use crate::upstream::Caller;
use axum::Json;
use axum::extract::State;
use http::StatusCode;
use lms_proto::config::v1 as pb;
use pb::product_service_client::ProductServiceClient;
use serde_json::Value;

type JsonResult = Result<Json<Value>, RestError>;

/// Most pages `GET /config/api/products` reads (100 products each).
const MAX_LIST_PAGES: usize = 100;

fn products(s: &AppState) -> ProductServiceClient<tonic::transport::Channel> {
    ProductServiceClient::new(s.up.config.clone())
}

fn product_of(p: Option<pb::Product>) -> JsonResult {
    let p = p.ok_or_else(|| RestError::bad_upstream("an answer without its product"))?;
    product_json(&p).map(Json)
}

/// `POST /config/api/products`: 201 with the product at version 1 (ADMIN).
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), RestError> {
    let mut f = Fields::new(body, "");
    let product = product_from_json(&mut f);
    f.finish()?;
    let req = pb::CreateProductRequest {
        product: Some(pb::Product {
            version: 0,
            ..product
        }),
    };
    let res = products(&s)
        .create_product(caller.request(req))
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, product_of(res.product)?))
}

/// `GET /config/api/products`: every product's latest version, a plain JSON array.
pub async fn list(State(s): State<AppState>, caller: Caller, q: Params) -> JsonResult {
    q.finish()?;
    let mut out = Vec::new();
    let mut token = String::new();
    for _ in 0..MAX_LIST_PAGES {
        let req = pb::ListProductsRequest {
            page_size: 100,
            page_token: token,
        };
        let res = products(&s)
            .list_products(caller.request(req))
            .await?
            .into_inner();
        for p in &res.products {
            out.push(product_json(p)?);
        }
        if res.next_page_token.is_empty() {
            break;
        }
        token = res.next_page_token;
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /config/api/products/{productCode}/config`: the latest version (ADMIN, MANAGER).
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Segment(code): Segment,
    q: Params,
) -> JsonResult {
    q.finish()?;
    let req = pb::GetProductRequest { product_code: code };
    let res = products(&s)
        .get_product(caller.request(req))
        .await?
        .into_inner();
    product_of(res.product)
}

/// `PUT /config/api/products/{productCode}`: stores a new version (ADMIN). `version`, when
/// given, must be the current one (409 otherwise).
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Segment(code): Segment,
    JsonBody(body): JsonBody,
) -> JsonResult {
    let mut f = Fields::new(body, "");
    let mut product = product_from_json(&mut f);
    if !product.product_code.is_empty() && product.product_code != code {
        f.fail(
            "productCode".into(),
            "does not match the product code in the path",
        );
    }
    f.finish()?;
    product.product_code = code;
    let req = pb::UpdateProductRequest {
        product: Some(product),
    };
    let res = products(&s)
        .update_product(caller.request(req))
        .await?
        .into_inner();
    product_of(res.product)
}

/// `GET /config/api/products/{productCode}/lead-form/render-package` (public): the render
/// package with a fresh signed form token.
pub async fn render_package(
    State(s): State<AppState>,
    caller: Caller,
    Segment(code): Segment,
    q: Params,
) -> JsonResult {
    q.finish()?;
    let req = pb::GetRenderPackageRequest { product_code: code };
    let res = products(&s)
        .get_render_package(caller.request(req))
        .await?
        .into_inner();
    Ok(Json(render_package_json(&res)))
}
