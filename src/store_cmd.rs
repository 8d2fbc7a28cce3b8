//! `floe store gc` and `floe store verify`, on the store the workspace builds
//! into (`--store`, `$FLOE_STORE`, else `<workspace>/.floe`).

use std::path::PathBuf;
use std::sync::Arc;

use floe_engine::store::Store;

use crate::cli::{Cli, Failure, StoreCommand};
use crate::output::{Format, Printer, Verbosity, err, print_json};
use crate::system::OsSystem;

pub fn run(cli: &Cli, printer: &Printer, command: &StoreCommand) -> Result<(), Failure> {
    // A store shared by workspaces is named outright; no workspace is needed then.
    let named = cli.store.clone().or_else(|| crate::env::get(&crate::env::FLOE_STORE).map(PathBuf::from));
    let dir = match named {
        Some(dir) => crate::cli::base_dir(cli)?.join(dir),
        None => crate::cli::store_dir(cli, &crate::cli::locate(cli)?.0),
    };
    if !dir.join("index").exists() && !dir.join("packs").exists() {
        return Err(Failure::Usage(format!("`{}` holds no floe store", dir.display())));
    }
    // `gc` and `verify` write no outputs: nothing of a workspace is cleaned up after.
    let store = Store::new(Arc::new(OsSystem), dir.clone(), None, dir.join("floe-out"));
    let human = printer.format == Format::Human && printer.verbosity != Verbosity::Quiet;
    match command {
        StoreCommand::Gc { keep_builds } => {
            let r = store.gc(*keep_builds)?;
            if printer.format != Format::Human {
                print_json(&r)?;
            } else if human {
                err(&format!(
                    "kept {} derivation{} and {} object{} in {} pack{} ({}); removed {} derivation{} and {} object{} ({} freed){}\n",
                    r.actions_kept,
                    plural(r.actions_kept),
                    r.objects_kept,
                    plural(r.objects_kept),
                    r.packs_after,
                    plural(r.packs_after),
                    bytes(r.bytes_after),
                    r.actions_removed,
                    plural(r.actions_removed),
                    r.objects_removed,
                    plural(r.objects_removed),
                    bytes(r.bytes_before.saturating_sub(r.bytes_after)),
                    match r.damaged {
                        0 => String::new(),
                        n => format!("; dropped {n} damaged entr{}", if n == 1 { "y" } else { "ies" }),
                    },
                ))?;
            }
            Ok(())
        }
        StoreCommand::Verify => {
            let r = store.verify()?;
            if printer.format != Format::Human {
                print_json(&r)?;
            } else {
                for p in &r.problems {
                    err(&format!("damaged: {p}\n"))?;
                }
                if human {
                    err(&format!(
                        "checked {} derivation{}, {} object{} in {} pack{} ({}), {} workspace state{}\n",
                        r.actions,
                        plural(r.actions),
                        r.objects,
                        plural(r.objects),
                        r.packs,
                        plural(r.packs),
                        bytes(r.bytes),
                        r.states,
                        plural(r.states),
                    ))?;
                }
            }
            match r.problems.len() {
                0 => Ok(()),
                n => Err(Failure::Damaged(n)),
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A size for people: `812 B`, `3.4 KiB`, `12.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}
