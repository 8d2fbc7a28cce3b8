//! The `floe` command line: the driver around the engine.
//!
//! The driver owns everything impure: it finds the workspace, reads the
//! environment once (see `env.rs`), hands the engine the real file system, times
//! the build, and renders results. Data goes to stdout, everything else to
//! stderr, all of it through `output::write`: a closed pipe ends the output
//! quietly and leaves the exit code as it was. Exit codes: 0 success, 1 the
//! input or a policy failed, 2 usage, 3 infrastructure (I/O, store, a failed
//! write to stdout or stderr), 70 a bug in floe (a panic, on any thread).
// Every write goes through `output::write`, which reports failures; the
// printing macros panic on them.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod compat;
mod completions;
mod deploy;
mod doctor;
mod env;
mod graph;
mod init;
mod lock_cmd;
mod lsp;
mod output;
mod publish;
mod pull;
mod remote;
mod schema_files;
mod store_cmd;
mod system;
mod telemetry;
mod watch;

use std::process::ExitCode;

/// jemalloc, configured to hand freed pages back at once
/// (`.cargo/config.toml`): a build evaluates in batches, each on threads
/// of its own, and glibc's allocator kept what one batch's threads freed
/// beside what the next allocated (docs/benchmarks.md, "jemalloc").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The exit code of a bug in floe (`EX_SOFTWARE` of sysexits.h).
const BUG: i32 = 70;

/// How much of a panic's message is shown, in characters.
const MESSAGE_LIMIT: usize = 200;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(report_bug));
    if let Some(place) = env::get(&env::FLOE_INTERNAL_PANIC) {
        panic_for_test(&place);
    }
    cli::main()
}

/// A panic is a bug in floe, never in the workspace: said in one line with a
/// request to report it (no backtrace), and the process ends with [`BUG`]
/// from whichever thread panicked, before another thread can write more.
fn report_bug(info: &std::panic::PanicHookInfo<'_>) {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    // A message can quote the input it failed on: its first line, shortened,
    // with credentials masked, is enough to find the bug.
    let mut what = floe_schemas::secret::mask_line(what.lines().next().unwrap_or(""));
    if let Some((cut, _)) = what.char_indices().nth(MESSAGE_LIMIT) {
        what.truncate(cut);
        what.push('…');
    }
    let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let _ = output::err(&format!(
        "error: floe failed unexpectedly: {}{at}\n\
         hint: this is a bug in floe, not in the workspace; please report it with the command and the files that trigger it\n",
        floe_schemas::diag::escape(&what)
    ));
    std::process::exit(BUG);
}

/// `FLOE_INTERNAL_PANIC`: panics on the main thread (`main`) or on a worker
/// thread (`worker`), so that the tests can see how floe reports its own bugs.
fn panic_for_test(place: &str) {
    let message = format!("FLOE_INTERNAL_PANIC={place}");
    if place == "worker" {
        std::thread::scope(|s| {
            s.spawn(|| panic!("{message}"));
        });
    }
    panic!("{message}");
}
