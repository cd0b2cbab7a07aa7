//! Växel in simulated time (FORMATS.md).
