//! Signaling over real WebSockets with our own client.
