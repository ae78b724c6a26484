//! Node bindings of idpkit (napi-rs).
