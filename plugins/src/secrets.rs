//! Secrets plugins.

use crate::Secrets;

pub(crate) static PLUGINS: &[&'static dyn Secrets] = &[];
