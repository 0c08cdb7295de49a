//! ValidateCert (MS-ASCMD 2.2.1.22) checks: each certificate the device sends is
//! verified with the device's CertificateChain as intermediates against the trust
//! anchors of `[certificates]` (the system bundle and an optional extra file), for
//! S/MIME use (the emailProtection extended key usage, when the certificate names
//! usages at all). CheckCRL is not honoured: no revocation is checked.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use crate::settings::Certificates;

/// ValidateCert Status values (MS-ASCMD 2.2.3.177.16).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const PROTOCOL_ERROR: u16 = 2;
    pub const BAD_SIGNATURE: u16 = 3;
    pub const UNTRUSTED: u16 = 4;
    pub const BAD_CHAIN: u16 = 5;
    pub const EXPIRED: u16 = 7;
    pub const WRONG_PURPOSE: u16 = 9;
    pub const UNKNOWN: u16 = 17;
}

/// id-kp-emailProtection (1.3.6.1.5.5.7.3.4), DER contents.
const EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

fn read_pem(path: &Path, out: &mut Vec<CertificateDer<'static>>) {
    match CertificateDer::pem_file_iter(path) {
        Ok(iter) => out.extend(iter.filter_map(Result::ok)),
        Err(e) => {
            tracing::debug!(target: "airsync", path = %path.display(), error = %e, "trust file not read")
        }
    }
}

/// The trust anchors of the configuration (DER), read afresh each call.
pub fn anchors(cfg: &Certificates) -> Vec<CertificateDer<'static>> {
    let mut out = Vec::new();
    if !cfg.system_roots.is_empty() {
        read_pem(Path::new(&cfg.system_roots), &mut out);
    }
    if let Some(p) = &cfg.trust_file {
        read_pem(p, &mut out);
    }
    out
}

/// Verifies `cert` (DER) with `chain` as intermediates against `anchors` at `now`.
pub fn validate(
    cert: &[u8],
    chain: &[Vec<u8>],
    anchors: &[CertificateDer<'_>],
    now: UnixTime,
) -> u16 {
    let trust: Vec<TrustAnchor<'_>> = anchors
        .iter()
        .filter_map(|a| webpki::anchor_from_trusted_cert(a).ok())
        .collect();
    let der = CertificateDer::from(cert);
    let ee = match webpki::EndEntityCert::try_from(&der) {
        Ok(ee) => ee,
        Err(_) => return status::PROTOCOL_ERROR,
    };
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let usage = webpki::KeyUsage::required_if_present(EMAIL_PROTECTION);
    match ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust,
        &intermediates,
        now,
        usage,
        None,
        None,
    ) {
        Ok(_) => status::SUCCESS,
        Err(e) => {
            let name = format!("{e:?}");
            let code = if name.starts_with("CertExpired") || name.starts_with("CertNotValidYet") {
                status::EXPIRED
            } else if name.starts_with("UnknownIssuer") {
                status::UNTRUSTED
            } else if name.starts_with("InvalidSignature")
                || name.starts_with("UnsupportedSignature")
            {
                status::BAD_SIGNATURE
            } else if name.starts_with("RequiredEku") {
                status::WRONG_PURPOSE
            } else if name.starts_with("CaUsedAsEndEntity")
                || name.starts_with("PathLen")
                || name.starts_with("MaximumPath")
            {
                status::BAD_CHAIN
            } else {
                status::UNKNOWN
            };
            tracing::debug!(target: "airsync", error = name, code, "ValidateCert: certificate refused");
            code
        }
    }
}
