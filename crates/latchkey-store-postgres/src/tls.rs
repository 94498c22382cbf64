//! `sslmode` and `sslrootcert` in a PostgreSQL URL, with libpq's names and
//! meanings, over rustls. tokio-postgres itself knows only disable, prefer
//! and require, and no CA file, so both are taken out of the URL here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_store::{StoreError, StoreResult};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as Negotiation;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// How to connect, as the URL's `sslmode` and `sslrootcert` ask.
pub(crate) enum Tls {
    /// Plain TCP: no `sslmode` (as before TLS was supported) or `disable`.
    Off,
    /// TLS with this connector, negotiated so (prefer falls back to plain).
    On {
        negotiation: Negotiation,
        connector: MakeRustlsConnect,
    },
}

fn invalid(message: String) -> StoreError {
    StoreError::Database(message)
}

/// `url` without its `sslmode` and `sslrootcert` parameters, and the TLS
/// they ask for (the CA file is read here).
pub(crate) fn from_url(url: &str) -> StoreResult<(String, Tls)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        match key {
            "sslmode" => {
                mode =
                    Some(SslMode::parse(&value).ok_or_else(|| {
                        invalid(format!("sslmode={value} in the database URL is not one of {MODES}"))
                    })?);
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(value.into_owned())),
            _ => kept.push(pair),
        }
    }
    let rest = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((rest, tls(mode, root_cert.as_deref())?))
}

fn tls(mode: Option<SslMode>, root_cert: Option<&Path>) -> StoreResult<Tls> {
    let negotiation = match mode {
        None | Some(SslMode::Disable) => {
            if root_cert.is_some() {
                return Err(invalid(
                    "sslrootcert in the database URL is only read with sslmode=require, verify-ca or verify-full"
                        .to_string(),
                ));
            }
            return Ok(Tls::Off);
        }
        Some(SslMode::Prefer) => Negotiation::Prefer,
        Some(_) => Negotiation::Require,
    };
    let roots = match (mode, root_cert) {
        (Some(SslMode::VerifyCa | SslMode::VerifyFull), None) => {
            return Err(invalid(format!(
                "sslmode={} in the database URL needs sslrootcert=FILE, the CA certificates (PEM) to check the server's against",
                if mode == Some(SslMode::VerifyCa) { "verify-ca" } else { "verify-full" }
            )));
        }
        (Some(SslMode::Prefer), Some(_)) => {
            return Err(invalid(
                "sslrootcert in the database URL is only read with sslmode=require, verify-ca or verify-full"
                    .to_string(),
            ));
        }
        (_, root_cert) => root_cert.map(load_roots).transpose()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(format!("TLS for PostgreSQL: {error}")))?;
    let config = match (mode, roots) {
        (Some(SslMode::VerifyFull), Some(roots)) => builder.with_root_certificates(roots),
        // require (verify-ca when given a CA file, as libpq does), verify-ca, prefer.
        (_, roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName { roots, provider })),
    }
    .with_no_client_auth();
    Ok(Tls::On {
        negotiation,
        connector: MakeRustlsConnect::new(config),
    })
}

/// The CA certificates of `sslrootcert=FILE`.
fn load_roots(path: &Path) -> StoreResult<RootCertStore> {
    let named = || format!("sslrootcert={}", path.display());
    let bytes = std::fs::read(path).map_err(|error| invalid(format!("{}: cannot read it: {error}", named())))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|_| invalid(format!("{}: not a PEM certificate file", named())))?;
        roots
            .add(cert)
            .map_err(|error| invalid(format!("{}: a certificate in it cannot be used: {error}", named())))?;
    }
    if roots.is_empty() {
        return Err(invalid(format!(
            "{}: holds no certificate (-----BEGIN CERTIFICATE-----)",
            named()
        )));
    }
    Ok(roots)
}

/// The server's certificate checked as libpq's require and verify-ca check
/// it: given CA certificates, it must be signed by one of them, whatever
/// host name it bears; given none, it is not checked (encrypted, not
/// authenticated). The handshake's signatures are checked either way.
#[derive(Debug)]
struct AnyName {
    roots: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            let algorithms = self.provider.signature_verification_algorithms.all;
            verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, algorithms)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(url: &str) -> String {
        match from_url(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn sslmode_and_sslrootcert_leave_the_url() {
        let (rest, tls) = from_url("postgres://u:p@db/k?sslmode=require&application_name=x").unwrap();
        assert_eq!(rest, "postgres://u:p@db/k?application_name=x");
        assert!(matches!(
            tls,
            Tls::On {
                negotiation: Negotiation::Require,
                ..
            }
        ));
        let (rest, tls) = from_url("postgres://u@db/k?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@db/k");
        assert!(matches!(tls, Tls::Off));
        let (rest, tls) = from_url("postgres://u@db/k").unwrap();
        assert_eq!(rest, "postgres://u@db/k");
        assert!(matches!(tls, Tls::Off));
        let (_, tls) = from_url("postgres://u@db/k?sslmode=prefer").unwrap();
        assert!(matches!(
            tls,
            Tls::On {
                negotiation: Negotiation::Prefer,
                ..
            }
        ));
    }

    #[test]
    fn wrong_settings_are_named() {
        assert!(error_of("postgres://db/k?sslmode=verify").contains("sslmode=verify in the database URL is not one of"));
        assert!(error_of("postgres://db/k?sslmode=verify-full").contains("needs sslrootcert=FILE"));
        assert!(error_of("postgres://db/k?sslmode=verify-ca").contains("sslmode=verify-ca"));
        assert!(error_of("postgres://db/k?sslrootcert=/ca.pem").contains("only read with sslmode=require"));
        assert!(error_of("postgres://db/k?sslmode=prefer&sslrootcert=/ca.pem").contains("only read with"));
        let missing = error_of("postgres://db/k?sslmode=verify-full&sslrootcert=/nonexistent/ca%20file.pem");
        assert!(
            missing.contains("sslrootcert=/nonexistent/ca file.pem: cannot read it"),
            "{missing}"
        );
    }

    /// A CA of its own and a certificate it signed for `localhost`.
    fn signed_for_localhost() -> (CertificateDer<'static>, CertificateDer<'static>) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (ca.der().clone(), server.der().clone())
    }

    #[test]
    fn verify_ca_checks_who_signed_the_certificate_not_its_name() {
        let (ca, server) = signed_for_localhost();
        let (other_ca, _) = signed_for_localhost();
        let verifier = |ca: &CertificateDer<'static>| {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone()).unwrap();
            AnyName {
                roots: Some(roots),
                provider: Arc::new(rustls::crypto::ring::default_provider()),
            }
        };
        let another_name = ServerName::try_from("db.example.com").unwrap();
        let verify = |verifier: AnyName| verifier.verify_server_cert(&server, &[], &another_name, &[], UnixTime::now());
        assert!(verify(verifier(&ca)).is_ok());
        assert!(verify(verifier(&other_ca)).is_err());
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = error_of(&format!(
            "postgres://db/k?sslmode=verify-full&sslrootcert={}",
            path.display()
        ));
        assert!(error.contains("holds no certificate"), "{error}");
    }
}
