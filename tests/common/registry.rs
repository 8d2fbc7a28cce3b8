//! A real OCI registry for tests: Debian's `docker-registry` (distribution
//! v2) on 127.0.0.1 at a free port, with its access log kept.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A program on PATH, or `None` after recording the test as skipped.
pub fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        super::skip(&format!("no `{name}` on PATH (.ci/test installs it)"));
    }
    found
}

/// A registry on 127.0.0.1, killed when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests the registry's log shows that write (`POST`, `PATCH`, `PUT`).
pub fn writes(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().filter(|l| ["\"POST ", "\"PATCH ", "\"PUT "].iter().any(|m| l.contains(m))).count()
}

pub fn registry() -> Option<Registry> {
    let exe = program("docker-registry")?;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    // Its access log, on stdout, says what was written.
    let log = std::fs::File::create(dir.path().join("access.log")).unwrap();
    let child =
        Command::new(exe).arg("serve").arg(&config).stdout(log).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Owned at once, so it is killed whatever happens next.
    let registry = Registry { child, port, dir };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(registry);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("the registry did not start on port {port}");
}
