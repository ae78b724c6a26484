//! The C ABI of idpkit (see include/idpkit.h).
