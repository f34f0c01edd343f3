//! Password hashing: argon2id with the crate defaults (m = 19456 KiB, t = 2, p = 1),
//! run on the blocking pool behind a semaphore so that memory × threads stays bounded;
//! a request that cannot get a slot within the wait limit fails fast (SERVER_BUSY).

use crate::error::UamError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

/// Hashes and verifies passwords with a concurrency cap.
#[derive(Debug)]
pub struct Hasher {
    slots: Arc<Semaphore>,
    wait: Duration,
    dummy: OnceCell<String>,
}

impl Hasher {
    /// A hasher allowing `concurrency` parallel operations (0: twice the cores).
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let n = if concurrency == 0 {
            2 * std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            concurrency
        };
        Self {
            slots: Arc::new(Semaphore::new(n)),
            wait,
            dummy: OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, UamError> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| UamError::HashingBusy)?
            .map_err(|_| UamError::HashingBusy)?;
        tokio::task::spawn_blocking(move || {
            let out = job();
            drop(permit);
            out
        })
        .await
        .map_err(|e| UamError::Internal(format!("hashing task failed: {e}")))
    }

    /// Hashes a password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, UamError> {
        self.run(move || hash_now(&password)).await?
    }

    /// True when the password matches the stored PHC string.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, UamError> {
        self.run(move || verify_now(&password, &phc)).await
    }

    /// Spends the same time as a real verification, for unknown or locked accounts.
    pub async fn verify_dummy(&self, password: String) -> Result<(), UamError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| self.hash("dummy password for timing parity".to_string()))
            .await?
            .clone();
        let _ = self.verify(password, dummy).await?;
        Ok(())
    }
}

fn new_salt() -> Result<SaltString, UamError> {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes).map_err(|e| UamError::Internal(format!("salt: {e}")))
}

fn hash_now(password: &str) -> Result<String, UamError> {
    let salt = new_salt()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UamError::Internal(format!("hashing a password: {e}")))
}

fn verify_now(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        tracing::warn!("stored password hash does not parse");
        return false;
    };
    // The parameters come from the PHC string, so older (weaker) hashes still verify.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// True when a stored hash is weaker than the policy (other algorithm or smaller
/// memory, iterations or parallelism), so the next login rehashes it.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let policy = Params::default();
    params.m_cost() < policy.m_cost()
        || params.t_cost() < policy.t_cost()
        || params.p_cost() < policy.p_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weak_hash(password: &str) -> String {
        let salt = new_salt().unwrap();
        let params = Params::new(4096, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn hashes_with_policy_params_and_verifies() {
        let h = Hasher::new(2, Duration::from_secs(5));
        let phc = h.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));
        assert!(
            h.verify("correct horse battery".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(!h.verify("correct horse batterY".into(), phc).await.unwrap());
    }

    #[test]
    fn weak_hashes_need_rehash_but_verify() {
        let weak = weak_hash("pw");
        assert!(needs_rehash(&weak));
        assert!(verify_now("pw", &weak));
        assert!(needs_rehash("not a hash"));
    }

    #[tokio::test]
    async fn saturated_hasher_fails_fast() {
        let h = Hasher::new(1, Duration::from_millis(50));
        let held = h.slots.clone().acquire_owned().await.unwrap();
        let started = std::time::Instant::now();
        let err = h.hash("whatever".into()).await.unwrap_err();
        assert!(matches!(err, UamError::HashingBusy));
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(held);
    }
}
