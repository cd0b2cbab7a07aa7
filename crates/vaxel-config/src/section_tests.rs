//! What the tests of the daemon's own sections (`[records]`, `[cluster]`) share: a small
//! valid site, and that site with one such section appended.

use crate::{Diagnostic, Validated, load_site};

/// A small valid site without the daemon's sections.
pub(crate) const SITE: &str = r#"
[site]
name = "T"
timezone = "Europe/Stockholm"

[[entries]]
id = "e"
number = "+4610100"
route = "group:g"

[[groups]]
id = "g"
name = "G"
requires = { g = 1 }

[[agents]]
id = "a"
name = "A"
extension = "1001"
skills = { g = 1 }
"#;

/// [`SITE`] with a `[section]` table holding `body`, loaded and validated.
pub(crate) fn with_section(section: &str, body: &str) -> Result<Validated, Vec<Diagnostic>> {
    load_site(&format!("{SITE}\n[{section}]\n{body}\n"))
}

/// The diagnostics of [`with_section`], which must refuse the file, as `vaxel config
/// check` prints them.
pub(crate) fn refused(section: &str, body: &str) -> Vec<String> {
    match with_section(section, body) {
        Ok(v) => panic!("[{section}] accepted: {body}; warnings: {:?}", v.warnings),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}
