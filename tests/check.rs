//! End-to-end tests of `ward check`.
