//! Ingestion plugins.

use crate::Ingestion;

pub(crate) static PLUGINS: &[&'static dyn Ingestion] = &[];
