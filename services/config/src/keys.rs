//! Loads the form-signing key ring at start-up: the configured key files, or in the
//! embedded mode a key generated once in `<data_dir>/keys/form-signing.key` (32 random
//! bytes, mode 0600, key id = first 8 hex characters of its SHA-256). Outside the
//! embedded mode a missing configuration is a start-up error, never a silent dev key.

use crate::config::Config;
use crate::domain::{FormKeys, SigningKey};
use anyhow::{Context, bail};
use lms_formtoken::{KEY_BYTES, kid_ok};
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the generated key file under `<data_dir>/keys/`.
pub const DEV_KEY_FILE: &str = "form-signing.key";

/// Builds the key ring from the configuration (see the module docs).
pub fn load(cfg: &Config, data_dir: &Path, embedded: bool) -> anyhow::Result<FormKeys> {
    let keys = if cfg.form_signing_keys.is_empty() {
        if !embedded {
            bail!(
                "config.form_signing_keys is empty: configure at least one form-signing key \
                 ({{kid, key_file}} with 32 random bytes) when not running embedded"
            );
        }
        vec![dev_key(&data_dir.join("keys"))?]
    } else {
        let mut keys = Vec::new();
        for (i, k) in cfg.form_signing_keys.iter().enumerate() {
            if !kid_ok(&k.kid) {
                bail!("config.form_signing_keys[{i}].kid must match [A-Za-z0-9_-]{{1,32}}");
            }
            let bytes = read_key(&k.key_file)
                .with_context(|| format!("config.form_signing_keys[{i}] ({})", k.kid))?;
            keys.extend(SigningKey::new(&k.kid, bytes));
        }
        keys
    };
    FormKeys::new(keys).context("config.form_signing_keys: key ids must be unique")
}

/// Reads a key file: 32 raw bytes, or 64 hex characters with optional whitespace.
fn read_key(path: &Path) -> anyhow::Result<[u8; KEY_BYTES]> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(bytes) = <[u8; KEY_BYTES]>::try_from(raw.as_slice()) {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&raw);
    let decoded = hex::decode(text.trim()).ok();
    match decoded.as_deref().map(<[u8; KEY_BYTES]>::try_from) {
        Some(Ok(bytes)) => Ok(bytes),
        _ => bail!(
            "{} must hold exactly 32 raw bytes or 64 hex characters",
            path.display()
        ),
    }
}

/// Loads the embedded mode's key, generating it on first start.
fn dev_key(dir: &Path) -> anyhow::Result<SigningKey> {
    let path: PathBuf = dir.join(DEV_KEY_FILE);
    if !path.exists() {
        create_dir(dir)?;
        let mut key = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        match create_new_private(&path) {
            Ok(mut f) => {
                f.write_all(&key)?;
                f.sync_all()?;
                tracing::info!(path = %path.display(), "generated a form-signing key");
            }
            // Another process won the race: use its key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let Ok(bytes) = <[u8; KEY_BYTES]>::try_from(raw.as_slice()) else {
        bail!("{} must hold exactly 32 bytes", path.display());
    };
    Ok(SigningKey::derived(bytes))
}

#[cfg(unix)]
fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningKeyConfig;

    #[test]
    fn embedded_generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = load(&Config::default(), dir.path(), true).unwrap();
        let b = load(&Config::default(), dir.path(), true).unwrap();
        assert_eq!(a.signing_kid(), b.signing_kid());
        assert_eq!(a.signing_kid().len(), 8);
        let file = dir.path().join("keys").join(DEV_KEY_FILE);
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(bytes.len(), 32);
        use sha2::Digest;
        assert_eq!(
            a.signing_kid(),
            &hex::encode(sha2::Sha256::digest(&bytes))[..8]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn not_embedded_without_keys_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&Config::default(), dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("form_signing_keys"), "{err}");
        assert!(!dir.path().join("keys").exists());
    }

    #[test]
    fn configured_keys_raw_and_hex() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let hexf = dir.path().join("hex");
        let bad = dir.path().join("bad");
        std::fs::write(&raw, [1u8; 32]).unwrap();
        std::fs::write(&hexf, format!("{}\n", hex::encode([2u8; 32]))).unwrap();
        std::fs::write(&bad, b"short").unwrap();
        let key = |kid: &str, p: &Path| SigningKeyConfig {
            kid: kid.into(),
            key_file: p.to_path_buf(),
        };
        let cfg = Config {
            form_signing_keys: vec![key("new", &raw), key("old", &hexf)],
            ..Config::default()
        };
        assert_eq!(load(&cfg, dir.path(), false).unwrap().signing_kid(), "new");
        let cfg = Config {
            form_signing_keys: vec![key("x", &bad)],
            ..Config::default()
        };
        assert!(load(&cfg, dir.path(), false).is_err());
        let cfg = Config {
            form_signing_keys: vec![key("a", &raw), key("a", &hexf)],
            ..Config::default()
        };
        assert!(load(&cfg, dir.path(), false).is_err());
        let cfg = Config {
            form_signing_keys: vec![key("a.b", &raw)],
            ..Config::default()
        };
        assert!(load(&cfg, dir.path(), false).is_err());
    }
}
