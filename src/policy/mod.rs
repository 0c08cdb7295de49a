//! Device policies (MS-ASPROV): the policy document a device must accept, its
//! fingerprint, and the check of the policy key every request carries; which policy
//! applies to a device (`effective`), and the device access rules (`rules`).

pub mod effective;
pub mod rules;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::eas::ProtocolVersion;
use crate::eas::status::CommonStatus;
use crate::settings;
use crate::state::Device;
use crate::wbxml::Element;
use crate::wbxml::pages::Provision as P;

/// The name of the policy `[provision]` defines.
pub const DEFAULT_POLICY: &str = "default";

/// A policy: what a device must enforce. In the configuration a `[policies.NAME]`
/// section, with the MS-ASPROV element names in snake_case; unset keys keep the
/// defaults below (no requirement, everything allowed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub device_password_enabled: bool,
    #[serde(rename = "alphanumeric_device_password_required")]
    pub alphanumeric_password_required: bool,
    #[serde(rename = "min_device_password_length")]
    pub min_password_length: u32,
    /// Seconds; 0 = no requirement.
    #[serde(rename = "max_inactivity_time_device_lock")]
    pub max_inactivity_secs: u32,
    #[serde(rename = "max_device_password_failed_attempts")]
    pub max_password_failed_attempts: u32,
    #[serde(rename = "allow_simple_device_password")]
    pub allow_simple_password: bool,
    /// Days; 0 = passwords do not expire.
    pub device_password_expiration: u32,
    /// Passwords remembered against reuse; 0 = none.
    pub device_password_history: u32,
    pub attachments_enabled: bool,
    /// Bytes; 0 = no limit.
    pub max_attachment_size: u32,
    pub require_device_encryption: bool,
    pub allow_camera: bool,
    #[serde(rename = "allow_html_email")]
    pub allow_html_email: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            device_password_enabled: false,
            alphanumeric_password_required: false,
            min_password_length: 4,
            max_inactivity_secs: 0,
            max_password_failed_attempts: 0,
            allow_simple_password: true,
            device_password_expiration: 0,
            device_password_history: 0,
            attachments_enabled: true,
            max_attachment_size: 0,
            require_device_encryption: false,
            allow_camera: true,
            allow_html_email: true,
        }
    }
}

impl Policy {
    /// The server-wide default policy from `[provision]`.
    pub fn from_settings(p: &settings::Provision) -> Policy {
        Policy {
            device_password_enabled: p.device_password,
            min_password_length: p.min_password_length,
            max_inactivity_secs: p.max_inactivity_secs,
            ..Policy::default()
        }
    }

    /// Identifies the policy's content: when it changes, devices must provision again.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(format!("{self:?}").as_bytes());
        hex::encode(&digest[..8])
    }

    /// The EASProvisionDoc element (MS-ASPROV 2.2.2.27) for a device of `version`.
    /// EAS 12.0 devices get only the settings 12.0 defines: Outlook 2007 loops on
    /// Provision when it sees later ones (design.md, "Clients and their known habits").
    pub fn document(&self, version: ProtocolVersion) -> Element {
        let b = |v: bool| if v { "1" } else { "0" };
        let pw = self.device_password_enabled;
        let mut doc = Element::new(P::EASProvisionDoc)
            .text_child(P::DevicePasswordEnabled, b(pw))
            .text_child(
                P::AlphanumericDevicePasswordRequired,
                b(pw && self.alphanumeric_password_required),
            )
            .text_child(P::PasswordRecoveryEnabled, "0")
            .text_child(P::RequireStorageCardEncryption, "0")
            .text_child(P::AttachmentsEnabled, b(self.attachments_enabled));
        if pw {
            doc.push(Element::with_text(
                P::MinDevicePasswordLength,
                self.min_password_length.to_string(),
            ));
        }
        // An empty value means "no limit" (MS-ASPROV 2.2.2.33, 2.2.2.32).
        doc.push(optional(
            P::MaxInactivityTimeDeviceLock,
            self.max_inactivity_secs,
        ));
        doc.push(optional(
            P::MaxDevicePasswordFailedAttempts,
            self.max_password_failed_attempts,
        ));
        doc.push(optional(P::MaxAttachmentSize, self.max_attachment_size));
        doc.push(Element::with_text(
            P::AllowSimpleDevicePassword,
            b(self.allow_simple_password),
        ));
        doc.push(Element::with_text(
            P::DevicePasswordExpiration,
            self.device_password_expiration.to_string(),
        ));
        doc.push(Element::with_text(
            P::DevicePasswordHistory,
            self.device_password_history.to_string(),
        ));
        if version == ProtocolVersion::V12_0 {
            return doc;
        }
        let rest: &[(crate::wbxml::Tag, &str)] = &[
            (P::AllowStorageCard, "1"),
            (P::AllowCamera, b(self.allow_camera)),
            (
                P::RequireDeviceEncryption,
                b(self.require_device_encryption),
            ),
            (P::AllowUnsignedApplications, "1"),
            (P::AllowUnsignedInstallationPackages, "1"),
            (P::MinDevicePasswordComplexCharacters, "1"),
            (P::AllowWiFi, "1"),
            (P::AllowTextMessaging, "1"),
            (P::AllowPOPIMAPEmail, "1"),
            (P::AllowBluetooth, "2"),
            (P::AllowIrDA, "1"),
            (P::RequireManualSyncWhenRoaming, "0"),
            (P::AllowDesktopSync, "1"),
            (P::MaxCalendarAgeFilter, "0"),
            (P::AllowHTMLEmail, b(self.allow_html_email)),
            (P::MaxEmailAgeFilter, "0"),
            (P::MaxEmailBodyTruncationSize, "-1"),
            (P::MaxEmailHTMLBodyTruncationSize, "-1"),
            (P::RequireSignedSMIMEMessages, "0"),
            (P::RequireEncryptedSMIMEMessages, "0"),
            (P::RequireSignedSMIMEAlgorithm, "0"),
            (P::RequireEncryptionSMIMEAlgorithm, "0"),
            (P::AllowSMIMEEncryptionAlgorithmNegotiation, "2"),
            (P::AllowSMIMESoftCerts, "1"),
            (P::AllowBrowser, "1"),
            (P::AllowConsumerEmail, "1"),
            (P::AllowRemoteDesktop, "1"),
            (P::AllowInternetSharing, "1"),
        ];
        for (tag, value) in rest {
            doc.push(Element::with_text(*tag, *value));
        }
        doc
    }
}

fn optional(tag: crate::wbxml::Tag, value: u32) -> Element {
    if value == 0 {
        Element::new(tag)
    } else {
        Element::with_text(tag, value.to_string())
    }
}

/// The result of checking a request's policy key against the device's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    Ok,
    /// No key yet (MS-ASCMD 2.2.2: 142 DeviceNotProvisioned).
    NotProvisioned,
    /// The key is the device's, but the policy changed since (143 PolicyRefresh).
    Refresh,
    /// A key that is not the device's (144 InvalidPolicyKey).
    Invalid,
}

impl KeyCheck {
    /// The common status a 14.0+ device gets; older devices get HTTP 449 instead.
    pub fn status(self) -> Option<CommonStatus> {
        match self {
            KeyCheck::Ok => None,
            KeyCheck::NotProvisioned => Some(CommonStatus::DeviceNotProvisioned),
            KeyCheck::Refresh => Some(CommonStatus::PolicyRefresh),
            KeyCheck::Invalid => Some(CommonStatus::InvalidPolicyKey),
        }
    }
}

/// Checks the key a request carried (`X-MS-PolicyKey`, or the base64 query's field).
pub fn check_key(device: &Device, sent: Option<u32>, current_fingerprint: &str) -> KeyCheck {
    match sent.filter(|k| *k != 0) {
        None => KeyCheck::NotProvisioned,
        // A key that is not (or no longer) the device's, e.g. from before a new phase 1.
        Some(k) if k != device.policy_key => KeyCheck::Invalid,
        Some(_) if device.policy_hash != current_fingerprint => KeyCheck::Refresh,
        Some(_) => KeyCheck::Ok,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wbxml;

    pub(crate) fn device(key: u32, hash: &str) -> Device {
        Device {
            protocol_version: "16.1".into(),
            policy_key: key,
            policy_hash: hash.into(),
            ..Device::unregistered("a", "d", "t")
        }
    }

    #[test]
    fn key_checks() {
        assert_eq!(
            check_key(&device(0, ""), None, "h"),
            KeyCheck::NotProvisioned
        );
        assert_eq!(check_key(&device(0, ""), Some(9), "h"), KeyCheck::Invalid);
        assert_eq!(
            check_key(&device(5, "h"), Some(0), "h"),
            KeyCheck::NotProvisioned
        );
        assert_eq!(check_key(&device(5, "h"), Some(6), "h"), KeyCheck::Invalid);
        assert_eq!(
            check_key(&device(5, "old"), Some(5), "h"),
            KeyCheck::Refresh
        );
        assert_eq!(check_key(&device(5, "h"), Some(5), "h"), KeyCheck::Ok);
    }

    #[test]
    fn twelve_zero_gets_only_its_own_settings() {
        let p = Policy::from_settings(&settings::Provision::default());
        let old = wbxml::to_xml(&p.document(ProtocolVersion::V12_0));
        let new = wbxml::to_xml(&p.document(ProtocolVersion::V16_1));
        assert!(!old.contains("AllowCamera") && new.contains("AllowCamera"));
        assert!(
            old.contains("<DevicePasswordEnabled>0</DevicePasswordEnabled>"),
            "{old}"
        );
    }

    #[test]
    fn fingerprint_follows_content() {
        let mut p = Policy::from_settings(&settings::Provision::default());
        let a = p.fingerprint();
        assert_eq!(a, p.fingerprint());
        p.device_password_enabled = true;
        assert_ne!(a, p.fingerprint());
    }
}
