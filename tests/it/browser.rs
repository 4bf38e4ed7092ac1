//! twilio-video.js in headless Chromium against the real server: see tests/browser/.
