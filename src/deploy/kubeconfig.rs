//! Which cluster, as kubectl finds it: `--kubeconfig`, else `$KUBECONFIG`'s files merged, else `~/.kube/config`, and a context.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::{Cli, Failure};

/// The kubeconfig and context of the commands that talk to a cluster.
#[derive(clap::Args, Clone, Default)]
pub struct KubeArgs {
    /// The kubeconfig file (default: $KUBECONFIG, a list of files merged as kubectl merges them, else ~/.kube/config)
    #[arg(long, value_name = "FILE", help_heading = "Kubernetes options")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig's context to use (default: its current-context)
    #[arg(long, value_name = "NAME", help_heading = "Kubernetes options")]
    pub context: Option<String>,
}

/// A kubeconfig read, with the context chosen.
pub struct Loaded {
    pub kubeconfig: Kubeconfig,
    pub context: String,
    /// The files it was read from, for messages.
    pub files: Vec<PathBuf>,
    /// Every credential value it holds, scrubbed from every message floe prints.
    pub secrets: Vec<String>,
}

/// Reads the kubeconfig and picks the context; refuses one that is not there.
pub fn load(cli: &Cli, args: &KubeArgs) -> Result<Loaded, Failure> {
    let base = crate::cli::base_dir(cli)?;
    // Files of `$KUBECONFIG` that do not exist are skipped, as kubectl skips them.
    let (files, listed) = match (&args.kubeconfig, crate::env::get(&crate::env::KUBECONFIG)) {
        (Some(file), _) => (vec![base.join(file)], false),
        (None, Some(list)) => (std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect(), true),
        (None, None) => match crate::env::get(&crate::env::HOME) {
            Some(home) => (vec![PathBuf::from(home).join(".kube/config")], false),
            None => {
                return Err(Failure::Usage(
                    "no kubeconfig: pass `--kubeconfig FILE` or set KUBECONFIG (HOME is not set, so there is no ~/.kube/config)"
                        .to_owned(),
                ));
            }
        },
    };
    let mut merged = Kubeconfig::default();
    let mut read = Vec::new();
    for file in &files {
        if listed && crate::system::kind(file)?.is_none() {
            continue;
        }
        let one = Kubeconfig::read_from(file).map_err(|e| {
            Failure::Usage(format!(
                "cannot read the kubeconfig `{}`: {}",
                file.display(),
                super::client::scrub(&super::client::chain(&e), &[])
            ))
        })?;
        merged = merged.merge(one).map_err(|e| {
            Failure::Usage(format!("cannot merge the kubeconfig `{}`: {}", file.display(), super::client::chain(&e)))
        })?;
        read.push(file.clone());
    }
    if read.is_empty() {
        let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
        return Err(Failure::Usage(format!(
            "no kubeconfig at {}\n  = help: pass `--kubeconfig FILE`, or set KUBECONFIG to the file kubectl uses",
            names.join(", ")
        )));
    }
    let where_ = read.iter().map(|f| format!("`{}`", f.display())).collect::<Vec<_>>().join(", ");
    let contexts: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
    let context = match args.context.clone().or_else(|| merged.current_context.clone()) {
        Some(c) => c,
        None => {
            return Err(Failure::Usage(format!(
                "the kubeconfig {where_} names no current-context\n  = help: pass `--context NAME`{}",
                listing(&contexts)
            )));
        }
    };
    if !contexts.contains(&context.as_str()) {
        return Err(Failure::Usage(format!(
            "no context `{context}` in the kubeconfig {where_}\n  = help: pass `--context NAME`{}",
            listing(&contexts)
        )));
    }
    let secrets = secrets(&merged);
    Ok(Loaded { kubeconfig: merged, context, files: read, secrets })
}

fn listing(contexts: &[&str]) -> String {
    match contexts {
        [] => "; it has no context".to_owned(),
        some => format!("; it has: {}", some.join(", ")),
    }
}

/// The options that make kube load `context`.
pub fn options(context: &str) -> KubeConfigOptions {
    KubeConfigOptions { context: Some(context.to_owned()), ..Default::default() }
}

/// The credential values of every user (tokens, passwords, private keys, in
/// their base64 form and decoded), found through their serialized form: kube
/// keeps them in types that do not show them.
fn secrets(kubeconfig: &Kubeconfig) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for user in kubeconfig.auth_infos.iter().filter_map(|u| u.auth_info.as_ref()) {
        let Ok(value) = serde_json::to_value(user) else { continue };
        for key in ["token", "password", "client-key-data"] {
            if let Some(s) = value.get(key).and_then(|v| v.as_str()).filter(|s| s.len() >= 4) {
                out.push(s.to_owned());
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(s.trim())
                    && let Ok(text) = String::from_utf8(decoded)
                {
                    out.extend(text.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")).map(str::to_owned));
                }
            }
        }
    }
    out
}
