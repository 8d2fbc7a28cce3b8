//! Quality plugins.

use crate::Quality;

pub(crate) static PLUGINS: &[&'static dyn Quality] = &[];
