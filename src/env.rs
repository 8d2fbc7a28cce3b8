//! Every environment variable floe reads, in one place.
//!
//! These are floe's only impure inputs besides the files of the workspace.
//! `SOURCE_DATE_EPOCH` is the one that may change an output (the compile time
//! written into compiled artifacts) and is therefore part of every key that
//! depends on it; none of the others may change an output.
#![allow(clippy::disallowed_methods)]

/// A variable floe reads, with what it does (also printed by `floe --help`).
pub struct Var {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const SOURCE_DATE_EPOCH: Var = Var {
    name: "SOURCE_DATE_EPOCH",
    doc: "Seconds since the Unix epoch written as the compile time of outputs (default: 0)",
};
pub const FLOE_STORE: Var =
    Var { name: "FLOE_STORE", doc: "Store directory shared between workspaces (default: <workspace>/.floe)" };
pub const FLOE_REMOTE_CACHE: Var = Var {
    name: "FLOE_REMOTE_CACHE",
    doc: "Remote cache derivations are taken from before they are built (like --remote-cache)",
};
pub const COSIGN_PASSWORD: Var = Var {
    name: "COSIGN_PASSWORD",
    doc: "Password of a cosign-encrypted key given to `floe publish --sign` (default: none)",
};
pub const NO_COLOR: Var = Var { name: "NO_COLOR", doc: "Disables colour in human output when set to anything" };
pub const TERM: Var = Var { name: "TERM", doc: "`dumb` disables colour" };

pub const ALL: &[Var] = &[SOURCE_DATE_EPOCH, FLOE_STORE, FLOE_REMOTE_CACHE, COSIGN_PASSWORD, NO_COLOR, TERM];

/// Internal, for floe's own tests (not listed by `--help`): makes floe panic
/// on purpose, to test how a bug in floe is reported (exit code 70, one line,
/// no backtrace).
pub const FLOE_INTERNAL_PANIC: Var = Var {
    name: "FLOE_INTERNAL_PANIC",
    doc: "Test hook: `main` or `worker` panics on that thread before the command runs",
};

pub fn get(var: &Var) -> Option<String> {
    std::env::var(var.name).ok().filter(|v| !v.is_empty())
}

/// The `--help` epilogue listing the variables.
pub fn help() -> String {
    let mut out = String::from("Environment:\n");
    for v in ALL {
        out.push_str(&format!("  {:<18} {}\n", v.name, v.doc));
    }
    out
}
