//! floe's own telemetry: the engine's `tracing` spans, a span for every
//! phase (discover, hash, evaluate, enforce, write, flush) and for every
//! derivation built (its label, key and status; a reused one is an event
//! with the same fields), all below one `floe` span for the command, and
//! never a value or a secret. They go where the user asks:
//!
//! - `--profile FILE`: a Chrome trace-event file (as Bazel's `--profile`
//!   writes), which Perfetto and `chrome://tracing` open;
//! - `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`): exported over
//!   OTLP/HTTP in protobuf, batched, sent before floe exits. An export that
//!   fails is a warning: telemetry never fails a build.
//!
//! Without either no subscriber is installed, and a span costs the engine
//! one check of the global maximum level.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::cli::Failure;
use crate::env;

/// Where the spans of this run go; [`Telemetry::finish`] sends the last.
#[derive(Default)]
pub struct Telemetry {
    profile: Option<Profile>,
    otlp: Option<Otlp>,
}

/// A profile being written.
struct Profile {
    guard: tracing_chrome::FlushGuard,
    failed: Arc<Mutex<Option<std::io::Error>>>,
    path: PathBuf,
}

/// Spans being exported.
struct Otlp {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    /// The endpoint, credentials masked, for a warning.
    shown: String,
}

/// The writer of the trace: it never fails (the layer's writing thread
/// would panic), but keeps the first error for [`Telemetry::finish`].
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

/// floe's spans only: salsa's own are many and say nothing of the build.
fn floe_only() -> Targets {
    Targets::new().with_target("floe", tracing::Level::TRACE).with_target("floe_engine", tracing::Level::TRACE)
}

/// The OTLP/HTTP traces endpoint the environment names, if export is on.
fn endpoint() -> Option<String> {
    if env::get(&env::OTEL_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    if let Some(e) = env::get(&env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
        return Some(e);
    }
    let base = env::get(&env::OTEL_EXPORTER_OTLP_ENDPOINT)?;
    Some(format!("{}/v1/traces", base.trim_end_matches('/')))
}

fn otlp(endpoint: &str) -> Result<Otlp, String> {
    let protocol = env::get(&env::OTEL_EXPORTER_OTLP_PROTOCOL).unwrap_or_else(|| "http/protobuf".to_owned());
    if protocol != "http/protobuf" {
        return Err(format!(
            "{} is `{protocol}`; floe exports over `http/protobuf` only",
            env::OTEL_EXPORTER_OTLP_PROTOCOL.name
        ));
    }
    // The HTTP client speaks TLS through rustls, with floe's one provider.
    crate::publish::registry::install_tls_provider();
    // The exporter reads `OTEL_EXPORTER_OTLP_HEADERS` (and the traces' own)
    // itself, percent-decoding them as the specification asks.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| e.to_string())?;
    let service = env::get(&env::OTEL_SERVICE_NAME).unwrap_or_else(|| "floe".to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .with_attribute(opentelemetry::KeyValue::new("service.version", crate::cli::VERSION))
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    Ok(Otlp { provider, shown: floe_schemas::secret::mask_line(endpoint) })
}

/// Starts sending floe's spans where the user asked: `profile`, a path, and
/// the OTLP endpoint of the environment.
pub fn start(profile: Option<&Path>) -> Result<Telemetry, Failure> {
    let mut telemetry = Telemetry::default();
    let chrome = match profile {
        Some(path) => {
            let file = crate::system::create_file(path)?;
            let failed = Arc::new(Mutex::new(None));
            let writer = Checked { out: std::io::BufWriter::new(file), failed: failed.clone() };
            let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                .writer(writer)
                .include_args(true)
                .include_locations(false)
                .build();
            telemetry.profile = Some(Profile { guard, failed, path: path.to_owned() });
            Some(layer.with_filter(floe_only()))
        }
        None => None,
    };
    if let Some(endpoint) = endpoint() {
        match otlp(&endpoint) {
            Ok(o) => telemetry.otlp = Some(o),
            Err(why) => crate::output::err(&format!(
                "warning: floe's spans are not exported to {}: {why}\n",
                floe_schemas::secret::mask_line(&endpoint)
            ))?,
        }
    }
    let otel = telemetry
        .otlp
        .as_ref()
        .map(|o| tracing_opentelemetry::layer().with_tracer(o.provider.tracer("floe")).with_filter(floe_only()));
    if chrome.is_none() && otel.is_none() {
        return Ok(telemetry);
    }
    let subscriber = tracing_subscriber::registry().with(chrome).with(otel);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| Failure::Usage(format!("cannot record floe's spans: {e}")))?;
    Ok(telemetry)
}

impl Telemetry {
    /// Writes out what the profile holds so far and sends the spans not yet
    /// exported: a watch does so after each build, since it ends by being
    /// interrupted. (An interrupted profile then lacks only the closing `]`
    /// of its array, which the trace-event format allows.) A failure here is
    /// said by [`Telemetry::finish`], or not at all if the watch is
    /// interrupted.
    pub fn flush(&self) {
        if let Some(p) = &self.profile {
            p.guard.flush();
        }
        if let Some(o) = &self.otlp {
            let _ = o.provider.force_flush();
        }
    }

    /// Ends the profile and sends the spans not yet exported. A profile that
    /// could not be written is an infrastructure failure; spans that could
    /// not be exported, a warning.
    pub fn finish(self) -> Result<(), Failure> {
        if let Some(o) = self.otlp {
            let sent = o.provider.force_flush().and_then(|()| o.provider.shutdown());
            if let Err(e) = sent {
                crate::output::err(&format!(
                    "warning: floe's spans could not be exported to {}: {}\n",
                    o.shown,
                    floe_schemas::secret::mask_line(&e.to_string())
                ))?;
            }
        }
        let Some(p) = self.profile else { return Ok(()) };
        drop(p.guard);
        match p.failed.lock().unwrap_or_else(|e| e.into_inner()).take() {
            None => Ok(()),
            Some(e) => Err(Failure::Infra(floe_engine::IoError { op: "write", path: p.path, message: e.to_string() })),
        }
    }
}
