//! Entry points for the fuzz targets in `fuzz/` (not an API: the parsers behind them are private).
//! Each takes arbitrary bytes the way a request would bring them and must answer `Ok` or a Twilio
//! error, never panic.

use crate::form::Params;

/// A form body or query string through every reader a request uses: room create parameters,
/// paging (`PageSize`, `Page`, `PageToken`), subscribe and recording rules, and the error body
/// each failure would render.
pub fn form(bytes: &[u8]) {
    let p = Params::parse(bytes);
    for result in [
        crate::rooms::create_request(&p).map(|_| ()),
        crate::paging::paging(&p).map(|_| ()),
    ] {
        if let Err(e) = result {
            let _ = (e.status(), e.twilio_code(), e.message());
        }
    }
    for (name, purpose) in [
        ("Rules", crate::rules::Purpose::Subscribe),
        ("RecordingRules", crate::rules::Purpose::Recording),
    ] {
        if let Some(text) = p.get(name) {
            let _ = crate::rules::parse(text, purpose);
        }
    }
}
