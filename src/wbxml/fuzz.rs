//! The property the `wbxml_decode` fuzz target checks, shared with the regression test
//! that replays its corpus (tests/fuzz_regressions.rs): whatever decodes re-encodes and
//! decodes to the same tree, re-encoding is then stable, and the debug renderer copes.
//! Lives inside the codec because the fuzz target mounts only `src/wbxml`.

use super::{Limits, decode, encode, to_xml};

/// Panics when the property does not hold for `data`.
pub fn decode_roundtrip(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(tree) = decode(data, &limits) {
        let _ = to_xml(&tree);
        let bytes = encode(&tree);
        let again = decode(&bytes, &limits).expect("re-encoded tree must decode");
        assert_eq!(tree, again, "tree changed through encode/decode");
        assert_eq!(encode(&again), bytes, "re-encoding is not stable");
    }
}
