//! Reading a product's dbt project: what its SQL depends on, what its
//! property files declare, its seeds and snapshots (which `ref()` may name
//! too), its vars and the packages it declares. The engine hands each file
//! under the project's configured paths ([`Paths`]) to [`Project`];
//! `crate::enforce` checks it.
//!
//! Pure functions over text and parsed YAML. Jinja is not evaluated: floe finds
//! `ref()` and `source()` calls with literal arguments inside `{{ }}` and
//! `{% %}` blocks (anywhere in the file, since Jinja renders before SQL is
//! parsed, so a call in a SQL comment still counts), and skips `{# #}`
//! comments. `ref(var('x'))` is read through the project's vars; a call whose
//! arguments are not literals is dynamic, and not checked.

mod project;
mod properties;
mod sql;

pub use project::{Model, PACKAGE_FILES, Packages, Paths, Project, Role, Settings};
pub use properties::{ColumnDoc, ModelDoc, Properties, SourceTable, TestDoc, properties};
pub use sql::{Dependency, scan_sql};
