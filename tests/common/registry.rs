//! A real OCI registry for tests: Debian's `docker-registry` (distribution
//! v2) on 127.0.0.1 at a free port, with its access log kept; plain, with
//! htpasswd auth, or with TLS (a CA and a certificate made with `openssl`);
//! killed and restarted on the same port and storage; and a proxy in front
//! of it that fails requests on purpose.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The account of the htpasswd registry, and the bcrypt hash its htpasswd
/// file holds (cost 5; no tool is needed to make it at test time).
pub const USER: &str = "floe-ci";
pub const PASSWORD: &str = "pw-Qx7-floe-planted-4821";
const HASH: &str = "$2b$05$amX6877jzvcA7/jR4M4CRO6w3Ef6C1iWTnY7PeLnZQwXeDJaIvba6";

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
    child: Option<Child>,
    exe: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a registry is set up.
#[derive(Default)]
pub struct Setup<'a> {
    /// htpasswd auth, with [`USER`] and [`PASSWORD`].
    pub auth: bool,
    /// TLS with this certificate.
    pub tls: Option<&'a Tls>,
}

/// Requests the registry's log shows that write (`POST`, `PATCH`, `PUT`).
pub fn writes(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().filter(|l| ["\"POST ", "\"PATCH ", "\"PUT "].iter().any(|m| l.contains(m))).count()
}

/// The digests of the blobs the log shows uploaded (a `PUT` with a
/// `digest=` that the registry answered `201 Created`), in order.
pub fn blobs_uploaded(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("\"PUT ") && l.contains("/blobs/uploads/") && l.contains("\" 201 "))
        .filter_map(|l| {
            let at = l.find("digest=sha256")? + "digest=sha256".len();
            let rest = l[at..].strip_prefix("%3A").or_else(|| l[at..].strip_prefix(':'))?;
            let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            Some(format!("sha256:{hex}"))
        })
        .collect()
}

pub fn registry() -> Option<Registry> {
    registry_with(&Setup::default())
}

pub fn registry_with(setup: &Setup) -> Option<Registry> {
    let exe = program("docker-registry")?;
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = format!(
        "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\n",
        dir.path().join("data").display()
    );
    if setup.auth {
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{USER}:{HASH}\n")).unwrap();
        config.push_str(&format!("auth: {{htpasswd: {{realm: floe, path: {}}}}}\n", htpasswd.display()));
    }
    match setup.tls {
        Some(tls) => config.push_str(&format!(
            "http: {{addr: 127.0.0.1:{port}, tls: {{certificate: {}, key: {}}}}}\n",
            tls.cert.display(),
            tls.key.display()
        )),
        None => config.push_str(&format!("http: {{addr: 127.0.0.1:{port}}}\n")),
    }
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let mut registry = Registry { child: None, exe, port, dir };
    registry.start();
    Some(registry)
}

impl Registry {
    /// Its access log (on stdout, kept across restarts).
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let child = Command::new(&self.exe)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdout(log)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so it is killed whatever happens next.
        self.child = Some(child);
        for _ in 0..400 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the registry did not start on port {}", self.port);
    }

    /// Kills it (SIGKILL: no request it was serving gets an answer).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }
}

/// A CA, a certificate it signed for 127.0.0.1 and localhost with its key,
/// and another CA that signed nothing of this.
pub struct Tls {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Made with `openssl`; `None` (recorded as skipped) without it.
pub fn tls() -> Option<Tls> {
    let openssl = program("openssl")?;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&openssl).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for name in ["ca", "other-ca"] {
        let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN=floe test {name}"));
        run(&[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject],
            &["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat());
    }
    run(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.path().join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    let at = |name: &str| dir.path().join(name);
    Some(Tls { ca: at("ca.pem"), other_ca: at("other-ca.pem"), cert: at("server.pem"), key: at("server.key"), dir })
}

/// What the proxy does with one request.
pub enum Answer {
    /// Passes it to the registry (no answer if the registry is gone).
    Forward,
    /// Answers with this status itself.
    Status(u16),
    /// Answers with this status, these headers and this body.
    Reply(u16, Vec<(String, String)>, String),
    /// Reads it and never answers.
    Silent,
}

/// A request as the proxy's `decide` sees it.
pub struct Request {
    /// `PUT /v2/… HTTP/1.1`.
    pub line: String,
    head: Vec<String>,
}

impl Request {
    /// The value of a header (the first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .iter()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// A proxy on 127.0.0.1 in front of `upstream`, one request per connection;
/// `decide` sees each request and says what it meets. Stopped when dropped.
pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

type Decide = Arc<Mutex<dyn FnMut(&Request) -> Answer + Send>>;

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread up, to see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub fn proxy(upstream: u16, decide: impl FnMut(&Request) -> Answer + Send + 'static) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let decide: Decide = Arc::new(Mutex::new(decide));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (decide, stopping) = (decide.clone(), stopping.clone());
            std::thread::spawn(move || serve(conn, upstream, &decide, &stopping));
        }
    });
    Proxy { port, stop }
}

fn serve(mut client: TcpStream, upstream: u16, decide: &Decide, stop: &AtomicBool) {
    // Connections carry one request each: the client closes an idle one.
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read) = client.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let length = head
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request { line: head[0].trim_end().to_owned(), head: head[1..].to_vec() };
    let answer = (decide.lock().unwrap_or_else(|e| e.into_inner()))(&request);
    match answer {
        Answer::Status(code) => {
            let _ = write!(client, "HTTP/1.1 {code} Proxy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Answer::Reply(code, headers, body) => {
            let mut text = format!("HTTP/1.1 {code} Proxy\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (k, v) in headers {
                text.push_str(&format!("{k}: {v}\r\n"));
            }
            text.push_str("\r\n");
            text.push_str(&body);
            let _ = client.write_all(text.as_bytes());
        }
        Answer::Silent => {
            // Until the client gives up (or the proxy stops).
            let _ = client.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0; 512];
            while !stop.load(Ordering::SeqCst) {
                match client.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
        }
        Answer::Forward => {
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
            let mut out: String = head[..head.len() - 1]
                .iter()
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .cloned()
                .collect();
            out.push_str("Connection: close\r\n\r\n");
            if up.write_all(out.as_bytes()).and_then(|()| up.write_all(&body)).is_err() {
                return;
            }
            let _ = std::io::copy(&mut up, &mut client);
        }
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// Runs floe in `dir` as a user without registry credentials (none in the
/// environment, a Docker config directory that does not exist), plus `env`,
/// with `stdin` piped in; kills it (failing the test) after `limit`.
pub fn floe_registry(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    stdin: Option<&str>,
    limit: Duration,
) -> super::Run {
    let mut cmd = super::floe_cmd(dir);
    for var in ["FLOE_REGISTRY_USERNAME", "FLOE_REGISTRY_PASSWORD", "FLOE_REGISTRY_TOKEN", "FLOE_REGISTRY_CA"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("FLOE_REGISTRY_TIMEOUT").env_remove("FLOE_REMOTE_CACHE");
    cmd.env("DOCKER_CONFIG", "/nonexistent/floe-test-docker-config");
    cmd.envs(env.iter().map(|(k, v)| (k, v))).args(args);
    super::run_within(cmd, stdin, limit, &args.join(" "))
}
