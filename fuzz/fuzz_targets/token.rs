//! Access-token verification on arbitrary text: any answer but a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_domain::time::Timestamp;
use vroom_signaling::token::{self, TokenKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = TokenKey {
        account_sid: AccountSid::from_bytes([0xac; 16]),
        api_key_sid: ApiKeySid::from_bytes([0x5c; 16]),
        secret: "fuzz-secret".into(),
    };
    let _ = token::verify(text, &[key], Timestamp::from_secs(1_800_000_000));
});
