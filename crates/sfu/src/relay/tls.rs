//! The TURN/TLS certificate, read from its PEM files at start and again whenever they change: each
//! new TLS connection first reads both files (a few kilobytes, next to a TLS handshake's cost) and,
//! when their bytes differ from the ones in use, builds a new configuration from them. So a renewed
//! certificate (certbot, an operator's copy) is served from the next connection on, without a
//! restart or a signal; connections already open keep the one they started with. A pair that does
//! not load (a half-written file, a key that does not match) is logged and the last good one kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig as TlsConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TurnTls;

/// The certificate files and the acceptor built from their current contents.
pub(crate) struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    /// (certificate file bytes, key file bytes, the acceptor made of them).
    current: Mutex<(Vec<u8>, Vec<u8>, TlsAcceptor)>,
}

impl Certificate {
    /// Reads the certificate chain and key.
    ///
    /// # Errors
    /// When a file cannot be read or holds no usable certificate or key.
    pub(crate) fn load(tls: &TurnTls) -> std::io::Result<Self> {
        let cert = std::fs::read(&tls.cert).map_err(|e| unreadable(&tls.cert, &e))?;
        let key = std::fs::read(&tls.key).map_err(|e| unreadable(&tls.key, &e))?;
        let acceptor = acceptor(&tls.cert, &tls.key, &cert, &key)?;
        Ok(Self {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            current: Mutex::new((cert, key, acceptor)),
        })
    }

    /// The acceptor for a new connection: of the files as they are now, or the last good one.
    pub(crate) async fn acceptor(&self) -> TlsAcceptor {
        let (cert, key) = match (
            tokio::fs::read(&self.cert).await,
            tokio::fs::read(&self.key).await,
        ) {
            (Ok(c), Ok(k)) => (c, k),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "TURN/TLS: the certificate files cannot be read; serving the last one read");
                return self.lock().2.clone();
            }
        };
        {
            let current = self.lock();
            if current.0 == cert && current.1 == key {
                return current.2.clone();
            }
        }
        match acceptor(&self.cert, &self.key, &cert, &key) {
            Ok(fresh) => {
                tracing::info!(cert = %self.cert.display(), "TURN/TLS: the certificate changed; serving the new one");
                *self.lock() = (cert, key, fresh.clone());
                fresh
            }
            Err(e) => {
                // Often a renewal caught between writing the certificate and the key: the next
                // connection tries again.
                tracing::warn!(error = %e, "TURN/TLS: the changed certificate does not load; serving the last good one");
                self.lock().2.clone()
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, Vec<u8>, TlsAcceptor)> {
        // Nothing panics while holding it (a compare, a clone, a store).
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn unreadable(path: &std::path::Path, e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("TURN/TLS file {}: {e}", path.display()))
}

/// A rustls acceptor of the PEM `cert` chain and `key`, read from `cert_path` and `key_path`
/// (named in errors).
fn acceptor(
    cert_path: &Path,
    key_path: &Path,
    cert: &[u8],
    key: &[u8],
) -> std::io::Result<TlsAcceptor> {
    let invalid = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("TURN/TLS {what} {}: {e}", path.display()),
        )
    };
    let certs = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", cert_path, &e))?;
    if certs.is_empty() {
        return Err(invalid("certificate", cert_path, &"no CERTIFICATE in it"));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid("key", key_path, &e))?;
    let config = TlsConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("certificate and key", cert_path, &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
