//! The Ed25519 signing key: loaded from a PKCS#8 PEM file, or generated once under the
//! data folder in the embedded mode. Signs access and MFA tokens and verifies MFA tokens
//! (against the injected clock); other services verify access tokens with the public
//! key from GetSigningKeys.

use crate::error::UamError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lms_platform::auth::{AUDIENCE, Claims, ISSUER, TYP_MFA};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Allowed clock skew between replicas on an MFA token's `nbf`, in seconds.
const NBF_LEEWAY_SECS: i64 = 5;

/// A public verification key, as GetSigningKeys lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id (`kid` header).
    pub kid: String,
    /// Raw 32-byte Ed25519 public key, base64url without padding.
    pub x: String,
}

/// The active signing key.
pub struct SigningKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

/// Where the embedded mode keeps its generated key.
pub fn dev_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("uam-signing.pem")
}

impl SigningKeys {
    /// Loads the configured key file; without one, generates (embedded mode only) or
    /// reuses `<data_dir>/keys/uam-signing.pem`.
    pub fn load(file: Option<&Path>, data_dir: &Path, embedded: bool) -> anyhow::Result<Self> {
        if let Some(path) = file {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("uam.signing_key_file {}: {e}", path.display()))?;
            return Self::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("uam.signing_key_file {}: {e}", path.display()));
        }
        anyhow::ensure!(
            embedded,
            "uam needs a signing key: set uam.signing_key_file (LMS_UAM__SIGNING_KEY_FILE) to an \
             Ed25519 PKCS#8 PEM file; keys are generated only in the embedded `lms serve` mode"
        );
        let path = dev_key_path(data_dir);
        if !path.exists() {
            generate(&path)?;
        }
        let pem = std::fs::read_to_string(&path)?;
        Self::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Builds the keys from a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 PEM private key: {e}"))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
        let public = key.verifying_key().to_bytes();
        let kid = hex::encode(Sha256::digest(public))[..16].to_string();
        let x = URL_SAFE_NO_PAD.encode(public);
        Ok(Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_components(&x)?,
            public: PublicKey { kid, x },
        })
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs claims with the `kid` header.
    pub fn sign(&self, claims: &Claims) -> Result<String, UamError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| UamError::Internal(format!("signing a token: {e}")))
    }

    /// Verifies an MFA token: our key, EdDSA only, issuer, audience, `typ` = mfa, and the
    /// times against `now` (the injected clock).
    pub fn verify_mfa(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, UamError> {
        let invalid = || UamError::InvalidMfaToken;
        if token.is_empty() || token.len() > 8 * 1024 {
            return Err(invalid());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.kid.as_deref() != Some(self.public.kid.as_str())
        {
            return Err(invalid());
        }
        let mut v = Validation::new(Algorithm::EdDSA);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|_| invalid())?
            .claims;
        let t = now.timestamp();
        if claims.typ != TYP_MFA || t >= claims.exp || t + NBF_LEEWAY_SECS < claims.nbf {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// Writes a new key, readable by the owner only; a concurrent first start that wins the
/// race keeps its key.
fn generate(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(pem.as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a development signing key");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::anyhow!("writing {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = SigningKeys::load(None, dir.path(), true).unwrap();
        let b = SigningKeys::load(None, dir.path(), true).unwrap();
        assert_eq!(a.public(), b.public());
        assert_eq!(a.public().kid.len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dev_key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_to_generate_outside_embedded_mode() {
        let dir = tempfile::tempdir().unwrap();
        let err = SigningKeys::load(None, dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("signing_key_file"), "{err}");
    }
}
