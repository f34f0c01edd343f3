//! Who may call what, with real uam tokens (the permission table in lms-platform).

use crate::helpers::*;
use lms_proto::config::v1 as pb;
use pb::get_product_version_request::Selector;
use serde_json::json;
use tonic::Code;

fn create_req(code: &str) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        product: Some(product(code, &content())),
    }
}

fn update_req(code: &str) -> pb::UpdateProductRequest {
    let mut c = content();
    set(&mut c, "name", json!("changed"));
    pb::UpdateProductRequest {
        product: Some(product(code, &c)),
    }
}

fn get_req(code: &str) -> pb::GetProductRequest {
    pb::GetProductRequest {
        product_code: code.into(),
    }
}

fn version_req(code: &str) -> pb::GetProductVersionRequest {
    pb::GetProductVersionRequest {
        product_code: code.into(),
        selector: Some(Selector::Version(1)),
    }
}

#[tokio::test]
async fn admins_edit_staff_read_agents_and_strangers_only_render() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let p = create(&app, "LOAN", &content()).await;
        assert_eq!(p.updated_by, uam().admin.1);

        // Creating and updating: ADMIN only.
        for (who, code) in [
            ("manager", Code::PermissionDenied),
            ("agent", Code::PermissionDenied),
            ("anonymous", Code::Unauthenticated),
        ] {
            let (c, u) = match who {
                "manager" => (
                    app.manager().create_product(create_req("M1")).await,
                    app.manager().update_product(update_req("LOAN")).await,
                ),
                "agent" => (
                    app.agent().create_product(create_req("A1")).await,
                    app.agent().update_product(update_req("LOAN")).await,
                ),
                _ => (
                    app.anonymous().create_product(create_req("X1")).await,
                    app.anonymous().update_product(update_req("LOAN")).await,
                ),
            };
            assert_eq!(c.unwrap_err().code(), code, "{who} create");
            assert_eq!(u.unwrap_err().code(), code, "{who} update");
        }
        let updated = app
            .admin()
            .update_product(update_req("LOAN"))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.updated_by, uam().admin.1);

        // Reading products and versions: ADMIN, MANAGER and services.
        app.manager().get_product(get_req("LOAN")).await.unwrap();
        app.manager()
            .list_products(pb::ListProductsRequest::default())
            .await
            .unwrap();
        app.manager()
            .get_product_version(version_req("LOAN"))
            .await
            .unwrap();
        app.service()
            .get_product_version(version_req("LOAN"))
            .await
            .unwrap();
        let err = app.agent().get_product(get_req("LOAN")).await.unwrap_err();
        assert_status(&err, Code::PermissionDenied, "PERMISSION_DENIED");
        let err = app
            .agent()
            .get_product_version(version_req("LOAN"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = app
            .anonymous()
            .list_products(pb::ListProductsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);

        // The render package is public; verifying its token is for services only.
        let pkg = app
            .agent()
            .get_render_package(pb::GetRenderPackageRequest {
                product_code: "LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let err = app
            .admin()
            .verify_form_token(pb::VerifyFormTokenRequest {
                signature: pkg.signature.clone(),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::PermissionDenied, "PERMISSION_DENIED");
        app.service()
            .verify_form_token(pb::VerifyFormTokenRequest {
                signature: pkg.signature,
            })
            .await
            .unwrap();

        // A mesh service may store versions too; it is recorded as `service`.
        let s = app
            .service()
            .create_product(create_req("BY_SERVICE"))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(s.updated_by, "service");
    }
}
