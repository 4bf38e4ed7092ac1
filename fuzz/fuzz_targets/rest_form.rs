//! A REST form body or query string, paging tokens included, through every parameter reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vroom_api::fuzzing::form(data);
});
