//! A fake Kubernetes API server for tests: `tests/kube/fake_apiserver.py`
//! on 127.0.0.1 at a free port, reached through a real kubeconfig, with its
//! request log read back, its objects listed and faults injected; plain
//! HTTP, or HTTPS with a CA made for the test and a bearer token required.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use super::registry::{Tls, program};

/// The bearer token the HTTPS server requires, and every kubeconfig holds.
pub const TOKEN: &str = "floe-kube-token-Hq4-planted-7730";
/// The namespace of the kubeconfig's context.
pub const NAMESPACE: &str = "floe-test";

/// How a server is set up.
#[derive(Default)]
pub struct Setup<'a> {
    /// HTTPS with this certificate, requiring [`TOKEN`]. Plain HTTP checks
    /// no credentials: Kubernetes clients send them only over TLS.
    pub tls: Option<&'a Tls>,
    /// Starts empty: without the `default`, `kube-system` and `kube-public`
    /// namespaces and the ExternalSecret CRD.
    pub bare: bool,
    /// With [`Setup::tls`]: client certificates signed by this CA are
    /// accepted as well as [`TOKEN`].
    pub client_ca: Option<&'a Path>,
    /// With [`Setup::tls`]: [`READ_TOKEN`] is accepted too, for a user that
    /// may only read (its writes are forbidden, 403).
    pub read_token: bool,
}

/// The bearer token of a user that may only read, with [`Setup::read_token`].
pub const READ_TOKEN: &str = "floe-kube-reader-Zt8-planted-4411";

/// A running fake API server, killed when dropped.
pub struct FakeKube {
    child: Option<Child>,
    /// The API's port (HTTPS with [`Setup::tls`]).
    pub port: u16,
    /// A plain-HTTP port serving only the `/_fake/` control endpoints.
    control_port: u16,
    tls: bool,
    pub dir: tempfile::TempDir,
    /// A kubeconfig with the server, a user with [`TOKEN`] and a context in
    /// [`NAMESPACE`].
    pub kubeconfig: PathBuf,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What an injected fault does to the requests it matches.
pub enum Fault {
    /// Answers with this status (a `Status` object), doing nothing.
    Status(u16),
    /// Answers 429 Too Many Requests with a `Retry-After` of this many seconds.
    TooManyRequests(u32),
    /// Waits this long, then closes the connection without an answer.
    Hang(Duration),
    /// Waits this long, then serves the request as usual.
    Slow(Duration),
}

/// The server script.
pub fn script() -> PathBuf {
    super::repo().join("tests/kube/fake_apiserver.py")
}

/// A plain-HTTP server; `None` (recorded as skipped) without `python3`.
pub fn fake_kube() -> Option<FakeKube> {
    fake_kube_with(&Setup::default())
}

pub fn fake_kube_with(setup: &Setup) -> Option<FakeKube> {
    let python = program("python3")?;
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let mut cmd = Command::new(python);
    // Standard library only: -S spares the start-up of site-packages.
    cmd.arg("-S").arg(script()).arg("--port-file").arg(at("port")).arg("--control-port-file").arg(at("control-port"));
    cmd.arg("--log").arg(at("requests.jsonl"));
    if let Some(tls) = setup.tls {
        cmd.arg("--tls-cert").arg(&tls.cert).arg("--tls-key").arg(&tls.key).arg("--token").arg(TOKEN);
    }
    if setup.bare {
        cmd.arg("--bare");
    }
    if let Some(ca) = setup.client_ca {
        cmd.arg("--client-ca").arg(ca);
    }
    if setup.read_token {
        cmd.arg("--read-token").arg(READ_TOKEN);
    }
    let stderr = std::fs::File::create(at("stderr.log")).unwrap();
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
    // Owned at once, so it is killed whatever happens next.
    let mut kube = FakeKube {
        child: Some(child),
        port: 0,
        control_port: 0,
        tls: setup.tls.is_some(),
        kubeconfig: at("kubeconfig"),
        dir,
    };
    let started = Instant::now();
    loop {
        let read = |name| std::fs::read_to_string(kube.dir.path().join(name)).ok()?.trim().parse::<u16>().ok();
        if let (Some(port), Some(control)) = (read("port"), read("control-port")) {
            (kube.port, kube.control_port) = (port, control);
            break;
        }
        let exited = kube.child.as_mut().unwrap().try_wait().unwrap();
        if exited.is_some() || started.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(kube.dir.path().join("stderr.log")).unwrap_or_default();
            panic!("the fake API server did not start ({exited:?}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ca = setup.tls.map(|tls| base64::engine::general_purpose::STANDARD.encode(std::fs::read(&tls.ca).unwrap()));
    std::fs::write(&kube.kubeconfig, kube.kubeconfig_text(TOKEN, ca.as_deref())).unwrap();
    Some(kube)
}

impl FakeKube {
    /// The API's address, `http://127.0.0.1:<port>` or `https://…`.
    pub fn server(&self) -> String {
        format!("{}://127.0.0.1:{}", if self.tls { "https" } else { "http" }, self.port)
    }

    /// A kubeconfig for this server with another token (and the CA, if HTTPS).
    pub fn kubeconfig_text(&self, token: &str, ca: Option<&str>) -> String {
        let ca = ca.map(|ca| format!("    certificate-authority-data: {ca}\n")).unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n{ca}\
             users:\n- name: floe\n  user:\n    token: {token}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: floe\n    namespace: {NAMESPACE}\n\
             current-context: fake\n",
            self.server()
        )
    }

    /// The request log: every API request, in order of arrival.
    pub fn requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        let mut out: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        out.sort_by_key(|r| r["seq"].as_u64());
        out
    }

    /// Requests that asked to write (POST, PUT, PATCH, DELETE, no dry run),
    /// whatever they were answered.
    pub fn writes(&self) -> usize {
        self.requests().iter().filter(|r| r["write"] == true).count()
    }

    /// Requests that changed what the server stores.
    pub fn changes(&self) -> usize {
        self.requests().iter().filter(|r| r["changed"] == true).count()
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        let (code, body) = http(self.control_port, "GET", "/_fake/objects", "", b"");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The stored object of this kind, namespace (`""` for none) and name.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str().unwrap_or("") == namespace
        })
    }

    /// Forgets the requests logged so far.
    pub fn reset_log(&self) {
        let (code, body) = http(self.control_port, "POST", "/_fake/reset-log", "", b"");
        assert_eq!(code, 200, "{body}");
    }

    /// Makes the next `count` requests whose method and path (with its
    /// query) match these regexes meet `fault`.
    pub fn inject(&self, method: &str, path: &str, count: u32, fault: Fault) {
        let mut spec = serde_json::json!({"method": method, "path": path, "count": count});
        match fault {
            Fault::Status(code) => spec["status"] = code.into(),
            Fault::TooManyRequests(after) => {
                spec["status"] = 429.into();
                spec["retry_after"] = after.into();
            }
            Fault::Hang(t) => {
                spec["delay"] = t.as_secs_f64().into();
                spec["drop"] = true.into();
            }
            Fault::Slow(t) => spec["delay"] = t.as_secs_f64().into(),
        }
        let (code, body) =
            http(self.control_port, "POST", "/_fake/inject", "application/json", spec.to_string().as_bytes());
        assert_eq!(code, 200, "{body}");
    }

    /// One raw request to the API (plain HTTP only, no credentials): the
    /// status and the body.
    pub fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        assert!(!self.tls, "raw requests go to a plain-HTTP server");
        let (code, text) = http(self.port, method, path, content_type, body);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (code, value)
    }

    /// `kubectl` (the program at `exe`) for this server: its kubeconfig, and
    /// a home and cache of its own.
    pub fn kubectl(&self, exe: &Path) -> Command {
        self.kubectl_with(exe, &self.kubeconfig)
    }

    /// `kubectl` with another kubeconfig.
    pub fn kubectl_with(&self, exe: &Path, kubeconfig: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(self.dir.path().join("kube-cache"));
        cmd.env("HOME", self.dir.path()).env_remove("KUBECONFIG").env("NO_COLOR", "1");
        cmd
    }
}

/// A client certificate and its key (PEM files) signed by the CA of `tls`,
/// made with `openssl` (which [`super::registry::tls`] needed already).
pub fn client_cert(tls: &Tls) -> (PathBuf, PathBuf) {
    let dir = tls.dir.path();
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=floe-deployer/O=floe",
    ]);
    std::fs::write(dir.join("client.cnf"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
        "-extfile",
        "client.cnf",
    ]);
    (dir.join("client.pem"), dir.join("client.key"))
}

/// One HTTP/1.1 request on its own connection: (status, body).
fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body.to_owned())
}
