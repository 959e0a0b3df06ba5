//! Shared helpers for the benchmarks (placeholder).
