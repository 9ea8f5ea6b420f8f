#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nkp_escrow::fuzzing::text_inputs(data));
