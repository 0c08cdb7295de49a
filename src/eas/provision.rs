//! Provision request and response (MS-ASPROV 2.2.2): the typed form of the element
//! tree, nothing more.

use crate::wbxml::pages::{Provision as P, Settings as S};
use crate::wbxml::{Element, Tag};

use super::{EasError, require_root};

/// The only policy type EAS 12.0 and later use (MS-ASPROV 2.2.2.41).
pub const POLICY_TYPE: &str = "MS-EAS-Provisioning-WBXML";

/// What a Provision request asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisionRequest {
    /// Settings:DeviceInformation/Set (14.1+).
    pub device_information: Option<DeviceInformation>,
    /// Policies/Policy/PolicyType.
    pub policy_type: Option<String>,
    /// Phase 2: the temporary key being acknowledged, and the device's status for it.
    pub ack_key: Option<u32>,
    pub ack_status: Option<u32>,
    /// The acknowledgement of a remote wipe (RemoteWipe/Status).
    pub remote_wipe_status: Option<u32>,
    pub account_only_remote_wipe_status: Option<u32>,
}

/// Settings:DeviceInformation/Set (MS-ASCMD 2.2.3.52).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInformation {
    pub model: String,
    pub imei: String,
    pub friendly_name: String,
    pub os: String,
    pub os_language: String,
    pub phone_number: String,
    pub mobile_operator: String,
    pub user_agent: String,
}

impl DeviceInformation {
    /// Reads a Settings:DeviceInformation element (shared with the Settings command).
    pub fn parse(el: &Element) -> DeviceInformation {
        let set = el.first(S::Set).unwrap_or(el);
        let get = |t: Tag| {
            set.child_text(t)
                .map(|s| s.into_owned())
                .unwrap_or_default()
        };
        DeviceInformation {
            model: get(S::Model),
            imei: get(S::IMEI),
            friendly_name: get(S::FriendlyName),
            os: get(S::OS),
            os_language: get(S::OSLanguage),
            phone_number: get(S::PhoneNumber),
            mobile_operator: get(S::MobileOperator),
            user_agent: get(S::UserAgent),
        }
    }
}

fn number(el: &Element, tag: Tag) -> Result<Option<u32>, EasError> {
    match el.child_text(tag) {
        None => Ok(None),
        Some(t) => t.trim().parse::<u32>().map(Some).map_err(|_| {
            EasError::Invalid(format!("{} is not a number", tag.name().unwrap_or("?")))
        }),
    }
}

impl ProvisionRequest {
    pub fn parse(root: &Element) -> Result<ProvisionRequest, EasError> {
        require_root(root, P::Provision)?;
        let mut req = ProvisionRequest {
            device_information: root
                .first(S::DeviceInformation)
                .map(DeviceInformation::parse),
            ..Default::default()
        };
        if let Some(policy) = root.first(P::Policies).and_then(|p| p.first(P::Policy)) {
            req.policy_type = policy
                .child_text(P::PolicyType)
                .map(|s| s.trim().to_string());
            req.ack_key = number(policy, P::PolicyKey)?;
            req.ack_status = number(policy, P::Status)?;
        }
        if let Some(wipe) = root.first(P::RemoteWipe) {
            req.remote_wipe_status = number(wipe, P::Status)?;
        }
        if let Some(wipe) = root.first(P::AccountOnlyRemoteWipe) {
            req.account_only_remote_wipe_status = number(wipe, P::Status)?;
        }
        Ok(req)
    }
}

/// Provision/Status (MS-ASPROV 2.2.2.54.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionStatus {
    Success = 1,
    ProtocolError = 2,
    ServerError = 3,
}

/// Policy/Status (MS-ASPROV 2.2.2.54.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyStatus {
    Success = 1,
    NoPolicy = 2,
    UnknownPolicyType = 3,
    ServerCorrupt = 4,
    WrongPolicyKey = 5,
}

/// The answer to a Provision request.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionResponse {
    pub status: ProvisionStatus,
    /// Answer DeviceInformation with its own Status 1 when the request carried it.
    pub device_information_ok: bool,
    pub policy: Option<PolicyAnswer>,
    /// Tell the device to wipe itself (MS-ASPROV 2.2.2.49).
    pub remote_wipe: bool,
    pub account_only_remote_wipe: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyAnswer {
    pub status: PolicyStatus,
    pub policy_key: Option<u32>,
    /// Phase 1 only: the EASProvisionDoc element.
    pub document: Option<Element>,
}

impl ProvisionResponse {
    pub fn to_element(&self) -> Element {
        // MS-ASPROV 4.1.1 example order: DeviceInformation, Status, Policies, RemoteWipe.
        let mut root = Element::new(P::Provision);
        if self.device_information_ok {
            root.push(Element::new(S::DeviceInformation).text_child(S::Status, "1"));
        }
        root.push(Element::with_text(
            P::Status,
            (self.status as u8).to_string(),
        ));
        if let Some(policy) = &self.policy {
            let mut p = Element::new(P::Policy)
                .text_child(P::PolicyType, POLICY_TYPE)
                .text_child(P::Status, (policy.status as u8).to_string());
            if let Some(key) = policy.policy_key {
                p.push(Element::with_text(P::PolicyKey, key.to_string()));
            }
            if let Some(doc) = &policy.document {
                p.push(Element::new(P::Data).child(doc.clone()));
            }
            root.push(Element::new(P::Policies).child(p));
        }
        if self.remote_wipe {
            root.push(Element::new(P::RemoteWipe));
        }
        if self.account_only_remote_wipe {
            root.push(Element::new(P::AccountOnlyRemoteWipe));
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    fn fixture(path: &str) -> Element {
        let p = format!(
            "{}/../shared/fixtures/eas/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"));
        wbxml::decode(&bytes, &wbxml::Limits::default()).unwrap()
    }

    #[test]
    fn nine_phase_one_and_two() {
        // Nine 16.1 (syncgw trace 760): phase 1 with DeviceInformation, then phase 2.
        let dir = format!(
            "{}/../shared/fixtures/eas/syncgw-traces",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut provisions: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("Provision.req.wbxml"))
            .collect();
        provisions.sort();
        assert!(
            !provisions.is_empty(),
            "no Provision requests in the traces"
        );
        let mut saw_info = false;
        let mut saw_ack = false;
        for p in provisions {
            let rel = p
                .strip_prefix(format!(
                    "{}/../shared/fixtures/eas/",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap();
            let req = ProvisionRequest::parse(&fixture(rel.to_str().unwrap())).unwrap();
            if let Some(info) = &req.device_information {
                saw_info |= !info.model.is_empty();
            }
            if req.ack_key.is_some() {
                saw_ack = true;
                assert_eq!(req.ack_status, Some(1));
            }
            if req.remote_wipe_status.is_none() {
                assert_eq!(req.policy_type.as_deref(), Some(POLICY_TYPE));
            }
        }
        assert!(saw_info && saw_ack);
    }

    #[test]
    fn response_shape() {
        let r = ProvisionResponse {
            status: ProvisionStatus::Success,
            device_information_ok: true,
            policy: Some(PolicyAnswer {
                status: PolicyStatus::Success,
                policy_key: Some(42),
                document: None,
            }),
            remote_wipe: false,
            account_only_remote_wipe: false,
        };
        let xml = wbxml::to_xml(&r.to_element());
        assert!(xml.contains("<PolicyKey>42</PolicyKey>"), "{xml}");
        let back =
            wbxml::decode(&wbxml::encode(&r.to_element()), &wbxml::Limits::default()).unwrap();
        assert_eq!(back, r.to_element());
    }
}
