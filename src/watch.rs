//! `floe build --watch`: builds, then builds again after every save, until
//! interrupted, printing what `floe build` prints each time.
//!
//! The session stays open between builds with its database warm
//! (`Session::refresh`): a save of files the workspace has is taken in as
//! new revisions of those files, a file that appeared or went as a new walk
//! and layout in which every package keeps its identity, and the next build
//! evaluates only what they reach. A change a warm session cannot take (a
//! new day, `floe.lock`, a build that failed on I/O) opens a new session, which
//! reads the store the last one saved. Either way the outputs are what a
//! clean build of the tree writes (tested against one after each save).
//!
//! Changes come from the operating system (`notify`: inotify on Linux), for
//! the whole workspace but what floe writes itself (`floe-out/`, the store)
//! and hidden directories, which no build reads. A burst of them (an editor
//! saving through a temporary file, a `git checkout`) is one rebuild: the
//! next build starts once no change came for [`DEBOUNCE`]. A change during a
//! build is seen by the build after it.
//!
//! Changes below `floe-out/` start no build, but are told to the session
//! (`Session::outputs_changed`): it takes the packages its last build reused
//! as they are, without statting their outputs again, unless an input they
//! read or an output of theirs was reported changed since. An output deleted
//! by hand is restored by the next build. Events lost (the kernel's queue
//! overflowed) open a new session.
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use notify::Watcher as _;

use floe_engine::{Session, WsPath};

use crate::cli::{Cli, Failure};
use crate::output::{Printer, err};

/// How long the workspace must be quiet before a rebuild starts.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// What floe writes itself, never a reason to build again.
struct Ignored {
    root: PathBuf,
    /// The output directory and the store.
    own: Vec<PathBuf>,
    /// The output directory.
    out: PathBuf,
}

impl Ignored {
    /// Whether a change at `path` can change a build.
    fn matters(&self, path: &Path) -> bool {
        if self.own.iter().any(|o| path.starts_with(o)) {
            return false;
        }
        let Ok(rel) = path.strip_prefix(&self.root) else { return false };
        // Hidden entries are not walked (`.git`, editors' swap files), but
        // `.floeignore` decides what is.
        rel.components().all(|c| match c {
            Component::Normal(name) => {
                let name = name.to_string_lossy();
                !name.starts_with('.') || name == ".floeignore"
            }
            _ => true,
        })
    }

    /// The workspace path of `path`, if it has one.
    fn relative(&self, path: &Path) -> Option<WsPath> {
        WsPath::new(path.strip_prefix(&self.root).ok()?.to_str()?)
    }

    /// The path below the output directory of a path there.
    fn output(&self, path: &Path) -> Option<WsPath> {
        let rel = path.strip_prefix(&self.out).ok()?;
        WsPath::new(rel.to_str()?).or_else(|| rel.as_os_str().is_empty().then(WsPath::default))
    }

    /// Whether an event may have changed what is at its paths (reading does not).
    fn changes(&self, event: &notify::Event) -> bool {
        use notify::EventKind;
        use notify::event::{AccessKind, AccessMode};
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        }
    }

    fn event_matters(&self, event: &notify::Event) -> bool {
        self.changes(event) && event.paths.iter().any(|p| self.matters(p))
    }
}

fn infra(root: &Path, e: notify::Error) -> Failure {
    Failure::Infra(floe_engine::IoError { op: "watch", path: root.to_owned(), message: e.to_string() })
}

/// Builds `labels`, then again after every change that matters, until the
/// process is interrupted. A build that fails (the workspace's errors, or an
/// I/O failure) is reported and the watch goes on.
pub fn watch(
    cli: &Cli,
    printer: &Printer,
    labels: &[String],
    check_outputs: bool,
    telemetry: &crate::telemetry::Telemetry,
) -> Result<(), Failure> {
    let (root, _) = crate::cli::locate(cli)?;
    let own = vec![root.join(floe_engine::discover::OUT_DIR), crate::cli::store_dir(cli, &root)];
    // The store may be given by a relative or linked path: compared as the
    // watcher reports paths, below the real root.
    let own: Vec<PathBuf> = own.into_iter().map(|p| crate::system::canonicalize(&p).unwrap_or(p)).collect();
    let root = crate::system::canonicalize(&root)?;
    let ignored = Ignored { root: root.clone(), out: own[0].clone(), own };
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .map_err(|e| infra(&root, e))?;
    // Watching starts before the first build, so that nothing saved during
    // it is missed.
    watcher.watch(&root, notify::RecursiveMode::Recursive).map_err(|e| infra(&root, e))?;
    let mut session: Option<Session> = None;
    // What changed since the last build: `None` when unknown (a new session then).
    let mut changed: Option<Vec<WsPath>> = None;
    loop {
        #[allow(clippy::disallowed_methods)] // the driver times the build for its summary
        let started = std::time::Instant::now();
        let warm = match (session.as_mut(), &changed) {
            (Some(s), Some(paths)) => s.refresh(paths, &crate::cli::settings()?)?,
            _ => false,
        };
        if !warm {
            // The old one goes first: two need twice the memory.
            drop(session.take());
            let mut s = crate::cli::open(cli, labels)?;
            s.set_check_outputs(check_outputs);
            s.set_warm(true);
            // Every change below the output directory is reported to it.
            s.watch_outputs(true);
            session = Some(s);
        }
        let s = session.as_mut().expect("opened above");
        let built = crate::cli::build_in(s, printer, started, crate::output::Listing::NotReused);
        // Saved once the build is reported: it is what the next session starts from.
        let saved = s.save().map_err(Failure::from);
        // A watch ends by being interrupted: each build's spans are sent now.
        telemetry.flush();
        match saved.and(built) {
            Ok(()) | Err(Failure::User) => {}
            Err(Failure::Infra(e)) => {
                session = None;
                err(&format!("error: {}\n", floe_schemas::diag::escape(&e.to_string())))?;
            }
            Err(other) => return Err(other),
        }
        // The next change that matters, then quiet. Changes to outputs start
        // no build, but the next one looks at what they touched.
        let mut paths = Some(Vec::new());
        let mut outputs = Vec::new();
        let mut note = |event: notify::Result<notify::Event>, paths: &mut Option<Vec<WsPath>>| match event {
            Ok(event) => {
                if ignored.changes(&event) {
                    outputs.extend(event.paths.iter().filter_map(|p| ignored.output(p)));
                }
                if !ignored.event_matters(&event) {
                    return false;
                }
                for p in event.paths.iter().filter(|p| ignored.matters(p)) {
                    match (ignored.relative(p), paths.as_mut()) {
                        (Some(rel), Some(list)) => list.push(rel),
                        _ => *paths = None,
                    }
                }
                true
            }
            // Events were lost (the kernel's queue overflowed): start over.
            Err(_) => {
                *paths = None;
                true
            }
        };
        loop {
            match rx.recv() {
                Ok(event) => {
                    if note(event, &mut paths) {
                        break;
                    }
                }
                Err(_) => return Ok(()),
            }
        }
        // Only a change that matters starts the quiet over: whatever reads
        // the workspace or the outputs (a browser on enforcement.html, a
        // sync) sends events too, and would hold the build off for as long
        // as it reads.
        #[allow(clippy::disallowed_methods)] // the driver keeps the debounce's time
        let now = std::time::Instant::now;
        let mut quiet_from = now();
        loop {
            match rx.recv_timeout(DEBOUNCE.saturating_sub(quiet_from.elapsed())) {
                Ok(event) => {
                    if note(event, &mut paths) {
                        quiet_from = now();
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        changed = paths.map(|mut p| {
            p.sort();
            p.dedup();
            p
        });
        if let Some(s) = session.as_mut() {
            s.outputs_changed(&outputs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_floe_writes_and_hidden_entries_do_not_matter() {
        let ignored = Ignored {
            root: "/w".into(),
            own: vec!["/w/floe-out".into(), "/w/.floe".into()],
            out: "/w/floe-out".into(),
        };
        assert_eq!(
            ignored.output(Path::new("/w/floe-out/sales/orders/k8s.yaml")),
            WsPath::new("sales/orders/k8s.yaml")
        );
        assert_eq!(ignored.output(Path::new("/w/floe-out")), Some(WsPath::default()));
        assert_eq!(ignored.output(Path::new("/w/sales/orders/floe.yaml")), None);
        assert!(ignored.matters(Path::new("/w/sales/orders/floe.yaml")));
        assert!(ignored.matters(Path::new("/w/.floeignore")));
        assert!(ignored.matters(Path::new("/w/floe.lock")));
        assert!(!ignored.matters(Path::new("/w/floe-out/sales/orders/profiles.yml")));
        assert!(!ignored.matters(Path::new("/w/.floe/state")));
        assert!(!ignored.matters(Path::new("/w/.git/index")));
        assert!(!ignored.matters(Path::new("/w/sales/orders/.floe.yaml.swp")));
        assert!(!ignored.matters(Path::new("/elsewhere/floe.yaml")));
    }
}
