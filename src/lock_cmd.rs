//! `floe lock [LABELS]`: pins the selected products' output ports in
//! `floe.lock`, the baseline their next change is judged against (a
//! breaking change then needs a new major version, an additive one a new
//! minor one). The platform the lock pins, and the other products' ports,
//! stay as they are.

use floe_engine::System;
use floe_engine::lock::{LOCK, Lock};

use crate::cli::{Cli, Failure};
use crate::output::{Format, Printer, Verbosity, err, out, print_json};
use crate::system::OsSystem;

pub fn lock(cli: &Cli, printer: &Printer, labels: &[String]) -> Result<(), Failure> {
    let mut session = crate::cli::open(cli, labels)?;
    let root = session.options.workspace.clone();
    let floe_engine::build::ContractPins { products, pins, diagnostics } = session.contract_pins();
    printer.diagnostics(&root, &diagnostics)?;
    if diagnostics.iter().any(|d| d.is_error()) {
        err("nothing pinned: a product is pinned as it builds\n")?;
        return Err(Failure::User);
    }
    let path = root.join(LOCK);
    let mut lock = match OsSystem.read(&path)? {
        Some(bytes) => Lock::decode(&bytes).map_err(|why| {
            Failure::Usage(format!("{LOCK} cannot be read: {why}; `floe pull --update REFERENCE` writes it again"))
        })?,
        None => Lock::empty(),
    };
    // The selected products' pins are replaced, a removed port's with them.
    lock.contracts.retain(|key, _| key.rsplit_once(':').is_none_or(|(p, _)| !products.iter().any(|s| s == p)));
    lock.contracts.extend(pins.clone());
    OsSystem.write_all_atomic(&root, &[(LOCK, &lock.encode())])?;
    match cli.format {
        Format::Human => {
            for (port, pin) in &pins {
                out(&format!("{port} {}\n", pin.version))?;
            }
            if printer.verbosity != Verbosity::Quiet {
                err(&format!("pinned {} port{} in {LOCK}\n", pins.len(), if pins.len() == 1 { "" } else { "s" }))?;
            }
        }
        _ => print_json(&serde_json::json!({
            "pinned": pins.iter().map(|(port, pin)| serde_json::json!({"port": port, "version": pin.version})).collect::<Vec<_>>(),
        }))?,
    }
    Ok(())
}
