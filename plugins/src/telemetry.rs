//! TelemetryBackend plugins.

use crate::TelemetryBackend;

pub(crate) static PLUGINS: &[&'static dyn TelemetryBackend] = &[];
