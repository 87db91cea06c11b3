//! The host's certificate and its TLS listeners: SIP over TLS (5061) is
//! the transport's; HTTPS — the API, the browser phone and `wss://…/ws` —
//! is served here through [`HttpsListener`].
//!
//! The operator gives a certificate chain and key (PEM). With none,
//! `serve` makes a self-signed one for development at first start and
//! keeps it in the data directory, so browsers and phones told to trust
//! it once keep trusting it across restarts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Where the certificate and key are, and whether we made them.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Made by `serve` (self-signed, for development).
    pub self_signed: bool,
}

/// The names a development certificate is good for: this machine by its
/// loopback names and addresses.
const DEVELOPMENT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The operator's certificate and key when given (both or neither), else
/// the development certificate in `<data_dir>/tls/`, made when missing.
pub fn certificate_files(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<CertificateFiles> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(CertificateFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            self_signed: false,
        }),
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("--tls-cert and --tls-key go together: give both or neither")
        }
        (None, None) => {
            let dir = data_dir.join("tls");
            let files = CertificateFiles {
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
                self_signed: true,
            };
            if !(files.cert.exists() && files.key.exists()) {
                make_development_certificate(&files)?;
            }
            Ok(files)
        }
    }
}

fn make_development_certificate(files: &CertificateFiles) -> anyhow::Result<()> {
    let names: Vec<String> = DEVELOPMENT_NAMES.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names)
        .context("making the development TLS certificate")?;
    if let Some(dir) = files.cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&files.cert, made.cert.pem())
        .with_context(|| format!("writing {}", files.cert.display()))?;
    write_private(&files.key, made.signing_key.serialize_pem().as_bytes())?;
    tracing::info!(
        cert = %files.cert.display(),
        "made a self-signed TLS certificate for development (README: trusting it)"
    );
    Ok(())
}

/// The key is readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// A rustls server configuration for `files`, offering `alpn` (none for
/// SIP, `http/1.1` for HTTPS). A file that is missing or holds no
/// certificate or key is an error naming it.
pub fn server_config(
    files: &CertificateFiles,
    alpn: &[&[u8]],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading the TLS certificate {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate", files.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("{}: no PEM private key in it", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} and {} do not make a certificate and its key",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; beyond it new connections wait in the
/// kernel's backlog (a flood of half-open handshakes costs bounded work).
const HANDSHAKES_IN_FLIGHT: usize = 256;

/// HTTPS for axum: connections are accepted and their handshakes run on
/// their own tasks (a slow client holds up no other), and only finished
/// TLS streams reach the HTTP server.
pub struct HttpsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    pub async fn bind(
        addr: SocketAddr,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<HttpsListener> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let slots = Arc::new(Semaphore::new(HANDSHAKES_IN_FLIGHT));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "https accept");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "https handshake failed"),
                        Err(_) => tracing::debug!(%peer, "https handshake not finished in time"),
                    }
                });
            }
        });
        Ok(HttpsListener { ready, local })
    }
}

/// The client's address on an HTTPS connection. The routes read
/// `ConnectInfo<SocketAddr>` as on plain HTTP: [`with_client_address`]
/// puts it there.
#[derive(Debug, Clone, Copy)]
pub struct HttpsClient(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, HttpsListener>>
    for HttpsClient
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, HttpsListener>) -> Self {
        HttpsClient(*stream.remote_addr())
    }
}

/// `app` behind HTTPS, its routes given the client's address as
/// `ConnectInfo<SocketAddr>` like on plain HTTP.
pub fn with_client_address(
    app: axum::Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, HttpsClient> {
    app.layer(axum::middleware::from_fn(
        |axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<HttpsClient>,
         mut req: axum::extract::Request,
         next: axum::middleware::Next| async move {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(client.0));
            next.run(req).await
        },
    ))
    .into_make_service_with_connect_info::<HttpsClient>()
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accepting task is gone (it never returns while the
            // listener lives): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_development_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let files = certificate_files(dir.path(), None, None).unwrap();
        assert!(files.self_signed);
        let first = std::fs::read(&files.cert).unwrap();
        server_config(&files, &[]).expect("the made certificate loads");
        let again = certificate_files(dir.path(), None, None).unwrap();
        assert_eq!(
            std::fs::read(&again.cert).unwrap(),
            first,
            "kept, not remade"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is the owner's only");
        }
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let err = certificate_files(dir.path(), Some(&cert), None).unwrap_err();
        assert!(err.to_string().contains("--tls-key"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_pem_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let files = certificate_files(dir.path(), Some(&cert), Some(&key)).unwrap();
        let err = format!("{:#}", server_config(&files, &[]).unwrap_err());
        assert!(err.contains("cert.pem"), "{err}");
    }
}
