//! `serve --tls-cert FILE --tls-key FILE`: HTTPS with rustls, the
//! certificate re-read on SIGHUP.
//!
//! Handshakes run on tokio-rustls under axum's own `serve` (through its
//! `Listener` trait), so HTTP and HTTPS share one serving loop and one
//! graceful shutdown. The certificate is chosen per handshake from an
//! `ArcSwap`: a reload changes what new handshakes present and touches no
//! open connection.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use arc_swap::ArcSwap;
use axum::serve::Listener;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const HANDSHAKEN_BACKLOG: usize = 64;

/// The two files, as given.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files: errors name the flag and the file, never their
    /// contents.
    fn load(&self, provider: &rustls::crypto::CryptoProvider) -> anyhow::Result<CertifiedKey> {
        let cert_flag = format!("--tls-cert {}", self.cert.display());
        let key_flag = format!("--tls-key {}", self.key.display());
        let not_pem = |flag: &str, what: &str, error: pem::Error| match error {
            pem::Error::NoItemsFound => anyhow!("{flag}: holds no {what} in PEM"),
            pem::Error::Io(error) => anyhow!("{flag}: cannot read it: {error}"),
            _ => anyhow!("{flag}: not a valid PEM file"),
        };
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|error| not_pem(&cert_flag, "certificate", error))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| not_pem(&cert_flag, "certificate", error))?;
        if chain.is_empty() {
            return Err(not_pem(&cert_flag, "certificate", pem::Error::NoItemsFound));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|error| not_pem(&key_flag, "private key (PRIVATE KEY, RSA or EC PRIVATE KEY)", error))?;
        CertifiedKey::from_der(chain, key, provider).map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => anyhow!("{key_flag}: not the key of the certificate in {cert_flag}"),
            error => anyhow!("{key_flag} with {cert_flag}: {error}"),
        })
    }
}

/// The certificate new handshakes present; swapped on reload.
struct CurrentCertificate(ArcSwap<CertifiedKey>);

impl std::fmt::Debug for CurrentCertificate {
    /// Nothing of the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentCertificate")
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// HTTPS from two PEM files; see [`Tls::listener`] and [`Tls::reload_on_hangup`].
pub struct Tls {
    files: TlsFiles,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: Arc<CurrentCertificate>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Reads both files; a bad one is an error naming its flag.
    pub fn new(files: TlsFiles) -> anyhow::Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = Arc::new(CurrentCertificate(ArcSwap::from_pointee(files.load(&provider)?)));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .context("TLS settings")?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        // The server speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            provider,
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// From now on SIGHUP re-reads both files: new handshakes present the
    /// new certificate; a bad file is logged and the previous one kept.
    /// Call before serving, so an early SIGHUP does not end the process.
    pub fn reload_on_hangup(&self) -> anyhow::Result<()> {
        let mut hangups =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("handling SIGHUP")?;
        let files = self.files.clone();
        let provider = Arc::clone(&self.provider);
        let current = Arc::clone(&self.current);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match files.load(&provider) {
                    Ok(key) => {
                        current.0.store(Arc::new(key));
                        tracing::info!("SIGHUP: reloaded the TLS certificate and key");
                    }
                    Err(error) => tracing::error!(
                        "SIGHUP: could not reload the TLS certificate ({error:#}); still serving the previous one"
                    ),
                }
            }
        });
        Ok(())
    }

    /// Connections accepted on `tcp`, handshaken; each handshake runs on
    /// its own task, so a slow client holds up no other.
    pub fn listener(&self, tcp: TcpListener) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (sender, handshaken) = mpsc::channel(HANDSHAKEN_BACKLOG);
        tokio::spawn(accept_loop(tcp, self.acceptor.clone(), sender));
        Ok(TlsListener { handshaken, local_addr })
    }
}

type Handshaken = (TlsStream<TcpStream>, SocketAddr);

/// Accepts until the [`TlsListener`] is dropped (the server stopped).
async fn accept_loop(mut tcp: TcpListener, acceptor: TlsAcceptor, sender: mpsc::Sender<Handshaken>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = Listener::accept(&mut tcp) => accepted,
            () = sender.closed() => return,
        };
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    // Fails only when the server has stopped: the connection is dropped.
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
            }
        });
    }
}

/// What `axum::serve` takes connections from when serving HTTPS.
pub struct TlsListener {
    handshaken: mpsc::Receiver<Handshaken>,
    local_addr: SocketAddr,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.handshaken
            .recv()
            .await
            .expect("the accept loop runs as long as its listener")
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
