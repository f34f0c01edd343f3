//! Access-token forgeries (security.md cases 1 and 2) and GetSigningKeys.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use lms_platform::auth::Role;
use lms_proto::uam::v1 as pb;
use lms_testkit::backends;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tonic::Code;

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = B64.decode(it.next().unwrap()).unwrap();
    let c = B64.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&c).unwrap(),
    )
}

fn sign_raw(header: &Value, claims: &str, key: &SigningKey) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

fn real_key(app: &App) -> SigningKey {
    let pem = std::fs::read_to_string(app.data_dir.path().join("keys/uam-signing.pem")).unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn signing_keys_are_public_ed25519_with_derived_kid() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        let keys = app
            .auth
            .clone()
            .get_signing_keys(pb::GetSigningKeysRequest {})
            .await
            .unwrap()
            .into_inner()
            .keys;
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k.alg, "EdDSA");
        let raw = B64.decode(&k.public_key).unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(raw, real_key(&app).verifying_key().to_bytes());
        assert_eq!(k.kid, hex::encode(Sha256::digest(&raw))[..16]);
        // Tokens carry it.
        app.user("jane", &[Role::Agent]).await;
        let t = app.login("jane", PASSWORD).await;
        let (h, c) = parts(&t.access_token);
        assert_eq!(h["alg"], "EdDSA");
        assert_eq!(h["kid"], k.kid.as_str());
        assert_eq!(c["typ"], "access");
        assert_eq!(c["iss"], "lms-uam");
        assert_eq!(c["aud"], "lms");
        assert_eq!(c["roles"], json!(["AGENT"]));
        assert_eq!(c["nbf"], c["iat"]);
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
        assert!(!c["sid"].as_str().unwrap().is_empty());
        assert!(!c["jti"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn forged_and_confused_tokens_are_all_unauthenticated() {
    for backend in backends() {
        let app = App::spawn(backend).await;
        app.user("jane", &[Role::Agent]).await;
        let t = app.login("jane", PASSWORD).await;
        // Control: the real token and a re-signed copy work.
        app.me(&t.access_token).await.unwrap();
        let key = real_key(&app);
        let (header, claims) = parts(&t.access_token);
        let kid = header["kid"].as_str().unwrap().to_string();
        let resigned = sign_raw(&header, &claims.to_string(), &key);
        app.me(&resigned).await.unwrap();

        let with = |k: &str, v: Value| {
            let mut c = claims.clone();
            c[k] = v;
            c.to_string()
        };
        let mut forged: Vec<(&str, String)> = Vec::new();
        // (a) alg none, signature removed.
        let none = json!({"alg": "none", "typ": "JWT"});
        forged.push((
            "alg none",
            format!(
                "{}.{}.",
                B64.encode(none.to_string()),
                B64.encode(claims.to_string())
            ),
        ));
        // (b) HS256 signed with the public key bytes (raw and as the base64 text).
        let public = key.verifying_key().to_bytes();
        let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs.kid = Some(kid.clone());
        for secret in [public.to_vec(), B64.encode(public).into_bytes()] {
            forged.push((
                "hs256 with public key",
                jsonwebtoken::encode(
                    &hs,
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(&secret),
                )
                .unwrap(),
            ));
        }
        // (c) unknown or hostile kids, signed with the real key.
        for bad_kid in ["0000000000000000", "../../dev/null", "' OR 1=1--", ""] {
            let h = json!({"alg": "EdDSA", "typ": "JWT", "kid": bad_kid});
            forged.push(("bad kid", sign_raw(&h, &claims.to_string(), &key)));
        }
        let no_kid = json!({"alg": "EdDSA", "typ": "JWT"});
        forged.push(("no kid", sign_raw(&no_kid, &claims.to_string(), &key)));
        // (d) an attacker key, announced in the header or not.
        let attacker = SigningKey::from_bytes(&[42u8; 32]);
        let x = B64.encode(attacker.verifying_key().to_bytes());
        let jwk =
            json!({"alg": "EdDSA", "kid": kid, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        forged.push(("jwk header", sign_raw(&jwk, &claims.to_string(), &attacker)));
        let jku = json!({"alg": "EdDSA", "kid": kid, "jku": "http://127.0.0.1:9/keys"});
        forged.push(("jku header", sign_raw(&jku, &claims.to_string(), &attacker)));
        forged.push((
            "wrong key",
            sign_raw(&header, &claims.to_string(), &attacker),
        ));
        // Case 2: claim confusion, signed with the real key.
        let now = now_secs();
        for (what, c) in [
            ("expired beyond leeway", with("exp", json!(now - 31))),
            ("exp as string", with("exp", json!((now + 600).to_string()))),
            ("nbf far future", with("nbf", json!(99_999_999_999_i64))),
            ("nbf as string", with("nbf", json!("99999999999"))),
            ("other audience", with("aud", json!("lms-report"))),
            ("wrong issuer", with("iss", json!("evil"))),
            ("mfa typ", with("typ", json!("mfa"))),
            ("refresh typ", with("typ", json!("refresh"))),
        ] {
            forged.push((what, sign_raw(&header, &c, &key)));
        }
        let mut no_exp = claims.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        forged.push(("exp missing", sign_raw(&header, &no_exp.to_string(), &key)));
        let body = claims.to_string();
        let dup = format!("{},\"exp\":{}}}", &body[..body.len() - 1], now - 3_600);
        forged.push(("duplicated exp", sign_raw(&header, &dup, &key)));
        // (e) a refresh token and an MFA token in the access position.
        forged.push(("refresh token", t.refresh_token.clone()));
        forged.push(("tampered payload", {
            let mut p: Vec<&str> = t.access_token.split('.').collect();
            let admin = B64.encode(with("roles", json!(["ADMIN"])));
            p[1] = &admin;
            p.join(".")
        }));

        let mut messages = Vec::new();
        for (what, token) in &forged {
            let s = app.me(token).await.expect_err(what);
            assert_eq!(s.code(), Code::Unauthenticated, "{what}: {s:?}");
            messages.push(s.message().to_string());
        }
        messages.dedup();
        assert_eq!(messages.len(), 1, "one generic message: {messages:?}");
    }
}
