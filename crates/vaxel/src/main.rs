//! The `vaxel` command.
fn main() {}
