//! Every environment variable floe reads, in one place.
//!
//! These are floe's only impure inputs besides the files of the workspace.
//! `SOURCE_DATE_EPOCH` is the one that may change an output (the compile time
//! written into compiled artifacts) and is therefore part of every key that
//! depends on it; none of the others may change an output.
#![allow(clippy::disallowed_methods)]

/// A variable floe reads, with what it does (also printed by `floe --help`).
pub struct Var {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const SOURCE_DATE_EPOCH: Var = Var {
    name: "SOURCE_DATE_EPOCH",
    doc: "Seconds since the Unix epoch written as the compile time of outputs (default: 0)",
};
pub const FLOE_STORE: Var =
    Var { name: "FLOE_STORE", doc: "Store directory shared between workspaces (default: <workspace>/.floe)" };
pub const FLOE_REMOTE_CACHE: Var = Var {
    name: "FLOE_REMOTE_CACHE",
    doc: "Remote cache derivations are taken from before they are built (like --remote-cache)",
};
pub const FLOE_PUBLISH_TO: Var = Var {
    name: "FLOE_PUBLISH_TO",
    doc: "Where `floe publish` publishes without --to (default: the OCI image layout floe-out/oci)",
};
pub const COSIGN_PASSWORD: Var = Var {
    name: "COSIGN_PASSWORD",
    doc: "Password of a cosign-encrypted key given to `floe publish --sign` (default: none)",
};
pub const FLOE_REGISTRY_USERNAME: Var = Var {
    name: "FLOE_REGISTRY_USERNAME",
    doc: "User name for registries (like --registry-username), with FLOE_REGISTRY_PASSWORD",
};
pub const FLOE_REGISTRY_PASSWORD: Var = Var {
    name: "FLOE_REGISTRY_PASSWORD",
    doc: "Password for registries, for the user name of --registry-username or FLOE_REGISTRY_USERNAME",
};
pub const FLOE_REGISTRY_TOKEN: Var =
    Var { name: "FLOE_REGISTRY_TOKEN", doc: "Bearer token for registries, instead of a user name and password" };
pub const FLOE_REGISTRY_CA: Var = Var {
    name: "FLOE_REGISTRY_CA",
    doc: "PEM file of CA certificates registries are trusted by, besides the system's (like --registry-ca)",
};
pub const FLOE_REGISTRY_TIMEOUT: Var = Var {
    name: "FLOE_REGISTRY_TIMEOUT",
    doc: "Seconds a registry may take to accept a connection or to answer before floe retries (default: 30)",
};
pub const KUBECONFIG: Var = Var {
    name: "KUBECONFIG",
    doc: "Kubeconfig files (`:`-separated, merged as kubectl merges them) of deploy, diff and status (default: ~/.kube/config)",
};
pub const FLOE_KUBE_TIMEOUT: Var = Var {
    name: "FLOE_KUBE_TIMEOUT",
    doc: "Seconds the Kubernetes API may take to accept a connection or to answer before floe retries (default: 30)",
};
pub const DOCKER_CONFIG: Var = Var {
    name: "DOCKER_CONFIG",
    doc: "Directory of the Docker config.json registry credentials are last looked up in (default: ~/.docker)",
};
pub const SSL_CERT_FILE: Var =
    Var { name: "SSL_CERT_FILE", doc: "PEM file of CA certificates used instead of the system's, for registries" };
pub const OTEL_EXPORTER_OTLP_ENDPOINT: Var = Var {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    doc: "OTLP/HTTP endpoint floe exports its own spans to (`/v1/traces` appended); unset, nothing is exported",
};
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Var = Var {
    name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    doc: "The same, for traces only, taken as it is (instead of OTEL_EXPORTER_OTLP_ENDPOINT)",
};
pub const OTEL_EXPORTER_OTLP_HEADERS: Var = Var {
    name: "OTEL_EXPORTER_OTLP_HEADERS",
    doc: "Headers sent with the spans, `key=value,…`, read by the exporter (credentials: never printed)",
};
pub const OTEL_EXPORTER_OTLP_PROTOCOL: Var =
    Var { name: "OTEL_EXPORTER_OTLP_PROTOCOL", doc: "Must be `http/protobuf` (the default), the one floe speaks" };
pub const OTEL_SERVICE_NAME: Var =
    Var { name: "OTEL_SERVICE_NAME", doc: "The service name of floe's spans (default: floe)" };
pub const OTEL_SDK_DISABLED: Var =
    Var { name: "OTEL_SDK_DISABLED", doc: "`true` exports nothing, whatever the endpoint" };
/// Read by the allocator itself as the process starts, never by floe.
pub const RJEM_MALLOC_CONF: Var = Var {
    name: "_RJEM_MALLOC_CONF",
    doc: "jemalloc's settings, over those floe is built with (`dirty_decay_ms:0,muzzy_decay_ms:0`); changes no output",
};
pub const NO_COLOR: Var = Var { name: "NO_COLOR", doc: "Disables colour in human output when set to anything" };
pub const TERM: Var = Var { name: "TERM", doc: "`dumb` disables colour" };

pub const ALL: &[Var] = &[
    SOURCE_DATE_EPOCH,
    FLOE_STORE,
    FLOE_REMOTE_CACHE,
    FLOE_PUBLISH_TO,
    COSIGN_PASSWORD,
    FLOE_REGISTRY_USERNAME,
    FLOE_REGISTRY_PASSWORD,
    FLOE_REGISTRY_TOKEN,
    FLOE_REGISTRY_CA,
    FLOE_REGISTRY_TIMEOUT,
    KUBECONFIG,
    FLOE_KUBE_TIMEOUT,
    DOCKER_CONFIG,
    SSL_CERT_FILE,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_SERVICE_NAME,
    OTEL_SDK_DISABLED,
    RJEM_MALLOC_CONF,
    NO_COLOR,
    TERM,
];

/// The home directory, where `~/.docker/config.json` is (not listed by `--help`).
pub const HOME: Var = Var { name: "HOME", doc: "The user's home directory" };

/// Where `floe platform deploy` looks for `helm` (not listed by `--help`).
pub const PATH: Var = Var { name: "PATH", doc: "Directories programs are looked up in" };

/// Internal, for floe's own tests (not listed by `--help`): makes floe panic
/// on purpose, to test how a bug in floe is reported (exit code 70, one line,
/// no backtrace).
pub const FLOE_INTERNAL_PANIC: Var = Var {
    name: "FLOE_INTERNAL_PANIC",
    doc: "Test hook: `main` or `worker` panics on that thread before the command runs",
};

pub fn get(var: &Var) -> Option<String> {
    std::env::var(var.name).ok().filter(|v| !v.is_empty())
}

/// The `--help` epilogue listing the variables.
pub fn help() -> String {
    let mut out = String::from("Environment:\n");
    let width = ALL.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in ALL {
        out.push_str(&format!("  {:<width$} {}\n", v.name, v.doc));
    }
    out
}
