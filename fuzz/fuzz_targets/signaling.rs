//! A signaling WebSocket text frame: TCMP framing, then the RSP message it carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vroom_signaling::{rsp, tcmp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let body = match tcmp::parse(text) {
        Ok(tcmp::Inbound::Msg(body) | tcmp::Inbound::Hello { body: Some(body) }) => body,
        _ => return,
    };
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(body.get())
        && let Some(subscribe) = fields.get("subscribe")
    {
        let _ = rsp::subscribe_rules(subscribe);
    }
    let _ = rsp::parse(body.get());
});
