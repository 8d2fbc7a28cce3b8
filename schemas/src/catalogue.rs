//! What each diagnostic code means and how to fix it: the text behind
//! `floe explain CODE` and `docs/reference/errors.md` (generated from here and
//! from the snapshots of `testdata/invalid/`, checked by a test).

use crate::diag::Code;

/// A few sentences on why floe reports `code` and what to do about it.
pub fn explanation(code: Code) -> &'static str {
    match code {
        Code::YamlSyntax => {
            "The file could not be read as YAML: a mis-indented key, an unclosed `[` or `{`, a tab \
             used for indentation, or more than one document (`---`) in one file. floe reports the \
             position where the parser gave up, which can be after the actual mistake."
        }
        Code::DuplicateKey => {
            "A mapping names the same key twice. YAML parsers disagree on which value wins, so floe \
             accepts neither: remove one of the two entries."
        }
        Code::YamlLimit => {
            "The document is deeper than floe reads (32 levels) or expands, through aliases, to more \
             than 100,000 values. Real manifests are a few levels deep; this limit keeps a hostile \
             document (a \"billion laughs\" alias bomb) from exhausting memory or time."
        }
        Code::FileTooLarge => {
            "The file is larger than 1 MiB. Manifests and product files describe configuration, not \
             data; move bulky content out of them."
        }
        Code::NotUtf8 => "The file is not valid UTF-8 text. Save it as UTF-8.",
        Code::UnknownKey => {
            "A key that the document's schema does not define, usually a misspelling; floe suggests \
             the closest known key. `floe schema floe` and `floe schema manifest` print the schemas."
        }
        Code::MissingKey => {
            "A key the schema requires is absent, or a product needs a plugin its platform does not \
             select (a compute and an orchestrator plugin for every product, an ingestion plugin for \
             a product that declares `ingestion`)."
        }
        Code::WrongType => {
            "A value has the wrong type: a list where a mapping is expected, a number where a string \
             is expected. YAML reads `version: 1.0` as a number and `enabled: yes` as a boolean; \
             quote a value to keep it a string."
        }
        Code::InvalidEnumValue => {
            "A value is not one of those the key allows; floe lists them or suggests the closest."
        }
        Code::PatternMismatch => {
            "A string does not have the required form: product names are lowercase with `-`, model \
             and port names are identifiers, versions are `MAJOR.MINOR.PATCH`, durations are ISO-8601 \
             (`PT1H`)."
        }
        Code::OutOfRange => {
            "A number is outside the range the key allows (retention of at least one day, for example)."
        }
        Code::InvalidLength => {
            "A string or list is shorter or longer than allowed; a product needs at least one transform."
        }
        Code::EnvironmentKey => {
            "A manifest has an environment-specific top-level key (`dev`, `prod`, `environments`, ...). \
             A platform manifest is published once and promoted unchanged from dev to prod, so \
             per-environment values belong to the deployment, not to the manifest."
        }
        Code::ForbiddenConnectionKey => {
            "A `floe.yaml` holds a connection or credential key (`host`, `password`, `token`, \
             `connection_string`, ...). Connections are the platform's concern and credentials are \
             only ever secret references; a data product names neither."
        }
        Code::WrongKind => {
            "`apiVersion` or `kind` is not what floe reads in this file: a `floe.yaml` holds \
             `kind: FloeSpec` (or `DataProduct`), a `manifest.yaml` holds `kind: Manifest`, both with \
             `apiVersion: floe.dev/v1`."
        }
        Code::DuplicateName => {
            "Two entries of a list share a name that must be unique (transforms, ports, ingestion \
             sources). The note points at the first definition."
        }
        Code::UnknownReference => {
            "A reference inside the document names nothing: a `dependsOn` entry that is not a \
             transform of this product."
        }
        Code::TransformCycle => {
            "Transforms depend on each other in a cycle; dbt models must form a directed acyclic graph. \
             floe prints the cycle and points at the dependency that closes it."
        }
        Code::UnknownPlugin => {
            "The platform selects a plugin type floe has no implementation of. `floe plugins` lists \
             the built-in plugins; floe suggests the closest name."
        }
        Code::InvalidPluginConfig => {
            "A plugin rejects its `config` (DuckDB's `threads` must be 1 to 1024, for example). The \
             position is where the value is written, which may be a parent manifest."
        }
        Code::ManifestCycle => {
            "A domain's `parent_manifest` names the domain itself. Inside a workspace the parent of a \
             domain is the root manifest; remove `parent_manifest` to say so."
        }
        Code::MissingParent => {
            "A `parent_manifest` or a product's `platform.manifest` names a file that does not exist \
             (or one outside the workspace)."
        }
        Code::PluginNotApproved => {
            "A domain selects a plugin the enterprise manifest does not list in `approved_plugins` for \
             that category. The platform team chooses plugins once; domains pick among them."
        }
        Code::ComputeNotApproved => {
            "A transform sets `compute` to an engine that is neither the platform's default compute \
             nor in the enterprise's approved compute plugins."
        }
        Code::ProductNotApproved => {
            "The product is not in its domain's `approved_products`. When a domain lists its products, \
             only those may build against it."
        }
        Code::GovernanceLoosened => {
            "Governance is strengthen-only: a domain may keep or tighten each inherited setting \
             (enforcement level, retention, coverage thresholds, required descriptions, \
             `block_on_failure`, encryption, audit) but never loosen it. The parent's value stays in \
             force; the note shows where it is set."
        }
        Code::PlatformMismatch => {
            "A product's `platform.manifest`, or a domain's `parent_manifest`, points at an existing \
             manifest that is not the one the package belongs to by its place in the workspace. \
             Remove the key, or point it at the manifest floe names in the help."
        }
        Code::ScopeMismatch => {
            "A manifest's `scope` does not fit its place: a manifest below the root must be \
             `scope: domain`, a domain needs `scope: enterprise` at the root, domains do not nest, \
             and `approved_plugins`/`approved_sinks` (enterprise) and `approved_products` (domain) \
             belong to one scope each."
        }
        Code::UnpinnedReference => {
            "A manifest is referenced by an `oci://` address that no `floe.lock` pins to a digest. \
             Builds read only pinned, immutable platforms; inside a workspace, refer to the local \
             manifest instead."
        }
        Code::NoWorkspace => {
            "floe found no platform `manifest.yaml` at the workspace root (walking up from the \
             current directory, or in the directory given with `-C`)."
        }
        Code::PackageConflict => {
            "A directory holds both a `manifest.yaml` and a `floe.yaml`. A package is either a \
             platform (or domain) package or a product; give the product its own directory."
        }
        Code::InvalidLabel => {
            "A label on the command line does not parse. Labels look like `//...`, `//sales/...`, \
             `//sales/orders` or `//sales/orders:artifacts`; without `//` they are relative to the \
             current directory."
        }
        Code::NoSuchLabel => {
            "A label matches no package, or names a target the package does not have. floe suggests \
             the closest label; `floe query //...` lists every package."
        }
        Code::UnknownInputPort => {
            "An input port's `from` names no product, or an output port the product does not have \
             (or a product whose file has errors, so its ports cannot be read)."
        }
        Code::ProductCycle => {
            "Products read each other's ports in a cycle. Data products form a directed acyclic graph \
             across domains; one of the input ports in the cycle has to go."
        }
        Code::PortExpectation => {
            "An input port expects a column the producer's port does not offer, or a service level \
             (freshness, availability) stronger than the producer promises."
        }
        Code::InlineSecret => {
            "A plugin's configuration holds a literal credential. floe replaces it by a reference to \
             a Kubernetes Secret in every output, so the value is never written anywhere; under \
             `policy_enforcement_level: strict` this is an error, under `warn` a warning. Store the \
             value in the named Secret."
        }
        Code::TransformWithoutModel => {
            "A transform in `floe.yaml` has no dbt model: no `models/**/<name>.sql` and no entry in a \
             property file under `models/`. floe checks the product's real dbt project; add the \
             model or remove the transform. Reported under the platform's enforcement level \
             (an error under `strict`, a warning under `warn`)."
        }
        Code::ModelWithoutTransform => {
            "The dbt project has a model that `floe.yaml` does not list as a transform, so the \
             platform would not schedule, govern or document it. Add a transform with its name, or \
             remove the model. Reported under the platform's enforcement level."
        }
        Code::DependsOnMismatch => {
            "A transform's `dependsOn` and its model's `ref()` calls disagree: the SQL refs a model \
             `dependsOn` does not list, or `dependsOn` lists a model the SQL never refs. The \
             orchestrator schedules by `dependsOn`, dbt by `ref()`; they must tell the same story. \
             Reported under the platform's enforcement level."
        }
        Code::UnknownModel => {
            "A model's SQL calls `ref()` on a model the project does not have (and names no \
             package). dbt would fail to compile it. Reported under the platform's enforcement level."
        }
        Code::UndefinedSource => {
            "A model's SQL calls `source('x', 'y')` but no property file under `models/` declares \
             source `x` with table `y`. Declare it (`sources:`), so its freshness and tests are \
             governed too. Reported under the platform's enforcement level."
        }
        Code::Internal => {
            "floe accepted its input but then failed to process it: a bug in floe, not a problem in \
             the workspace. Please report it with the input that triggers it."
        }
    }
}

/// `floe explain CODE`: the code, its summary and its explanation.
pub fn explain(code: Code) -> String {
    format!("{}: {}\n\n{}\n", code.as_str(), code.summary(), explanation(code))
}
