//! The rustls client configuration, built explicitly on the `ring` provider (no process-wide
//! default provider is installed or required).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::TlsConfig;
use crate::error::QueryError;

fn config_err(what: &str, path: &std::path::Path, e: impl std::fmt::Display) -> QueryError {
    QueryError::Config(format!("{what} {}: {e}", path.display()))
}

/// Builds the TLS configuration. `https` decides whether system roots are loaded when no
/// CA file is given (plain-http clients skip reading the system store).
pub(crate) fn client_config(tls: &TlsConfig, https: bool) -> Result<ClientConfig, QueryError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| QueryError::Config(format!("TLS: {e}")))?;

    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else if let Some(ca) = &tls.ca_file {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca).map_err(|e| config_err("CA file", ca, e))?;
        for cert in certs {
            let cert = cert.map_err(|e| config_err("CA file", ca, e))?;
            roots.add(cert).map_err(|e| config_err("CA file", ca, e))?;
        }
        if roots.is_empty() {
            return Err(config_err("CA file", ca, "no certificates in it"));
        }
        builder.with_root_certificates(roots)
    } else if https {
        use rustls_platform_verifier::BuilderVerifierExt;
        builder
            .with_platform_verifier()
            .map_err(|e| QueryError::Config(format!("TLS: system roots: {e}")))?
    } else {
        builder.with_root_certificates(RootCertStore::empty())
    };

    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| config_err("client certificate", cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| config_err("client certificate", cert, e))?;
            // The key's parse error names the file only, never its content.
            let key_der =
                PrivateKeyDer::from_pem_file(key).map_err(|e| config_err("client key", key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| QueryError::Config(format!("client certificate/key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(QueryError::Config(
                "tls cert_file and key_file must be given together".into(),
            ))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `insecure_skip_verify`: any certificate chain and name, but handshake signatures are
/// still verified.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
