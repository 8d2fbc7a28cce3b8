//! What the model tests share.
#![allow(clippy::disallowed_methods)] // tests read the conformance files and the CI flag

#[path = "../../../tests/common/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};

/// The conformance folder beside the checkout; `None` after recording the
/// test as skipped (a failure under CI).
pub fn conformance() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if dir.is_dir() {
        return Some(dir);
    }
    skip::skip(&format!("no conformance data at {}", dir.display()));
    None
}
