//! cargo-fuzz target: `okrflow::fuzzing::job_file` on arbitrary UTF-8 (see fuzz/smoke.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        okrflow::fuzzing::job_file(text);
    }
});
