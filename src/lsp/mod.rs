//! `floe lsp`: a language server over stdio for `manifest.yaml`, `floe.yaml`,
//! data contracts and the dbt files floe reads.
//!
//! One warm [`Session`] answers everything, over an [`OverlaySystem`] that
//! shows the engine the editor's open buffers in place of their files. After
//! each burst of edits (every message already waiting is taken in first) the
//! session takes in the files that changed (`Session::refresh`) and checks
//! the whole workspace: the diagnostics are `floe check`'s, with the same
//! codes and spans, for unsaved text too, and the next check evaluates only
//! what the edit reaches (a file that appeared or went is a new walk, in the
//! same session). A change the warm session cannot take (a new day,
//! `floe.lock`) opens a new one. Nothing here saves a state
//! or writes an output: a language server only reads.
//!
//! What the requests answer is in `features.rs`: hover (the schema's
//! description, the value the tiers resolve and where each part of it was
//! written), go to definition, completion and quick fixes. A client that
//! watches files on request is asked to report the files a workspace walk
//! may find, so that what changes outside the editor is checked too.

mod features;
mod overlay;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions, DiagnosticRelatedInformation,
    DiagnosticSeverity, HoverProviderCapability, InitializeParams, Location, NumberOrString, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};

use floe_engine::{Options, Session, WsPath};
use floe_schemas::Diagnostic;

use crate::cli::{Cli, Failure};
use crate::system::OsSystem;

pub use overlay::{OverlaySystem, Overlays};

/// Serves one editor over stdin and stdout until it says `exit`.
pub fn serve(cli: &Cli) -> Result<(), Failure> {
    let (connection, io_threads) = Connection::stdio();
    let (id, params) = connection.initialize_start().map_err(protocol)?;
    let params: InitializeParams = serde_json::from_value(params).map_err(|e| protocol(e.to_string()))?;
    let start = workspace_dir(&params).map_or_else(|| crate::cli::base_dir(cli), Ok)?;
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "floe".to_owned(), version: Some(crate::cli::VERSION.to_owned()) },
    });
    connection.initialize_finish(id, result).map_err(protocol)?;
    // Files changed outside the editor (a checkout, a generator) are told
    // to the server by a client that watches for it.
    let watches = params.capabilities.workspace.as_ref().and_then(|w| w.did_change_watched_files.as_ref());
    if watches.and_then(|w| w.dynamic_registration) == Some(true) {
        let glob = format!("**/*.{{{}}}", EXTENSIONS.join(","));
        let watchers = serde_json::json!({"watchers": [{"globPattern": glob}]});
        let registration = lsp_types::Registration {
            id: "floe-files".to_owned(),
            method: notif::DidChangeWatchedFiles::METHOD.to_owned(),
            register_options: Some(watchers),
        };
        let params = lsp_types::RegistrationParams { registrations: vec![registration] };
        let request =
            Request::new("floe-register".to_owned().into(), req::RegisterCapability::METHOD.to_owned(), params);
        connection.sender.send(Message::Request(request)).map_err(protocol)?;
    }
    let mut server = Server::new(cli, start, &connection);
    server.formats = features::Formats::of(&params.capabilities);
    server.run()?;
    drop(connection);
    io_threads.join().map_err(|e| protocol(e.to_string()))
}

/// The extensions of the files a workspace walk may find: what a client is
/// asked to watch, and what makes a file the session lacks worth a walk.
const EXTENSIONS: [&str; 5] = ["yaml", "yml", "sql", "csv", "lock"];

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![":".to_owned(), " ".to_owned(), "/".to_owned()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

fn protocol(e: impl ToString) -> Failure {
    Failure::Infra(floe_engine::IoError { op: "serve", path: PathBuf::from("stdio"), message: e.to_string() })
}

/// The folder the editor opened: the workspace is found from there as floe
/// finds it from its working directory.
fn workspace_dir(params: &InitializeParams) -> Option<PathBuf> {
    let folder = params.workspace_folders.as_ref().and_then(|f| f.first()).map(|f| &f.uri);
    #[allow(deprecated)] // older clients send only `rootUri`
    let uri = folder.or(params.root_uri.as_ref())?;
    path_of(uri)
}

/// The path of a `file:` URI.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    if !uri.scheme().is_some_and(|s| s.eq_lowercase("file")) {
        return None;
    }
    Some(PathBuf::from(uri.path().as_estr().decode().into_string().ok()?.into_owned()))
}

/// The `file:` URI of a path.
pub fn uri_of(path: &Path) -> Option<Uri> {
    format!("file://{}", floe_schemas::sarif::percent_encode(&path.to_string_lossy())).parse().ok()
}

struct Server<'a> {
    cli: &'a Cli,
    connection: &'a Connection,
    /// Where the workspace is looked for.
    start: PathBuf,
    overlays: Arc<Overlays>,
    system: Arc<OverlaySystem>,
    session: Option<Session>,
    /// Files edited, opened, closed or saved since the last check.
    changed: BTreeSet<PathBuf>,
    /// The last diagnostics published, by workspace path.
    published: BTreeMap<WsPath, Vec<Diagnostic>>,
    formats: features::Formats,
}

impl<'a> Server<'a> {
    fn new(cli: &'a Cli, start: PathBuf, connection: &'a Connection) -> Server<'a> {
        let overlays = Arc::new(Overlays::default());
        let system = Arc::new(OverlaySystem { disk: Arc::new(OsSystem), overlays: overlays.clone() });
        Server {
            cli,
            connection,
            start,
            overlays,
            system,
            session: None,
            changed: BTreeSet::new(),
            published: BTreeMap::new(),
            formats: features::Formats::default(),
        }
    }

    fn run(&mut self) -> Result<(), Failure> {
        let mut dirty = true;
        loop {
            // Check only once every message already sent is taken in: a burst
            // of keystrokes is one check.
            let message = match self.connection.receiver.try_recv() {
                Ok(m) => m,
                Err(_) if dirty => {
                    self.check();
                    dirty = false;
                    continue;
                }
                Err(_) => match self.connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                },
            };
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request).map_err(protocol)? {
                        return Ok(());
                    }
                    // A request answers the text as it is now.
                    if dirty {
                        self.check();
                        dirty = false;
                    }
                    let response = self.request(request);
                    self.send(Message::Response(response));
                }
                Message::Notification(n) => dirty |= self.notification(n),
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, message: Message) {
        // The client going away ends the loop through the receiver.
        let _ = self.connection.sender.send(message);
    }

    /// Takes in a notification; `true` when the workspace's text changed.
    fn notification(&mut self, n: Notification) -> bool {
        match n.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidOpenTextDocumentParams>(notif::DidOpenTextDocument::METHOD)
                else {
                    return false;
                };
                self.set_buffer(&p.text_document.uri, Some(&p.text_document.text))
            }
            notif::DidChangeTextDocument::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidChangeTextDocumentParams>(notif::DidChangeTextDocument::METHOD)
                else {
                    return false;
                };
                // Full synchronisation: the last change is the whole text.
                match p.content_changes.into_iter().last() {
                    Some(change) => self.set_buffer(&p.text_document.uri, Some(&change.text)),
                    None => false,
                }
            }
            notif::DidCloseTextDocument::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidCloseTextDocumentParams>(notif::DidCloseTextDocument::METHOD)
                else {
                    return false;
                };
                self.set_buffer(&p.text_document.uri, None)
            }
            notif::DidSaveTextDocument::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidSaveTextDocumentParams>(notif::DidSaveTextDocument::METHOD)
                else {
                    return false;
                };
                path_of(&p.text_document.uri).is_some_and(|path| self.changed.insert(path))
            }
            notif::DidChangeWatchedFiles::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidChangeWatchedFilesParams>(notif::DidChangeWatchedFiles::METHOD)
                else {
                    return false;
                };
                for change in p.changes {
                    if let Some(path) = path_of(&change.uri) {
                        self.changed.insert(path);
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn set_buffer(&mut self, uri: &Uri, text: Option<&str>) -> bool {
        let Some(path) = path_of(uri) else { return false };
        match text {
            Some(text) => self.overlays.set(path.clone(), text),
            None => {
                self.overlays.remove(&path);
            }
        }
        self.changed.insert(path);
        true
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            req::HoverRequest::METHOD => self.answer::<req::HoverRequest>(request, features::hover),
            req::GotoDefinition::METHOD => self.answer::<req::GotoDefinition>(request, features::definition),
            req::Completion::METHOD => self.answer::<req::Completion>(request, features::completion),
            req::CodeActionRequest::METHOD => self.answer::<req::CodeActionRequest>(request, features::code_actions),
            _ => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, request.method),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, message),
        }
    }

    fn answer<R: lsp_types::request::Request>(
        &mut self,
        request: Request,
        handler: fn(&mut features::World<'_>, R::Params) -> R::Result,
    ) -> Result<serde_json::Value, String> {
        let params: R::Params = serde_json::from_value(request.params).map_err(|e| e.to_string())?;
        let Some(session) = self.session.as_mut() else { return Ok(serde_json::Value::Null) };
        let mut world =
            features::World { session, system: &self.system, published: &self.published, formats: self.formats };
        serde_json::to_value(handler(&mut world, params)).map_err(|e| e.to_string())
    }

    /// Takes in what changed and publishes the workspace's diagnostics.
    fn check(&mut self) {
        let changed = std::mem::take(&mut self.changed);
        let report = match self.refresh(&changed).and_then(|()| {
            let session = self.session.as_mut().expect("refresh opens a session");
            session.check().map_err(Failure::Infra)
        }) {
            Ok(report) => report,
            Err(failure) => {
                // The server goes on: the next edit tries again.
                self.session = None;
                self.log(&failure_text(failure));
                return;
            }
        };
        let mut by_file: BTreeMap<WsPath, Vec<Diagnostic>> = BTreeMap::new();
        for d in report.diagnostics {
            if let Some(path) = d.file.as_deref().and_then(WsPath::new) {
                by_file.entry(path).or_default().push(d);
            }
        }
        let gone: Vec<WsPath> = self.published.keys().filter(|p| !by_file.contains_key(*p)).cloned().collect();
        for path in gone {
            self.publish(&path, &[]);
        }
        for (path, diags) in &by_file {
            if self.published.get(path) != Some(diags) {
                self.publish(path, diags);
            }
        }
        self.published = by_file;
    }

    /// The session, brought up to the files as they are now.
    fn refresh(&mut self, changed: &BTreeSet<PathBuf>) -> Result<(), Failure> {
        let settings = crate::cli::settings()?;
        if let Some(session) = self.session.as_mut() {
            let root = session.options.workspace.clone();
            // A file the workspace has, or one a walk may find: a new one
            // walks the workspace again, in the same session.
            let paths: Vec<WsPath> = changed
                .iter()
                .filter_map(|path| WsPath::new(path.strip_prefix(&root).ok()?.to_str()?))
                .filter(|ws| session.state.files.contains_key(ws) || is_candidate(ws))
                .collect();
            if session.refresh(&paths, &settings).map_err(Failure::Infra)? {
                return Ok(());
            }
        }
        self.session = Some(self.open(settings)?);
        Ok(())
    }

    fn open(&self, settings: floe_engine::Settings) -> Result<Session, Failure> {
        let (root, _) = crate::cli::locate_from(self.start.clone())?;
        let options = Options {
            store: crate::cli::store_dir(self.cli, &root),
            out: root.join(floe_engine::discover::OUT_DIR),
            cwd: WsPath::default(),
            labels: vec!["//...".to_owned()],
            settings,
            jobs: crate::cli::jobs(self.cli),
            remote: None,
            check_outputs: false,
            progress: None,
            warm: true,
            workspace: root,
        };
        Ok(Session::open(self.system.clone(), options)?)
    }

    fn publish(&self, path: &WsPath, diags: &[Diagnostic]) {
        let Some(session) = self.session.as_ref() else { return };
        let abs = session.options.workspace.join(path.as_str());
        let Some(uri) = uri_of(&abs) else { return };
        let root = session.options.workspace.clone();
        let text = read_text(self.system.as_ref(), &abs);
        let index = text::LineIndex::new(&text);
        let diagnostics = diags.iter().map(|d| to_lsp(d, &index, &root, self.system.as_ref())).collect();
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        self.send(Message::Notification(Notification::new(notif::PublishDiagnostics::METHOD.to_owned(), params)));
    }

    fn log(&self, message: &str) {
        let params = lsp_types::LogMessageParams { typ: lsp_types::MessageType::ERROR, message: message.to_owned() };
        self.send(Message::Notification(Notification::new(notif::LogMessage::METHOD.to_owned(), params)));
    }
}

fn failure_text(failure: Failure) -> String {
    match failure {
        Failure::Infra(e) => e.to_string(),
        Failure::Usage(m) | Failure::Cluster(m) => m,
        Failure::User => "no workspace here: no platform manifest.yaml in the folder or above".to_owned(),
        _ => "floe could not check the workspace".to_owned(),
    }
}

/// Whether a file at `path` the session does not have may be one the workspace walk finds.
fn is_candidate(path: &WsPath) -> bool {
    let name = path.as_str().rsplit('/').next().unwrap_or("");
    name.rsplit_once('.').is_some_and(|(_, ext)| EXTENSIONS.contains(&ext))
        && !path.as_str().split('/').any(|seg| seg.starts_with('.') || seg == floe_engine::discover::OUT_DIR)
}

/// A file's text through the overlays; empty when it cannot be read.
pub fn read_text(system: &dyn floe_engine::System, path: &Path) -> String {
    match system.read(path) {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    }
}

fn to_lsp(
    d: &Diagnostic,
    index: &text::LineIndex<'_>,
    root: &Path,
    system: &dyn floe_engine::System,
) -> lsp_types::Diagnostic {
    let range = d.span.map(|s| index.range(s.offset as usize, s.len as usize)).unwrap_or_default();
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .notes
        .iter()
        .filter_map(|n| {
            let abs = root.join(WsPath::new(&n.file)?.as_str());
            let text = read_text(system, &abs);
            let range = text::LineIndex::new(&text).range(n.span.offset as usize, n.span.len as usize);
            Some(DiagnosticRelatedInformation {
                location: Location { uri: uri_of(&abs)?, range },
                message: n.message.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range,
        severity: Some(if d.is_error() { DiagnosticSeverity::ERROR } else { DiagnosticSeverity::WARNING }),
        code: Some(NumberOrString::String(d.code.as_str().to_owned())),
        source: Some("floe".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/ws/sales team/floe.yaml");
        let uri = uri_of(path).unwrap();
        assert_eq!(uri.as_str(), "file:///ws/sales%20team/floe.yaml");
        assert_eq!(path_of(&uri).unwrap(), path);
        assert_eq!(path_of(&"untitled:Untitled-1".parse().unwrap()), None);
    }

    #[test]
    fn only_files_a_walk_may_find_start_a_new_walk() {
        let yes = |p: &str| is_candidate(&WsPath::new(p).unwrap());
        assert!(yes("sales/new/floe.yaml") && yes("sales/new/models/a.sql") && yes("floe.lock"));
        assert!(!yes("README.md") && !yes(".github/ci.yml") && !yes("floe-out/sales/k8s.yaml"));
    }
}
