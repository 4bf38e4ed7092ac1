//! REST API behaviour over real HTTP.
