//! The build graph: a salsa database over the workspace's files, labels,
//! derivations and their keys, the content-addressed store, and the build that
//! ties them together.
//!
//! **Architecture Invariant:** the engine never touches the file system, the
//! environment, the clock or the network. Files come and go through the
//! [`System`] the driver hands it; settings (such as `SOURCE_DATE_EPOCH`) arrive
//! as values. clippy's `disallowed-methods` makes this a compile-time property.
//!
//! **API Boundary:** [`build::Session`] is what drivers use: open a workspace,
//! then build, compute keys or explain a rebuild.

pub mod build;
pub mod db;
pub mod discover;
pub mod drv;
pub mod external;
pub mod hash;
pub mod label;
pub mod layout;
pub mod lock;
pub mod mesh;
pub mod par;
pub mod path;
pub mod remote;
pub mod rule;
pub mod store;
pub mod system;
pub mod why;

pub use build::{Options, Report, Session, Status};
pub use db::Settings;
pub use hash::Hash;
pub use path::WsPath;
pub use system::{DirEntry, DirStat, FileKind, FileStat, IoError, MemorySystem, Ran, System};
