//! Create, get, list, update and versions.

use crate::helpers::*;
use lms_proto::config::v1 as pb;
use pb::get_product_version_request::Selector;
use serde_json::json;
use tonic::Code;

#[tokio::test]
async fn create_get_update_and_versions() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let v1 = create(&app, "HOME_LOAN", &content()).await;
        assert_eq!(v1.product_code, "HOME_LOAN");
        assert_eq!(v1.version, 1);
        assert_eq!(v1.name, "Home loan");
        // The hash of the content, computed independently (Python JCS), survives the
        // proto round trip (integers stay integers).
        assert_eq!(v1.config_hash, CONTENT_HASH, "{backend:?}");
        assert!(!v1.id.is_empty());
        assert_eq!(v1.updated_by, uam().admin.1);
        let settings = v1.settings.clone().unwrap_or_default();
        assert_eq!(settings.captcha_mode, pb::CaptchaMode::None as i32);
        assert_eq!(settings.duplicate_policy, pb::DuplicatePolicy::Allow as i32);
        assert_eq!(settings.duplicate_window_hours, 24);
        assert_eq!(to_json(v1.styling.as_ref()), json!({}));
        let rules = v1.scoring_rules.clone().unwrap_or_default();
        assert_eq!(rules.rules.len(), 1);
        assert_eq!(rules.rules[0].operator, pb::ScoringOperator::Equals as i32);

        let got = app
            .admin()
            .get_product(pb::GetProductRequest {
                product_code: "HOME_LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(got, v1);

        // Update with the current version: a new version with a new hash.
        app.clock.advance(chrono::Duration::seconds(60));
        let mut c2 = content();
        set(&mut c2, "name", json!("Home loan 2"));
        set(&mut c2, "version", json!(1));
        let v2 = app
            .admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("HOME_LOAN", &c2)),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_ne!(v2.config_hash, v1.config_hash);
        assert_eq!(v2.id, v1.id);
        assert_eq!(v2.create_time, v1.create_time);
        assert_eq!(
            v2.update_time.unwrap().seconds - v1.update_time.unwrap().seconds,
            60
        );

        // Identical content again (no version check): version 3, same hash as 2.
        set(&mut c2, "version", json!(0));
        let v3 = app
            .admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("HOME_LOAN", &c2)),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(v3.version, 3);
        assert_eq!(v3.config_hash, v2.config_hash);

        // A stale version is a conflict, and nothing is stored.
        set(&mut c2, "version", json!(2));
        set(&mut c2, "name", json!("Stale"));
        let err = app
            .admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("HOME_LOAN", &c2)),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::Aborted, "PRODUCT_VERSION_CONFLICT");
        let latest = app
            .admin()
            .get_product(pb::GetProductRequest {
                product_code: "HOME_LOAN".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(latest, v3);

        // Versions by number and by hash (the newest with that hash).
        let by = |sel: Selector| {
            let mut c = app.service();
            async move {
                c.get_product_version(pb::GetProductVersionRequest {
                    product_code: "HOME_LOAN".into(),
                    selector: Some(sel),
                })
                .await
            }
        };
        let old = by(Selector::Version(1))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(old, v1);
        let h = by(Selector::ConfigHash(v2.config_hash.clone()))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(h.version, 3);
        let h1 = by(Selector::ConfigHash(CONTENT_HASH.into()))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(h1.version, 1);
        let err = by(Selector::Version(99)).await.unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_VERSION_NOT_FOUND");
        let err = by(Selector::ConfigHash("0".repeat(64))).await.unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_VERSION_NOT_FOUND");
        let err = by(Selector::ConfigHash("ABC".into())).await.unwrap_err();
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(fields(&err), vec!["configHash"]);
        let err = by(Selector::Version(0)).await.unwrap_err();
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        let err = app
            .service()
            .get_product_version(pb::GetProductVersionRequest {
                product_code: "NOPE".into(),
                selector: Some(Selector::Version(1)),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_NOT_FOUND");
    }
}

#[tokio::test]
async fn identical_content_hashes_alike_across_products() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let a = create(&app, "AAA", &content()).await;
        let b = create(&app, "BBB", &content()).await;
        assert_eq!(a.config_hash, b.config_hash);
        // Key order inside the schema does not matter; any content change does.
        let mut c = content();
        set(
            &mut c,
            "formSchema",
            json!({"properties": {
                "age": {"minimum": 18, "type": "integer"},
                "city": {"x-dictionary": "cities", "type": "string"}
            }, "type": "object"}),
        );
        assert_eq!(create(&app, "CCC", &c).await.config_hash, a.config_hash);
        set(&mut c, "styling", json!({"color": "red"}));
        assert_ne!(create(&app, "DDD", &c).await.config_hash, a.config_hash);
    }
}

#[tokio::test]
async fn duplicates_and_unknown_products() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "HOME", &content()).await;
        let err = create_err(&app, "HOME", &content()).await;
        assert_status(&err, Code::AlreadyExists, "PRODUCT_EXISTS");

        let err = app
            .admin()
            .get_product(pb::GetProductRequest {
                product_code: "OTHER".into(),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_NOT_FOUND");
        // A code that cannot exist is simply not found.
        let err = app
            .admin()
            .get_product(pb::GetProductRequest {
                product_code: "../x'; DROP".into(),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_NOT_FOUND");
        let err = app
            .admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("OTHER", &content())),
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::NotFound, "PRODUCT_NOT_FOUND");
        let err = app
            .admin()
            .create_product(pb::CreateProductRequest { product: None })
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(fields(&err), vec!["product"]);
    }
}

#[tokio::test]
async fn list_is_ordered_by_code_and_paged() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        let codes = ["B-2", "A_1", "C", "AB", "A-1", "Z9", "A0"];
        for c in codes.iter().filter(|c| c.len() >= 2) {
            create(&app, c, &content()).await;
        }
        create(&app, "CC", &content()).await;
        let mut expected: Vec<String> = codes
            .iter()
            .filter(|c| c.len() >= 2)
            .map(|c| c.to_string())
            .chain(["CC".to_string()])
            .collect();
        expected.sort(); // byte order
        // Update one so the list must show its latest version.
        let mut c = content();
        set(&mut c, "name", json!("Renamed"));
        app.admin()
            .update_product(pb::UpdateProductRequest {
                product: Some(product("Z9", &c)),
            })
            .await
            .unwrap();

        let all = app
            .admin()
            .list_products(pb::ListProductsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let got: Vec<_> = all
            .products
            .iter()
            .map(|p| p.product_code.clone())
            .collect();
        assert_eq!(got, expected, "{backend:?}");
        assert_eq!(all.next_page_token, "");
        assert_eq!(all.total_size, expected.len() as i64);
        let z9 = all
            .products
            .iter()
            .find(|p| p.product_code == "Z9")
            .unwrap();
        assert_eq!((z9.version, z9.name.as_str()), (2, "Renamed"));

        let mut token = String::new();
        let mut paged = Vec::new();
        let mut pages = 0;
        loop {
            let page = app
                .admin()
                .list_products(pb::ListProductsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            assert!(page.products.len() <= 3);
            paged.extend(page.products.into_iter().map(|p| p.product_code));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(paged, expected);
        assert_eq!(pages, 3);

        for bad in [101, -1] {
            let err = app
                .admin()
                .list_products(pb::ListProductsRequest {
                    page_size: bad,
                    page_token: String::new(),
                })
                .await
                .unwrap_err();
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(fields(&err), vec!["pageSize"]);
        }
        let err = app
            .admin()
            .list_products(pb::ListProductsRequest {
                page_size: 2,
                page_token: "not a token".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(fields(&err), vec!["pageToken"]);
    }
}

#[tokio::test]
async fn documents_are_not_implemented_yet() {
    let app = App::spawn(lms_testkit::Backend::Sqlite).await;
    let err = app
        .documents()
        .get_document(pb::GetDocumentRequest::default())
        .await
        .unwrap_err();
    assert_status(&err, Code::Unimplemented, "UNIMPLEMENTED");
    assert!(err.message().contains("later"), "{}", err.message());
    let err = app
        .documents()
        .list_documents(pb::ListDocumentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

#[tokio::test]
async fn concurrent_updates_never_share_a_version() {
    for backend in lms_testkit::backends() {
        let app = App::spawn(backend).await;
        create(&app, "RACE", &content()).await;
        let update = |name: String, version: i32| {
            let mut client = app.admin();
            async move {
                let mut c = content();
                set(&mut c, "name", json!(name));
                set(&mut c, "version", json!(version));
                client
                    .update_product(pb::UpdateProductRequest {
                        product: Some(product("RACE", &c)),
                    })
                    .await
            }
        };
        // Eight writers expecting version 1: exactly one wins.
        let results = futures::future::join_all((0..8).map(|i| update(format!("w{i}"), 1))).await;
        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "{backend:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_status(r, Code::Aborted, "PRODUCT_VERSION_CONFLICT");
        }
        // Eight writers without a version check: each gets its own version.
        let results = futures::future::join_all((0..8).map(|i| update(format!("u{i}"), 0))).await;
        let mut versions: Vec<i32> = results
            .into_iter()
            .map(|r| r.unwrap().into_inner().product.unwrap().version)
            .collect();
        versions.sort();
        assert_eq!(versions, (3..=10).collect::<Vec<_>>());
        let latest = app
            .admin()
            .get_product(pb::GetProductRequest {
                product_code: "RACE".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        assert_eq!(latest.version, 10);
    }
}
