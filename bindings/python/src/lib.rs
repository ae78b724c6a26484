//! Python bindings of idpkit (PyO3).
