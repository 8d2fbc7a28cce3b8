//! NetworkSecurity plugins.

use crate::NetworkSecurity;

pub(crate) static PLUGINS: &[&'static dyn NetworkSecurity] = &[];
