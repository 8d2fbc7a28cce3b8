//! DbtRuntime plugins.

use crate::DbtRuntime;

pub(crate) static PLUGINS: &[&'static dyn DbtRuntime] = &[];
