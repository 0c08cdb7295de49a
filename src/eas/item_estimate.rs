//! GetItemEstimate (MS-ASCMD 2.2.1.9), typed. SyncKey and FilterType are AirSync
//! elements; 14.0+ put FilterType inside AirSync:Options.

use crate::wbxml::Element;
use crate::wbxml::pages::{AirSync as A, ItemEstimate as E};

use super::{EasError, require_root};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstimateCollection {
    pub collection_id: String,
    pub sync_key: String,
    pub filter_type: Option<u8>,
}

pub fn parse(root: &Element) -> Result<Vec<EstimateCollection>, EasError> {
    require_root(root, E::GetItemEstimate)?;
    let collections = root
        .first(E::Collections)
        .ok_or(EasError::Missing("Collections"))?;
    collections
        .all(E::Collection)
        .map(|c| {
            let text = |t| c.child_text(t).map(|s| s.trim().to_string());
            // 14.0+: AirSync:Options/FilterType; 12.x: AirSync:FilterType directly.
            let filter = c
                .first(A::Options)
                .and_then(|o| o.child_text(A::FilterType))
                .or_else(|| c.child_text(A::FilterType));
            Ok(EstimateCollection {
                collection_id: text(E::CollectionId).ok_or(EasError::Missing("CollectionId"))?,
                sync_key: text(A::SyncKey).ok_or(EasError::Missing("SyncKey"))?,
                filter_type: filter.and_then(|f| f.trim().parse().ok()),
            })
        })
        .collect()
}

/// GetItemEstimate Status values (MS-ASCMD 2.2.3.177.7).
pub mod status {
    pub const SUCCESS: u16 = 1;
    pub const INVALID_COLLECTION: u16 = 2;
    pub const NOT_PRIMED: u16 = 3;
    pub const INVALID_SYNC_KEY: u16 = 4;
}

/// One Response element: Status, and with success the estimate.
pub fn response(answers: &[(String, u16, Option<usize>)]) -> Element {
    let mut root = Element::new(E::GetItemEstimate);
    for (collection_id, status, estimate) in answers {
        let mut r = Element::new(E::Response).text_child(E::Status, status.to_string());
        let mut c = Element::new(E::Collection).text_child(E::CollectionId, collection_id.clone());
        if let Some(n) = estimate {
            c.push(Element::with_text(E::Estimate, n.to_string()));
        }
        r.push(c);
        root.push(r);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn captured_requests_of_both_generations() {
        let base = format!(
            "{}/../shared/fixtures/eas/syncgw-traces/810",
            env!("CARGO_MANIFEST_DIR")
        );
        for f in [
            "09-GetItemEstimate.req.wbxml",
            "10-GetItemEstimate.req.wbxml",
        ] {
            let el = wbxml::decode(
                &std::fs::read(format!("{base}/{f}")).unwrap(),
                &wbxml::Limits::default(),
            )
            .unwrap();
            let cs = parse(&el).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(
                !cs.is_empty() && cs.iter().all(|c| !c.sync_key.is_empty()),
                "{f}"
            );
        }
    }
}
