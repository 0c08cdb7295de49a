//! The EAS request line (src/http/query.rs): the input as a query string, and the input
//! base64-encoded as MS-ASHTTP 2.2.1.1.1.1's binary form (`airsync::fuzzing`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airsync::fuzzing::request_line(data));
