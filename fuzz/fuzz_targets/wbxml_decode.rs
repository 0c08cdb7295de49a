//! Decodes arbitrary bytes with the default limits. Whatever decodes must re-encode and
//! decode again to the same tree (the encoder is the decoder's inverse on trees), and
//! the debug XML renderer must not panic on it (`wbxml::fuzz::decode_roundtrip`, which
//! tests/fuzz_regressions.rs also runs on the committed corpus).
#![no_main]

// The codec module itself, mounted at `crate::wbxml` as in the airsync crate (its code
// refers to `crate::wbxml::Tag`), without building the rest of the server.
#[path = "../../src/wbxml/mod.rs"]
#[allow(dead_code, unused_imports)]
mod wbxml;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wbxml::fuzz::decode_roundtrip(data));
