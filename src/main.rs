//! The `floe` command line: the driver around the engine.
//!
//! The driver owns everything impure: it finds the workspace, reads the
//! environment once (see `env.rs`), hands the engine the real file system, times
//! the build, and renders results. Data goes to stdout, everything else to
//! stderr. Exit codes: 0 success, 1 the input or a policy failed, 2 usage,
//! 3 infrastructure (I/O, store).

mod cli;
mod compat;
mod doctor;
mod env;
mod output;
mod system;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
