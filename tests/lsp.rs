//! `floe lsp` as an editor drives it: a real client (pytest-lsp, from
//! PyPI) speaks the Language Server Protocol to the binary over stdio, on a
//! copy of testdata/mesh. The cases are in `tests/lsp/test_lsp.py`:
//! diagnostics of unsaved buffers equal to `floe check`'s, an unsaved port
//! edit reaching its consumers, quick fixes, hover with provenance, go to
//! definition, completion, and files changed outside the editor.
#![allow(clippy::disallowed_methods)] // runs the client, reads its environment

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{repo, skip};

#[test]
fn a_real_client_drives_the_language_server() {
    let Some(python) = std::env::var_os("FLOE_TEST_PYTHON").map(PathBuf::from) else {
        skip("FLOE_TEST_PYTHON is not set (.ci/test points it at a venv with pytest-lsp)");
        return;
    };
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        ])
        .arg(repo().join("tests/lsp/test_lsp.py"))
        .env("FLOE_BIN", env!("CARGO_BIN_EXE_floe"))
        .env("FLOE_MESH", repo().join("testdata/mesh"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{stderr}");
    // Every case ran, none was skipped, and the client saw the server keep
    // to the protocol (pytest-lsp warns of what breaks it, e.g. Markdown to a
    // client that did not ask for it).
    assert!(stdout.contains("8 passed in"), "{stdout}");
}
