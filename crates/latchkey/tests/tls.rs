//! TLS on both sides, with certificates made here (rcgen): `serve
//! --tls-cert/--tls-key` serves HTTPS and swaps its certificate on SIGHUP
//! without dropping open connections; the server reaches PostgreSQL over
//! TLS as the URL's `sslmode` and `sslrootcert` ask (the throwaway server of
//! scripts/pg.sh runs with ssl = on and names its CA in
//! LATCHKEY_TEST_POSTGRES_CA).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

const RELOAD_LIMIT: Duration = Duration::from_secs(10);

/// A certificate authority made for one test.
struct Authority(CertifiedIssuer<'static, KeyPair>);

/// A server's certificate for 127.0.0.1 and its key.
struct ServerCertificate {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        Authority(CertifiedIssuer::self_signed(params, key).expect("a CA certificate"))
    }

    fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.0.pem()).expect("the CA file is written");
    }

    fn server_certificate(&self) -> ServerCertificate {
        let key = KeyPair::generate().expect("a server key");
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let cert = CertificateParams::new(names)
            .expect("server parameters")
            .signed_by(&key, &self.0)
            .expect("a server certificate");
        ServerCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl ServerCertificate {
    fn write(&self, cert: &Path, key: &Path) {
        std::fs::write(cert, &self.cert_pem).expect("the certificate file is written");
        std::fs::write(key, &self.key_pem).expect("the key file is written");
    }
}

/// An HTTPS client trusting `authority` alone, which tells the certificate
/// each reply came over. It keeps its connection open between requests, and
/// resumes no TLS session: a resumed session reports the certificate of the
/// one it resumes, which would hide a new connection.
fn https_client(authority: &Authority) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.0.der().clone()).expect("the CA is a usable root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.resumption = rustls::client::Resumption::disabled();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .tls_info(true)
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTPS client")
}

/// `GET /auth/introspect` with `token` over HTTPS: the status, and the
/// certificate the connection it went over was opened with.
async fn introspect(client: &reqwest::Client, addr: SocketAddr, token: &str) -> (u16, Vec<u8>) {
    let response = client
        .get(format!("https://{addr}/auth/introspect"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|error| panic!("no HTTPS reply: {error:?}"));
    let presented = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server's certificate")
        .to_vec();
    (response.status().as_u16(), presented)
}

#[tokio::test]
async fn https_with_a_made_certificate_swapped_on_sighup_without_dropping_connections() {
    each_backend(|backend| async move {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let authority = Authority::new("latchkey test CA");
        let first = authority.server_certificate();
        first.write(&cert, &key);
        let server = Server::start_with_env(
            &backend,
            &[
                ("LATCHKEY_TLS_CERT", cert.to_str().unwrap()),
                ("LATCHKEY_TLS_KEY", key.to_str().unwrap()),
            ],
        );
        let addr = server.api.addr;
        let token = server.admin_token.clone();

        let second = authority.server_certificate();
        // The certificate a reply came over, by name.
        let presented = |(status, der): (u16, Vec<u8>)| {
            let name = match der {
                der if der == first.der => "first",
                der if der == second.der => "second",
                _ => "another",
            };
            (status, name)
        };

        let opened_before = https_client(&authority);
        assert_eq!(
            presented(introspect(&opened_before, addr, &token).await),
            (200, "first")
        );
        let plain = reqwest::Client::builder().no_proxy().build().unwrap();
        let refused = plain.get(format!("http://{addr}/ready")).send().await;
        assert!(refused.is_err(), "plain HTTP to the HTTPS port got {refused:?}");

        // New files and SIGHUP: a new connection sees the new certificate,
        // the one opened before goes on, still over the first.
        second.write(&cert, &key);
        server.hang_up();
        server.wait_for_log("reloaded the TLS certificate", RELOAD_LIMIT);
        assert_eq!(
            presented(introspect(&https_client(&authority), addr, &token).await),
            (200, "second")
        );
        assert_eq!(
            presented(introspect(&opened_before, addr, &token).await),
            (200, "first")
        );

        // A key that is not the certificate's: logged without the key, and
        // the second certificate stays.
        let stray = authority.server_certificate();
        std::fs::write(&key, &stray.key_pem).unwrap();
        server.hang_up();
        server.wait_for_log("could not reload the TLS certificate", RELOAD_LIMIT);
        assert_eq!(
            presented(introspect(&https_client(&authority), addr, &token).await),
            (200, "second")
        );
        let log = server.log();
        assert!(log.contains("--tls-key"), "the refusal names the flag: {log}");
        let key_lines = stray.key_pem.lines().filter(|line| !line.starts_with("-----"));
        for line in key_lines {
            assert!(!log.contains(line), "the log holds the key: {log}");
        }

        // SIGTERM stops it gracefully, open keep-alive connections and all.
        let mut server = server;
        server.terminate();
        let status = server.wait_for_exit(Duration::from_secs(20));
        assert!(status.success(), "{status}: {}", server.log());
        drop(opened_before);
        drop(backend);
    })
    .await;
}

#[test]
fn a_bad_certificate_file_stops_the_start_naming_its_flag() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let authority = Authority::new("latchkey test CA");
    authority.server_certificate().write(&cert, &key);
    let database = dir.path().join("latchkey.db");
    let url = format!("sqlite://{}", database.display());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, authority.server_certificate().key_pem).unwrap();
    let other_key = other_key.to_str().unwrap();

    let cases: [(&[&str], &str); 5] = [
        (&["--tls-cert", cert], "--tls-key"),
        (&["--tls-key", key], "--tls-cert"),
        (&["--tls-cert", missing, "--tls-key", key], "--tls-cert"),
        (&["--tls-cert", key, "--tls-key", key], "holds no certificate"),
        (
            &["--tls-cert", cert, "--tls-key", other_key],
            "not the key of the certificate",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--database", &url];
        args.extend_from_slice(flags);
        let output = cli(&args, &[]);
        assert!(!output.success, "{flags:?} started");
        assert!(output.stderr.contains(expected), "{flags:?}: {}", output.stderr);
        assert!(!output.stderr.contains("panicked"), "{flags:?}: {}", output.stderr);
    }
    assert!(!database.exists(), "a refused start made a database");
}

/// How many of latchkey's connections to the database `url` names are
/// encrypted, and how many are not.
async fn latchkey_connections(url: &str) -> (usize, usize) {
    let sql = "SELECT CAST(s.ssl AS text) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
               WHERE a.datname = current_database() AND a.application_name = 'latchkey'";
    let encrypted = query_texts(url, sql).await;
    let tls = encrypted.iter().filter(|ssl| *ssl == "true").count();
    (tls, encrypted.len() - tls)
}

/// `url` with a password in its user info.
fn with_password(url: &str, password: &str) -> String {
    let at = url.find('@').expect("the test URL names its user");
    format!("{}:{password}{}", &url[..at], &url[at..])
}

#[tokio::test]
async fn postgres_over_tls_checks_the_servers_certificate_as_sslmode_asks() {
    let Ok(server_ca) = std::env::var(POSTGRES_CA_VAR) else {
        assert!(
            !postgres_required(),
            "{POSTGRES_CA_VAR} is unset: PostgreSQL over TLS is not tested \
             (scripts/pg.sh sets it when openssl is installed)"
        );
        eprintln!("skipped: {POSTGRES_CA_VAR} is unset");
        return;
    };
    // Each backend yields a fresh database: one per server started here.
    let fresh = || backends().into_iter().find(|backend| backend.name == "postgres");
    let Some(verified) = fresh() else {
        eprintln!("skipped: no PostgreSQL ({POSTGRES_URL_VAR} is unset)");
        return;
    };

    // verify-full: the CA that signed the server's certificate, for its host.
    let server = Server::start_on(
        &format!("{}?sslmode=verify-full&sslrootcert={server_ca}", verified.url),
        &[],
    );
    let application = server.api.create_application(&server.admin_token, "over TLS").await;
    let token = server.api.new_app_token(&server.admin_token, &application, "t").await;
    assert!(server.api.authenticates(&token.secret).await);
    let (tls, plain) = latchkey_connections(&verified.url).await;
    assert!(tls > 0 && plain == 0, "{tls} encrypted, {plain} plain connections");
    drop(server);

    // Another CA: a clear refusal at start, the password never shown.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wrong_ca = dir.path().join("wrong-ca.pem");
    Authority::new("not the server's CA").write_pem(&wrong_ca);
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        with_password(&verified.url, "hunter2"),
        wrong_ca.display()
    );
    let output = cli(&["serve", "--listen", "127.0.0.1:0", "--database", &url], &[]);
    assert!(
        !output.success,
        "started with a CA that did not sign the server's certificate"
    );
    assert!(
        output.stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("hunter2"), "{}", output.stderr);

    // require: encrypted without a CA file.
    let encrypted = fresh().expect("a second fresh database");
    let server = Server::start_on(&format!("{}?sslmode=require", encrypted.url), &[]);
    assert_eq!(server.api.get("/ready", &server.admin_token).await.status, 200);
    let (tls, plain) = latchkey_connections(&encrypted.url).await;
    assert!(tls > 0 && plain == 0, "{tls} encrypted, {plain} plain connections");
}
