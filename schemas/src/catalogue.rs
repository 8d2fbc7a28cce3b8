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
        Code::PluginVersion => {
            "A selection pins `version:` and floe's plugin of that name is not compatible with it. \
             Versions compare as cargo compares a bare requirement: the same left-most non-zero \
             part, and not older (`0.1.0` accepts `0.1.3`, not `0.2.0`); a pre-release satisfies only \
             a pin on a pre-release of the same version. A pin that is not a semantic version (`01.2.0`: \
             a leading zero) is reported too. `floe plugins` shows each plugin's version."
        }
        Code::IncompatiblePlugins => {
            "Two selected plugins cannot work together: a plugin requires something of another \
             category (AWS Glue needs S3 storage, dbt Fusion needs an adapter it has) that the \
             selection there does not provide. The help lists the plugins that would, and the \
             alternatives for the plugin that has the requirement; \
             `docs/reference/plugins.md` has the whole compatibility matrix."
        }
        Code::ExternalPlugin => {
            "A selection names an out-of-tree plugin (an executable under `floe-plugins/`) that did not \
             answer as `docs/reference/external-plugins.md` says: it could not be started, exited with \
             an error, took longer than the time limit, answered with something that is not the \
             protocol's JSON, or describes itself as another plugin, another category or a plugin API \
             this floe does not run. Nothing it produced is cached."
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
            "A domain, or the enterprise itself, selects a plugin the enterprise manifest does not list \
             in `approved_plugins` for that category. The platform team chooses plugins once; domains \
             pick among them."
        }
        Code::ComputeNotApproved => {
            "A transform sets `compute` to an engine that is neither the platform's default compute \
             nor in the enterprise's approved compute plugins."
        }
        Code::ProductNotApproved => {
            "The product is not in its domain's `approved_products`. When a domain lists its products, \
             only those may build against it, and no product, in that domain or another, may read the \
             ports of one it does not list."
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
        Code::InvalidLock => {
            "`floe.lock` pins the published platform a workspace without a root manifest builds \
             against, and the published products whose contracts its ports read by id. floe \
             writes it (`floe init --platform`, `floe pull --update`, `floe lock`); this one does \
             not parse, is of another lock version, or pins a platform whose resolved manifest \
             does not decode. Write it again with `floe pull --update`."
        }
        Code::PinnedNotInStore => {
            "A build reads the platform `floe.lock` pins, and the contracts of the published \
             products it pins, from the store, never from the network, and this store does not \
             hold one of them: a fresh clone, another `FLOE_STORE`, or a store collected by `floe \
             store gc`. `floe pull` fetches exactly the pinned digests, verifies them and keeps \
             them in the store."
        }
        Code::RunNameTooLong => {
            "A product's runs on Kubernetes are named after it: a CronJob of its name, or a Job \
             of its name, a dash and the first 10 hex digits of its derivation (a Job's pod \
             template cannot change, so a new derivation is a new Job), which must stay a DNS \
             label; the floe-jobs chart refuses the same names. So a product's name has at most \
             41 characters."
        }
        Code::InvalidDomainLabel => {
            "On a platform without domain tiers, a product's `metadata.labels.domain` names its \
             domain, and its runs go to the namespace `floe-<domain>`. A namespace is a DNS \
             label of at most 63 characters, so a domain is lowercase letters, digits and `-`, \
             starting and ending with a letter or digit, of at most 58 characters."
        }
        Code::PackageConflict => {
            "A directory holds both a `manifest.yaml` and a `floe.yaml`. A package is either a \
             platform (or domain) package or a product; give the product its own directory."
        }
        Code::NotARegularFile => {
            "A file where floe expects a package file (`manifest.yaml`, `floe.yaml`, \
             `dbt_project.yml`, a model, an out-of-tree plugin, `.floeignore`) is a FIFO, a socket \
             or a device. floe reads only regular files: reading a FIFO would wait for a writer \
             forever, and a device has no end. Replace it with a regular file, or exclude it in \
             `.floeignore`."
        }
        Code::LinkLeavesWorkspace => {
            "A symbolic link in the workspace leads outside it. floe reads only inside the \
             workspace, so that a checked-out repository cannot make it read (and quote in a \
             diagnostic) a file such as `~/.ssh/config`. A link to a package file is an error (the \
             package cannot be built); a link to a directory is a warning (it is not walked). \
             Links that stay inside the workspace are followed."
        }
        Code::DirectoryRepeated => {
            "A symbolic link leads to a directory that the workspace walk already covers: the \
             workspace root or one of its ancestors (a loop), or a directory reached by its own \
             path. floe walks every directory once, at its own path, so a link neither loops the \
             walk nor makes a second copy of its packages. Remove the link, or exclude it in \
             `.floeignore`."
        }
        Code::UnaddressablePackage => {
            "A package's directory has a name that a label cannot spell: label paths are ASCII \
             letters, digits, `-`, `_` and `.`, so a directory with a space, a `:` or an accented \
             letter in its path could be built by `//...` but never selected, queried or explained \
             on its own. floe does not build what it cannot name; rename the directory."
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
        Code::ClassificationNotAllowed => {
            "Data keeps its classification downstream: a product that reads a port classified `pii` \
             is itself at least `pii`, and so is everything it offers, through any number of \
             products. `governance.data_contracts.max_classification` (in a manifest, lowered by \
             each tier; or in `floe.yaml`, lower still) caps what a product may read or offer. \
             Reported at the input port that brings the data in, with the port that classifies it, \
             or at an output port or column classified above the cap. Read a port of a lower \
             classification (an anonymized one), or ask the platform team for a higher cap."
        }
        Code::ContractDisagrees => {
            "A `datacontract.yaml` beside `floe.yaml` adds to the contracts floe generates from the \
             output ports (descriptions, quality rules, terms, team, an `id` of its own), and wins \
             where both say something, but it cannot say something else about the data: each \
             schema object names an output port, each property a column of it, with the same \
             `logicalType`, `required` and `primaryKey`; a classification may be raised, not \
             lowered; an SLA the port promises is the one the contract states. Consumers are \
             checked against the port, so the port is where a change goes. Reported in the \
             contract file, with a note at the port's definition in `floe.yaml`."
        }
        Code::ContractVersion => {
            "`floe lock` pins each output port in `floe.lock`: the baseline its next change is judged \
             against. A breaking change (a column removed, its type or key changed, optional made \
             required, its classification raised, an SLA weakened or dropped, a port removed) needs \
             a new major version of the product (a new minor one before 1.0.0); an additive change (a \
             column or port added, required made optional, an SLA strengthened) at least a new minor \
             one. Reported at the changed line, with the pinned port and the version; `floe check` \
             adds every consumer the breaking change reaches, at its input port. Bump \
             `metadata.version` (and run `floe lock` once released), or undo the change."
        }
        Code::InlineSecret => {
            "A plugin's configuration holds a literal credential. floe replaces it by a reference to \
             a Kubernetes Secret in every output, so the value is never written anywhere; under \
             `policy_enforcement_level: strict` this is an error, under `warn` a warning. Store the \
             value in the named Secret."
        }
        Code::TransformWithoutModel => {
            "A transform in `floe.yaml` has no dbt model: no `models/**/<name>.sql`. floe checks the \
             product's real dbt project; add the model or remove the transform. A property-file \
             entry alone does not make a model, but its documentation and tests are still judged by \
             the other policies. Reported under the platform's enforcement level (an error under \
             `strict`, a warning under `warn`)."
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
            "A model's SQL calls `source('x', 'y')` but no property file of the project declares \
             source `x` with table `y`. Declare it (`sources:`), so its freshness and tests are \
             governed too. Reported under the platform's enforcement level."
        }
        Code::ModelCycle => {
            "dbt models `ref()` one another in a loop, so no order can build them. floe reports each \
             cycle once, as the path of refs from its alphabetically first model, at the `ref()` that \
             closes the first step. Move the shared logic into a model that both read."
        }
        Code::TransformsWithoutProject => {
            "The product lists `transforms`, but its directory has no `dbt_project.yml`: nothing would \
             build them, and the job floe generates would run dbt on an empty project. Add the dbt \
             project beside `floe.yaml`; `floe new product` scaffolds one."
        }
        Code::UndefinedVar => {
            "A model's SQL calls `ref(var('x'))`, and `x` is neither under `vars:` in \
             `dbt_project.yml` (globally or scoped to the project) nor given a default \
             (`var('x', 'model')`). dbt fails to compile such a model (\"Required var 'x' not found\"), and \
             the job floe generates passes no `--vars`. floe reads a defined var as the model it \
             names and checks that ref like any other. Reported under the platform's enforcement level."
        }
        Code::NamingViolation => {
            "A model name does not follow `governance.naming`: `medallion` wants `bronze_`, `silver_` or \
             `gold_` and a lowercase rest; `kimball` wants `dim_`, `fact_` or `bridge_`; `custom` wants \
             a match of one of `custom_patterns`. floe suggests a rename from the name's prefix \
             (`stg_` reads as bronze, `int_` as silver, `mart_` as gold). Severity follows \
             `naming.enforcement`, capped by the platform's enforcement level."
        }
        Code::UnsafePattern => {
            "A regular expression in the manifest (`naming.custom_patterns`, a `naming_convention` \
             policy, `secret_scanning.custom_patterns`) does not compile, is longer than floe accepts, \
             or nests unbounded quantifiers (`(a+)+`, `(\\w+\\s?)*`) or overlapping alternatives under \
             a quantifier. floe's own engine runs in linear time, but the same manifest is read by \
             tools whose engines backtrack, where such a pattern can take exponential time. Rewrite \
             it without the nesting; the help shows a safe form when one is obvious."
        }
        Code::CoverageBelowThreshold => {
            "Fewer of a model's documented columns carry a data test than `quality_gates` requires. The \
             threshold is `layer_thresholds` for the model's layer (its transform's `tier`, else its \
             name prefix) or `minimum_test_coverage`. A model without columns has no ratio and never \
             fails. Blocks the build only when `block_on_failure` is true."
        }
        Code::ModelDescriptionMissing => {
            "`quality_gates.require_descriptions` is on and a model has no `description` in its \
             property file (or has no property file). Describe what the model holds and where it \
             comes from."
        }
        Code::ColumnDescriptionMissing => {
            "`quality_gates.require_column_descriptions` is on and a documented column has no \
             `description`."
        }
        Code::PlaceholderDescription => {
            "A description that only stands in for one (`TBD`, `TODO: …`, `N/A`, `...`). Always a \
             warning: the text exists but documents nothing."
        }
        Code::MissingTagsForPrefix => {
            "A `require_tags_for_prefix` custom rule: models whose name starts with `prefix` (and \
             match `applies_to`) must carry every tag in `required_tags`, from their dbt YAML or \
             their transform's `tags` in floe.yaml."
        }
        Code::MissingMetaField => {
            "A `require_meta_field` custom rule: models matching `applies_to` must set `meta.<field>` \
             (non-empty when `required` is true) in their dbt YAML."
        }
        Code::MissingTestsOfType => {
            "A `require_tests_of_type` custom rule: at least `min_columns` columns of each model \
             matching `applies_to` must carry each test in `test_types` (`not_null`, or a package \
             test such as `dbt_expectations.expect_column_values_to_be_between`)."
        }
        Code::PolicyRequiredTags => {
            "A `required_tags` policy (`governance.policies`): every model matching `config.applies_to` \
             must carry `config.tags`. Severity is the policy's `action`: `warn`, `error`, or `block` \
             (an error even under `policy_enforcement_level: warn`)."
        }
        Code::PolicyNaming => {
            "A `naming_convention` policy: model names matching `config.applies_to` must match the \
             regex `config.pattern`."
        }
        Code::PolicyMaxTransforms => {
            "A `max_transforms` policy: a product may declare at most `config.max` transforms. Split a \
             larger product into products that share data through ports."
        }
        Code::PolicyCondition => {
            "A `custom` policy's `config.condition` is false for a model. Conditions are written in \
             floe's expression language (docs/reference/policy-expressions.md) over the model's name, \
             description, tags, meta, columns, tests, layer, coverage and dependencies."
        }
        Code::InvalidPolicy => {
            "A policy or override floe cannot evaluate: a condition that does not parse or fails on a \
             model (a type error such as `len(3)`), a policy without the config key its type needs or \
             with one it does not read, an override naming a policy type that does not exist, or an \
             expiry that is not a calendar date. A policy that cannot be evaluated always blocks: it \
             would otherwise pass everything silently."
        }
        Code::SecretInSource => {
            "Secret scanning found what looks like a live credential (a cloud key, a token, a private \
             key, a password in a URL or an assignment) in an input file. floe never prints the value \
             and masks it in every output, but the file itself holds it: remove it, rotate the \
             credential, and reference it instead (`secret_ref`, `{{ env_var('…') }}`). Exclude test \
             fixtures with `secret_scanning.exclude_patterns`."
        }
        Code::OverrideExpired => {
            "A `policy_overrides` entry has an `expires` date before the evaluation date \
             (`SOURCE_DATE_EPOCH`, else today's UTC date), so it no longer applies and the violations \
             it excused are reported again. Fix them, or extend the date with a new reason."
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
