#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nkp_escrow::fuzzing::age_header(data));
