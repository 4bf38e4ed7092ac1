//! Twilio helper libraries (Python and Node) against the real server: see tests/sdk/.
