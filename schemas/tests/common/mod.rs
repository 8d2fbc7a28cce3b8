//! What the model tests share.
#![allow(clippy::disallowed_methods)] // tests read the conformance files and the CI flag

use std::path::{Path, PathBuf};

/// The conformance folder beside the checkout; `None` (test skipped) only outside CI.
pub fn conformance() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "conformance data missing at {} (required under CI=true)",
        dir.display()
    );
    eprintln!("skipping: no conformance data at {}", dir.display());
    None
}
