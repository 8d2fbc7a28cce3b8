//! floe's own telemetry: the engine's `tracing` spans, a span for every
//! phase (discover, hash, evaluate, enforce, write, flush) and for every
//! derivation built (its label, key and status; a reused one is an event
//! with the same fields), and never a value or a secret. `--profile FILE`
//! writes them as a Chrome trace-event file (as Bazel's `--profile` does),
//! which Perfetto and `chrome://tracing` open.
//!
//! Without `--profile` no subscriber is installed, and a span costs the
//! engine one check of the global maximum level.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::prelude::*;

use crate::cli::Failure;

/// A profile being written; [`Profile::finish`] ends the file.
pub struct Profile {
    guard: tracing_chrome::FlushGuard,
    failed: Arc<Mutex<Option<std::io::Error>>>,
    path: PathBuf,
}

/// The writer of the trace: it never fails (the layer's writing thread
/// would panic), but keeps the first error for [`Profile::finish`].
#[allow(clippy::disallowed_types)] // the file comes from the system module
struct Checked {
    out: std::io::BufWriter<std::fs::File>,
    failed: Arc<Mutex<Option<std::io::Error>>>,
}

impl Checked {
    fn keep(&self, e: std::io::Error) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert(e);
    }
}

impl Write for Checked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Err(e) = self.out.write_all(buf) {
            self.keep(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Err(e) = self.out.flush() {
            self.keep(e);
        }
        Ok(())
    }
}

/// Starts writing floe's spans to `path`.
#[allow(clippy::disallowed_types)] // the file comes from the system module
pub fn profile(path: &Path) -> Result<Profile, Failure> {
    let file = crate::system::create_file(path)?;
    let failed = Arc::new(Mutex::new(None));
    let writer = Checked { out: std::io::BufWriter::new(file), failed: failed.clone() };
    let (layer, guard) =
        tracing_chrome::ChromeLayerBuilder::new().writer(writer).include_args(true).include_locations(false).build();
    // floe's spans only: salsa's own are many and say nothing of the build.
    let floe =
        Targets::new().with_target("floe", tracing::Level::TRACE).with_target("floe_engine", tracing::Level::TRACE);
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(floe));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| Failure::Usage(format!("cannot record a profile: {e}")))?;
    Ok(Profile { guard, failed, path: path.to_owned() })
}

impl Profile {
    /// Ends the trace file; a write that failed is an infrastructure failure.
    pub fn finish(self) -> Result<(), Failure> {
        drop(self.guard);
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            None => Ok(()),
            Some(e) => {
                Err(Failure::Infra(floe_engine::IoError { op: "write", path: self.path, message: e.to_string() }))
            }
        }
    }
}
