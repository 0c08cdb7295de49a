//! Decodes arbitrary bytes with the default limits. Whatever decodes must re-encode and
//! decode again to the same tree (the encoder is the decoder's inverse on trees), and
//! the debug XML renderer must not panic on it.
#![no_main]

// The codec module itself, mounted at `crate::wbxml` as in the airsync crate (its code
// refers to `crate::wbxml::Tag`), without building the rest of the server.
#[path = "../../src/wbxml/mod.rs"]
#[allow(dead_code, unused_imports)]
mod wbxml;

use libfuzzer_sys::fuzz_target;
use wbxml::{Limits, decode, encode};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(tree) = decode(data, &limits) {
        // The debug renderer must cope with any decoded tree too.
        let _ = wbxml::to_xml(&tree);
        let bytes = encode(&tree);
        let again = decode(&bytes, &limits).expect("re-encoded tree must decode");
        assert_eq!(tree, again, "tree changed through encode/decode");
        // Re-encoding is stable from here on.
        assert_eq!(encode(&again), bytes);
    }
});
