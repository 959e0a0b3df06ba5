//! Typed object pools (placeholder; the pools helper fills this module).
