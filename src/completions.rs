//! `floe completions SHELL` and `floe man`: a shell's completion script and
//! the manual page, both generated from the argument definitions in `cli.rs`,
//! so that neither can describe a command or flag floe does not have.
//!
//! The manual page is printed rather than kept as a file: it is then always
//! the one of the floe that prints it (`floe man > floe.1` when packaging).

use clap::CommandFactory;

use crate::cli::{Cli, Failure};
use crate::output::out;

/// The binary's name, as the scripts complete it.
const BIN: &str = "floe";

pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    Ok(out(&String::from_utf8_lossy(&script))?)
}

/// floe(1), or the page of the command `path` names (`["platform", "compile"]`
/// is floe-platform-compile(1)), each page listing the pages of its commands.
pub fn man(path: &[String]) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    // Building gives each command its page's name (`floe-build`).
    cmd.build();
    for name in path {
        cmd = cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("no command `{}`; `floe --help` lists them", path.join(" "))))?;
    }
    let mut page = Vec::new();
    // Rendering into memory cannot fail; a failed write to stdout is `out`'s.
    let man = clap_mangen::Man::new(cmd).source(format!("floe {}", crate::cli::VERSION));
    man.render(&mut page).expect("rendering into memory cannot fail");
    Ok(out(&String::from_utf8_lossy(&page))?)
}
