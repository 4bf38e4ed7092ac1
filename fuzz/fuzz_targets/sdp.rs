//! A client's SDP through the media server's own SDP reading and rewriting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vroom_sfu::sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sections = sdp::sections(text);
    let mids: Vec<String> = (0..sections.len().min(4)).map(|i| i.to_string()).collect();
    let _ = sdp::narrow_client_directions(text, &mids);
    let _ = sdp::crlf(text);
});
