//! Governance enforcement: a product's dbt project checked against every
//! policy of its platform's `governance` block, in one pass.
//!
//! Each check yields findings with a policy severity; then, in this order:
//! 1. the platform's `policy_enforcement_level` caps them: `off` checks
//!    nothing, `warn` turns every error into a warning (except policies whose
//!    action is `block`), `strict` keeps them;
//! 2. `policy_overrides` apply, first match wins: `exclude` drops the finding,
//!    `downgrade` makes it a warning; an override past its `expires` date is
//!    ignored and reported once;
//! 3. an error blocks the build unless it comes from a quality gate (coverage,
//!    documentation) and `quality_gates.block_on_failure` is false. The report
//!    keeps such a finding an error and `passed` true; the build shows it as a
//!    warning.

use std::collections::{BTreeMap, BTreeSet};

use floe_schemas::diag::{self, Code, Diagnostic, Severity, Span};
use floe_schemas::enforcement::{EnforcementResult, EnforcementSummary, PolicyKind, Violation, ViolationSeverity};
use floe_schemas::manifest::{
    CustomRule, GovernanceConfig, OverrideAction, PolicyAction, PolicyDefinitionConfig, PolicyEnforcementLevel,
    PolicyOverride, PolicyType, QualityGatesConfig, ZeroColumnCoverage,
};
use floe_schemas::spec::{FloeSpec, Tier};
use floe_schemas::yaml::LazyNode;
use serde_json::{Value, json};

use crate::dbt::{Dependency, Model, ModelDoc, Project};
use crate::naming::{self, Layer, Naming};
use crate::resolve::{Origin, ResolvedPlatform};
use crate::scan::Finding;

/// What enforcement reads.
pub struct Input<'a> {
    /// The product's label (`//sales/orders`).
    pub product: &'a str,
    pub spec: &'a FloeSpec,
    /// `floe.yaml`, workspace-relative, and its tree for positions.
    pub spec_file: &'a str,
    pub spec_node: &'a LazyNode<'a>,
    /// Whether the product has a dbt project; without one only product-wide
    /// policies and secret scanning apply.
    pub has_project: bool,
    pub project: &'a Project,
    /// The dbt project's `version`.
    pub dbt_version: &'a str,
    pub platform: &'a ResolvedPlatform,
    /// What secret scanning found in the product's files.
    pub secrets: &'a [(String, Finding)],
    /// How many of the product's files secret scanning read.
    pub files_scanned: usize,
    /// `YYYY-MM-DD`, against which override expiry is judged (see [`needs_date`]).
    pub today: &'a str,
    /// RFC 3339, for the report.
    pub timestamp: &'a str,
    /// The product's domain (or `default`), for policy conditions.
    pub domain: &'a str,
}

/// The report, the same violations as diagnostics, and where each points.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub result: EnforcementResult,
    pub diagnostics: Vec<Diagnostic>,
    /// `locations[i]` is where `result.violations[i]` is written.
    pub locations: Vec<Option<(String, Span)>>,
    /// The policy types that ran (`coverage`, `naming`, …), sorted.
    pub checked: Vec<&'static str>,
    /// How many files secret scanning read.
    pub files_scanned: usize,
}

/// Whether enforcement under `gov` depends on the date: only expiring
/// overrides read it, so only their products' keys carry it.
pub fn needs_date(gov: &GovernanceConfig) -> bool {
    gov.policy_overrides.iter().any(|o| o.expires.is_some())
}

/// The effective enforcement level.
pub fn level(gov: Option<&GovernanceConfig>) -> PolicyEnforcementLevel {
    gov.and_then(|g| g.policy_enforcement_level).unwrap_or_default()
}

struct Issue {
    code: Code,
    kind: PolicyKind,
    model: String,
    column: Option<String>,
    message: String,
    expected: String,
    actual: String,
    suggestion: String,
    url: String,
    at: Option<(String, Span)>,
    severity: Severity,
    /// Coverage and documentation: `block_on_failure` decides whether it blocks.
    gate: bool,
    /// A policy with `action: block`: not capped by `warn`.
    block: bool,
    notes: Vec<(String, Span, String)>,
}

impl Issue {
    fn new(code: Code, kind: PolicyKind, model: &str, message: String) -> Issue {
        Issue {
            code,
            kind,
            model: model.to_owned(),
            column: None,
            message,
            expected: String::new(),
            actual: String::new(),
            suggestion: String::new(),
            url: String::new(),
            at: None,
            severity: Severity::Error,
            gate: false,
            block: false,
            notes: Vec::new(),
        }
    }

    fn expect(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Issue {
        self.expected = expected.into();
        self.actual = actual.into();
        self
    }

    fn fix(mut self, suggestion: impl Into<String>, url: impl Into<String>) -> Issue {
        self.suggestion = suggestion.into();
        self.url = url.into();
        self
    }

    fn at(mut self, at: Option<(String, Span)>) -> Issue {
        self.at = at;
        self
    }
}

/// Checks the product's project against every policy.
pub fn enforce(input: &Input<'_>) -> Output {
    let gov_owned = GovernanceConfig::default();
    let gov = input.platform.manifest.governance.as_ref().unwrap_or(&gov_owned);
    let level = level(Some(gov));
    let ctx = Context::new(input);
    let mut findings = Vec::new();
    // What ran, for the compiled artifacts' `policy_types_checked`.
    let mut checked = BTreeSet::new();
    if level != PolicyEnforcementLevel::Off && input.files_scanned > 0 {
        checked.insert(PolicyKind::SecretScanning);
        secrets(input, &mut findings);
    }
    if level != PolicyEnforcementLevel::Off && input.has_project {
        checked.insert(PolicyKind::Semantic);
        ctx.cross_check(&mut findings);
        ctx.semantic(&mut findings);
        if let Some(naming) = &gov.naming
            && naming.enforcement != PolicyEnforcementLevel::Off
            && let Ok(rule) = Naming::new(naming)
        {
            let sev = match naming.enforcement {
                PolicyEnforcementLevel::Strict => Severity::Error,
                _ => Severity::Warning,
            };
            checked.insert(PolicyKind::Naming);
            ctx.naming(&rule, sev, &mut findings);
        }
        if let Some(gates) = &gov.quality_gates {
            checked.extend([PolicyKind::Coverage, PolicyKind::Documentation]);
            ctx.coverage(gates, &mut findings);
            ctx.documentation(gates, &mut findings);
        }
        for (i, rule) in gov.custom_rules.iter().enumerate() {
            checked.insert(PolicyKind::Custom);
            ctx.custom_rule(i, rule, &mut findings);
        }
    }
    if level != PolicyEnforcementLevel::Off {
        for (i, policy) in gov.policies.iter().flatten().enumerate() {
            checked.insert(match policy.policy_type {
                PolicyType::NamingConvention => PolicyKind::Naming,
                _ => PolicyKind::Custom,
            });
            ctx.policy(i, policy, &mut findings);
        }
    }
    let block_gates = gov.quality_gates.as_ref().is_none_or(|g| g.block_on_failure);
    let mut output = finish(input, gov, level, block_gates, &ctx, findings);
    let mut names: Vec<&'static str> = checked.into_iter().map(PolicyKind::as_str).collect();
    names.sort_unstable();
    output.checked = names;
    output
}

fn finish(
    input: &Input<'_>,
    gov: &GovernanceConfig,
    level: PolicyEnforcementLevel,
    block_gates: bool,
    ctx: &Context<'_>,
    findings: Vec<Issue>,
) -> Output {
    let mut summary = EnforcementSummary { total_models: ctx.models.len() as u32, ..EnforcementSummary::default() };
    // A model an override excludes from every policy is not validated.
    let excluded = ctx.models.keys().filter(|m| {
        gov.policy_overrides.iter().any(|o| {
            o.action == OverrideAction::Exclude
                && o.policy_types.is_none()
                && crate::glob::matches(&o.pattern, m)
                && !expired(o, input.today)
        })
    });
    summary.models_validated = summary.total_models - excluded.count() as u32;
    let mut diagnostics = expired_overrides(input, gov);
    let mut violations = Vec::new();
    let mut locations = Vec::new();
    let mut passed = true;
    for mut f in findings {
        if level == PolicyEnforcementLevel::Warn && !f.block {
            f.severity = Severity::Warning;
        }
        let mut applied = None;
        if let Some((i, o)) = gov.policy_overrides.iter().enumerate().find(|(_, o)| applies(o, &f, input.today)) {
            summary.overrides_applied += 1;
            match o.action {
                OverrideAction::Exclude => continue,
                OverrideAction::Downgrade => {
                    f.severity = Severity::Warning;
                    applied = Some((i, o.pattern.clone()));
                }
            }
        }
        let blocking = f.severity == Severity::Error && (!f.gate || block_gates);
        passed &= !blocking;
        *match f.kind {
            PolicyKind::Naming => &mut summary.naming_violations,
            PolicyKind::Coverage => &mut summary.coverage_violations,
            PolicyKind::Documentation => &mut summary.documentation_violations,
            PolicyKind::Semantic => &mut summary.semantic_violations,
            PolicyKind::Custom => &mut summary.custom_rule_violations,
            PolicyKind::DataContract => &mut summary.contract_violations,
            PolicyKind::Rbac => &mut summary.rbac_violations,
            PolicyKind::SecretScanning => &mut summary.secret_violations,
            PolicyKind::NetworkPolicy => &mut summary.network_policy_violations,
        } += 1;
        let mut help = f.suggestion.clone();
        if f.severity == Severity::Error && !blocking {
            help.push_str("\n(not blocking: `quality_gates.block_on_failure` is false)");
        }
        let mut d = Diagnostic {
            severity: if blocking { Severity::Error } else { Severity::Warning },
            ..Diagnostic::error(f.code, f.message.clone())
        }
        .with_help(help);
        if let Some((file, span)) = &f.at {
            d = d.at(file, *span);
        }
        if let Some((i, p)) = &applied
            && let Some(o) = input.platform.origin(&format!("governance.policy_overrides[{i}].pattern"))
        {
            d = d.with_note(&o.file, origin_span(o), format!("downgraded by the override `{p}`"));
        }
        for (file, span, message) in &f.notes {
            d = d.with_note(file, *span, message.clone());
        }
        diagnostics.push(d);
        let downstream = ctx.downstream(&f.model);
        violations.push(Violation {
            error_code: format!("FLOE-{}", f.code.as_str()),
            // One severity everywhere: what the terminal shows is what the
            // reports say (a gate that does not block is a warning).
            severity: if blocking { ViolationSeverity::Error } else { ViolationSeverity::Warning },
            policy_type: f.kind,
            model_name: f.model,
            column_name: f.column,
            message: f.message,
            expected: f.expected,
            actual: f.actual,
            suggestion: f.suggestion,
            documentation_url: f.url,
            downstream_impact: (!downstream.is_empty()).then_some(downstream),
            first_detected: None,
            occurrences: None,
            override_applied: applied.map(|(_, p)| p),
        });
        locations.push(f.at);
    }
    // Report order: by model, then errors first, then code.
    let mut order: Vec<usize> = (0..violations.len()).collect();
    order.sort_by(|&a, &b| {
        let (va, vb) = (&violations[a], &violations[b]);
        (&va.model_name, va.severity, &va.error_code, &va.column_name, &va.message).cmp(&(
            &vb.model_name,
            vb.severity,
            &vb.error_code,
            &vb.column_name,
            &vb.message,
        ))
    });
    let violations: Vec<Violation> = order.iter().map(|&i| violations[i].clone()).collect();
    let locations = order.iter().map(|&i| locations[i].clone()).collect();
    diag::sort(&mut diagnostics);
    let result = EnforcementResult {
        passed,
        violations,
        summary,
        enforcement_level: level,
        manifest_version: input.dbt_version.to_owned(),
        timestamp: input.timestamp.to_owned(),
    };
    Output { result, diagnostics, locations, checked: Vec::new(), files_scanned: input.files_scanned }
}

/// Secret-scanning findings in the product's files, as issues.
fn secrets(input: &Input<'_>, out: &mut Vec<Issue>) {
    for (file, f) in input.secrets {
        let model = match file.rsplit_once('/').map_or(file.as_str(), |(_, n)| n).strip_suffix(".sql") {
            Some(model) => model.to_owned(),
            None => input.spec.metadata.name.clone(),
        };
        let mut issue = Issue::new(Code::SecretInSource, PolicyKind::SecretScanning, &model, secret_message(file, f))
            .expect("no secret values in source files", format!("a value matching `{}`", f.rule))
            .fix(SECRET_HELP, "https://floe.dev/reference/errors#e0750")
            .at(Some((file.clone(), secret_span(f))));
        issue.severity = severity_of(f.severity);
        out.push(issue);
    }
}

const SECRET_HELP: &str = "remove the value and rotate it; reference it instead (`secret_ref`, `{{ env_var('…') }}`), or exclude the file with `secret_scanning.exclude_patterns`";

/// Where a secret is and which pattern found it; never the value.
fn secret_message(file: &str, f: &Finding) -> String {
    format!("{file}:{}:{} holds what looks like a secret ({})", f.line, f.column, f.rule)
}

fn secret_span(f: &Finding) -> Span {
    Span { line: f.line, column: f.column, offset: f.offset, len: f.bytes }
}

fn severity_of(s: floe_schemas::manifest::SecretSeverity) -> Severity {
    match s {
        floe_schemas::manifest::SecretSeverity::Error => Severity::Error,
        floe_schemas::manifest::SecretSeverity::Warning => Severity::Warning,
    }
}

/// Secret-scanning findings of a platform's own manifest, as diagnostics.
pub fn secret_diagnostics(
    found: impl Iterator<Item = (String, Finding)>,
    level: PolicyEnforcementLevel,
) -> Vec<Diagnostic> {
    if level == PolicyEnforcementLevel::Off {
        return Vec::new();
    }
    found
        .map(|(file, f)| {
            let severity = match level {
                PolicyEnforcementLevel::Strict => severity_of(f.severity),
                _ => Severity::Warning,
            };
            Diagnostic { severity, ..Diagnostic::error(Code::SecretInSource, secret_message(&file, &f)) }
                .at(&file, secret_span(&f))
                .with_help(SECRET_HELP)
        })
        .collect()
}

/// The report's violations as diagnostics at their locations, for SARIF: what
/// the report says, pointing only into the product's own files.
pub fn located(out: &Output) -> Vec<Diagnostic> {
    out.result
        .violations
        .iter()
        .zip(&out.locations)
        .filter_map(|(v, at)| {
            let code = Code::parse(v.error_code.strip_prefix("FLOE-")?)?;
            let mut d = Diagnostic::error(code, v.message.clone()).with_help(v.suggestion.clone());
            if v.severity == ViolationSeverity::Warning {
                d.severity = Severity::Warning;
            }
            if let Some((file, span)) = at {
                d = d.at(file, *span);
            }
            Some(d)
        })
        .collect()
}

fn origin_span(o: &Origin) -> Span {
    o.span()
}

fn expired(o: &PolicyOverride, today: &str) -> bool {
    o.expires.as_deref().is_some_and(|e| e < today)
}

fn applies(o: &PolicyOverride, f: &Issue, today: &str) -> bool {
    crate::glob::matches(&o.pattern, &f.model)
        && o.policy_types.as_ref().is_none_or(|t| t.iter().any(|t| t == f.kind.as_str()))
        && !expired(o, today)
}

fn expired_overrides(input: &Input<'_>, gov: &GovernanceConfig) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, o) in gov.policy_overrides.iter().enumerate() {
        let Some(expires) = o.expires.as_deref().filter(|_| expired(o, input.today)) else { continue };
        let mut d = Diagnostic::warning(
            Code::OverrideExpired,
            format!("the policy override `{}` expired on {expires} and no longer applies", o.pattern),
        )
        .with_help(format!(
            "fix what it excused ({}), or extend `expires` with a new reason",
            o.reason.lines().next().unwrap_or_default()
        ));
        if let Some(origin) = input.platform.origin(&format!("governance.policy_overrides[{i}].expires")) {
            d = d.at(&origin.file, origin_span(origin));
        }
        out.push(d);
    }
    out
}

/// The project as the checks see it.
struct Context<'a> {
    input: &'a Input<'a>,
    /// The models policies judge, by name: those with SQL, and those a
    /// property file documents for a transform (whose missing SQL is E0601).
    models: BTreeMap<&'a str, &'a Model>,
    /// Transforms by name.
    transforms: BTreeMap<&'a str, (usize, &'a floe_schemas::spec::TransformSpec)>,
    /// Model to the models that ref it.
    children: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Context<'a> {
    fn new(input: &'a Input<'a>) -> Context<'a> {
        let transforms: BTreeMap<&str, (usize, &floe_schemas::spec::TransformSpec)> =
            input.spec.transforms.iter().enumerate().map(|(i, t)| (t.name.as_str(), (i, t))).collect();
        let models: BTreeMap<&str, &Model> = input
            .project
            .models
            .iter()
            .filter(|(k, m)| m.sql.is_some() || (m.doc.is_some() && transforms.contains_key(k.as_str())))
            .map(|(k, m)| (k.as_str(), m))
            .collect();
        let mut children: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, m) in &models {
            for dep in m.sql.iter().flat_map(|(_, deps)| deps) {
                if let Dependency::Ref { package: None, model, .. } = dep
                    && models.contains_key(model.as_str())
                {
                    children.entry(model.as_str()).or_default().insert(name);
                }
            }
        }
        Context { input, models, transforms, children }
    }

    /// Every model that depends on `model`, directly or not, sorted.
    fn downstream(&self, model: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![model];
        while let Some(m) = stack.pop() {
            for c in self.children.get(m).into_iter().flatten() {
                if *c != model && seen.insert(*c) {
                    stack.push(c);
                }
            }
        }
        seen.into_iter().map(str::to_owned).collect()
    }

    fn sql_file(&self, m: &Model) -> Option<(String, Span)> {
        m.sql.as_ref().map(|(f, _)| (f.clone(), Span::START))
    }

    /// Where a model is best shown: its entry in a property file, else its SQL.
    fn model_at(&self, m: &Model) -> Option<(String, Span)> {
        match &m.doc {
            Some((f, doc)) => Some((f.clone(), doc.span)),
            None => self.sql_file(m),
        }
    }

    fn tags(&self, name: &str, m: &Model) -> BTreeSet<String> {
        let mut tags: BTreeSet<String> = m.doc.iter().flat_map(|(_, d)| d.tags.iter().cloned()).collect();
        if let Some((_, t)) = self.transforms.get(name) {
            tags.extend(t.tags.iter().flatten().cloned());
        }
        tags
    }

    fn layer(&self, name: &str) -> Option<Layer> {
        let tier = self.transforms.get(name).and_then(|(_, t)| t.tier);
        match tier {
            Some(Tier::Bronze) => Some(Layer::Bronze),
            Some(Tier::Silver) => Some(Layer::Silver),
            Some(Tier::Gold) => Some(Layer::Gold),
            None => naming::layer_of_prefix(name),
        }
    }

    fn transform_at(&self, name: &str) -> Option<(String, Span)> {
        let (i, _) = self.transforms.get(name)?;
        let span = self.input.spec_node.span_at(&["transforms", &i.to_string(), "name"]);
        Some((self.input.spec_file.to_owned(), span))
    }

    /// Transforms and models, both ways, and `dependsOn` against `ref()`.
    fn cross_check(&self, out: &mut Vec<Issue>) {
        let spec_file = self.input.spec_file;
        for (name, (i, t)) in &self.transforms {
            let Some(model) = self.models.get(name).filter(|m| m.sql.is_some()) else {
                let with_sql =
                    self.models.iter().filter(|(m, model)| *m != name && model.sql.is_some()).map(|(m, _)| *m);
                let help = match diag::suggest(name, with_sql) {
                    Some(s) => format!("did you mean the model `{s}`? otherwise add `models/{name}.sql`"),
                    None => format!("add `models/{name}.sql`, or remove the transform"),
                };
                out.push(
                    Issue::new(
                        Code::TransformWithoutModel,
                        PolicyKind::Semantic,
                        name,
                        format!("transform `{name}` has no dbt model"),
                    )
                    .expect(format!("a model `{name}` in the dbt project"), "no SQL file of that name")
                    .fix(help, url(Code::TransformWithoutModel))
                    .at(self.transform_at(name)),
                );
                continue;
            };
            let Some((sql_file, deps)) = &model.sql else { continue };
            let declared: BTreeSet<&str> = t.depends_on.iter().flatten().map(String::as_str).collect();
            let mut referenced = BTreeSet::new();
            for dep in deps {
                if let Dependency::Ref { package: None, model: m, span, .. } = dep {
                    referenced.insert(m.as_str());
                    if self.transforms.contains_key(m.as_str()) && !declared.contains(m.as_str()) {
                        let mut f = Issue::new(
                            Code::DependsOnMismatch,
                            PolicyKind::Semantic,
                            name,
                            format!("`{name}` refs `{m}`, but its `dependsOn` does not list it"),
                        )
                        .expect(format!("`{m}` in `dependsOn`"), "missing")
                        .fix(
                            format!("add `{m}` to the `dependsOn` of `{name}` in floe.yaml"),
                            url(Code::DependsOnMismatch),
                        )
                        .at(Some((sql_file.clone(), *span)));
                        if let Some((file, span)) = self.transform_at(name) {
                            f.notes.push((file, span, "the transform".to_owned()));
                        }
                        out.push(f);
                    }
                }
            }
            for (j, d) in t.depends_on.iter().flatten().enumerate() {
                if self.transforms.contains_key(d.as_str()) && !referenced.contains(d.as_str()) {
                    let span =
                        self.input.spec_node.span_at(&["transforms", &i.to_string(), "dependsOn", &j.to_string()]);
                    out.push(
                        Issue::new(
                            Code::DependsOnMismatch,
                            PolicyKind::Semantic,
                            name,
                            format!("`{name}` lists `{d}` in `dependsOn`, but its SQL never refs it"),
                        )
                        .expect(format!("a `ref('{d}')` in {sql_file}"), "none")
                        .fix(
                            format!("ref it in `{sql_file}`, or remove it from `dependsOn`"),
                            url(Code::DependsOnMismatch),
                        )
                        .at(Some((spec_file.to_owned(), span))),
                    );
                }
            }
        }
        for (name, model) in &self.input.project.models {
            if self.transforms.contains_key(name.as_str()) {
                continue;
            }
            let at = match (&model.sql, &model.doc) {
                (Some((f, _)), _) => (f.clone(), Span::START),
                (None, Some((f, doc))) => (f.clone(), doc.span),
                (None, None) => continue,
            };
            out.push(
                Issue::new(
                    Code::ModelWithoutTransform,
                    PolicyKind::Semantic,
                    name,
                    format!("dbt model `{name}` has no transform in floe.yaml"),
                )
                .expect(format!("a transform `{name}` in floe.yaml"), "none")
                .fix(
                    format!("add `- name: {name}` to `transforms`, or remove the model"),
                    url(Code::ModelWithoutTransform),
                )
                .at(Some(at)),
            );
        }
    }

    /// Unknown refs, undeclared sources and cycles, over every model.
    fn semantic(&self, out: &mut Vec<Issue>) {
        for (name, m) in &self.models {
            let Some((sql_file, deps)) = &m.sql else { continue };
            for dep in deps {
                match dep {
                    Dependency::Ref { package, model, var, span } => {
                        if let Some(issue) = self.unknown_ref(name, package.as_deref(), model, var.as_deref()) {
                            out.push(issue.at(Some((sql_file.clone(), *span))));
                        }
                    }
                    Dependency::Var { name: var, default: None, span } => {
                        out.push(
                            Issue::new(
                                Code::UndefinedVar,
                                PolicyKind::Semantic,
                                name,
                                format!("model `{name}` refs the model named by var `{var}`, which dbt_project.yml does not define"),
                            )
                            .expect(format!("var `{var}` under `vars:` in dbt_project.yml"), "not defined, and no default")
                            .fix(
                                match diag::suggest(var, self.input.project.settings.vars.keys().map(String::as_str)) {
                                    Some(s) => format!("did you mean var `{s}`?"),
                                    None => format!(
                                        "define it (`vars: {{{var}: <model>}}`), or give a default: `ref(var('{var}', '<model>'))`"
                                    ),
                                },
                                url(Code::UndefinedVar),
                            )
                            .at(Some((sql_file.clone(), *span))),
                        );
                    }
                    Dependency::Source { source, table, span }
                        if !self.input.project.sources.contains(&(source.clone(), table.clone())) =>
                    {
                        out.push(
                            Issue::new(
                                Code::UndefinedSource,
                                PolicyKind::Semantic,
                                name,
                                format!("model `{name}` reads source `{source}.{table}`, which no property file declares"),
                            )
                            .expect(
                                format!("Source '{source}.{table}' should be defined in a sources.yml file"),
                                format!("source('{source}', '{table}') resolves to nothing"),
                            )
                            .fix(
                                format!(
                                    "declare the source in a property file:\n  sources:\n    - name: {source}\n      tables:\n        - name: {table}"
                                ),
                                "https://floe.dev/docs/enforcement/semantic#missing-source",
                            )
                            .at(Some((sql_file.clone(), *span))),
                        );
                    }
                    _ => {}
                }
            }
        }
        for cycle in self.cycles() {
            let first = cycle[0];
            let next = cycle[1 % cycle.len()];
            let m = self.models[first];
            let span = m.sql.iter().flat_map(|(_, deps)| deps).find_map(|d| match d {
                Dependency::Ref { package: None, model, span, .. } if model == next => Some(*span),
                _ => None,
            });
            let path: Vec<&str> = cycle.iter().copied().chain([first]).collect();
            let path = path.join(" → ");
            out.push(
                Issue::new(
                    Code::ModelCycle,
                    PolicyKind::Semantic,
                    first,
                    format!("models depend on one another in a cycle: {path}"),
                )
                .expect("models that form a DAG", format!("cycle {path}"))
                .fix(
                    "break the cycle: move the shared logic into a model that both read",
                    "https://floe.dev/docs/enforcement/semantic#cycles",
                )
                .at(self.sql_file(m).map(|(f, s)| (f, span.unwrap_or(s)))),
            );
        }
    }

    /// The finding for a `ref()` that names nothing dbt could resolve. A
    /// one-argument `ref()` may name a model of a declared package, which floe
    /// does not read: such a name is reported only when it is close to one of
    /// this project's (a typo, most likely).
    fn unknown_ref(&self, name: &str, package: Option<&str>, model: &str, var: Option<&str>) -> Option<Issue> {
        let project = self.input.project;
        let packages = project.packages.as_ref();
        let shown = match var {
            Some(var) => format!("`{model}` (the value of var `{var}`)"),
            None => format!("`{model}`"),
        };
        if let Some(package) = package {
            // Another package's model: only the package's name can be checked.
            if packages.is_some_and(|p| p.may_be(package)) {
                return None;
            }
            let known = packages.map(|p| p.names.iter().map(String::as_str)).into_iter().flatten();
            let help = match diag::suggest(package, known.chain(project.settings.name.as_deref())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("declare the package in packages.yml, or name only the model: `ref('{model}')`"),
            };
            let message =
                format!("model `{name}` refs {shown} of package `{package}`, which the project does not declare");
            return Some(
                Issue::new(Code::UnknownModel, PolicyKind::Semantic, name, message)
                    .expect(format!("a package `{package}` in packages.yml"), "no such package")
                    .fix(help, "https://floe.dev/docs/enforcement/semantic#missing-ref"),
            );
        }
        if self.models.contains_key(model) || project.has_node(model) {
            return None;
        }
        let nodes = self.models.keys().copied().chain(project.seeds.iter().map(String::as_str));
        let suggestion = diag::suggest(model, nodes.chain(project.snapshots.iter().map(String::as_str)));
        let help = match (suggestion, packages) {
            (None, Some(_)) => return None,
            (Some(s), None) => format!("did you mean `{s}`?"),
            (Some(s), Some(_)) => {
                format!("did you mean `{s}`? (a model of a package is named with it: `ref('<package>', '{model}')`)")
            }
            (None, None) => {
                "ref() names a model, seed or snapshot of this project, or `ref('package', 'model')`".to_owned()
            }
        };
        Some(
            Issue::new(
                Code::UnknownModel,
                PolicyKind::Semantic,
                name,
                format!("model `{name}` refs {shown}, which is no model, seed or snapshot of the project"),
            )
            .expect(format!("a model '{model}' in this project"), format!("ref('{model}') resolves to nothing"))
            .fix(help, "https://floe.dev/docs/enforcement/semantic#missing-ref"),
        )
    }

    /// Each strongly connected set of models, as a path starting at its
    /// smallest name and following refs.
    fn cycles(&self) -> Vec<Vec<&'a str>> {
        let edges: BTreeMap<&str, Vec<&str>> = self
            .models
            .iter()
            .map(|(name, m)| {
                let mut to: Vec<&str> = m
                    .sql
                    .iter()
                    .flat_map(|(_, deps)| deps)
                    .filter_map(|d| match d {
                        Dependency::Ref { package: None, model, .. } => {
                            self.models.get_key_value(model.as_str()).map(|(k, _)| *k)
                        }
                        _ => None,
                    })
                    .collect();
                to.sort();
                to.dedup();
                (*name, to)
            })
            .collect();
        let mut out = Vec::new();
        let mut done: BTreeSet<&str> = BTreeSet::new();
        for &start in edges.keys() {
            if done.contains(start) {
                continue;
            }
            // The shortest path from a successor of `start` back to it, by BFS.
            let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut found = false;
            while let Some(n) = queue.pop_front() {
                for &to in &edges[n] {
                    if to == start {
                        prev.insert(start, n);
                        found = true;
                        break;
                    }
                    if !prev.contains_key(to) && !done.contains(to) {
                        prev.insert(to, n);
                        queue.push_back(to);
                    }
                }
                if found {
                    break;
                }
            }
            if !found {
                continue;
            }
            let mut cycle = vec![start];
            let mut n = prev[start];
            while n != start {
                cycle.push(n);
                n = prev[n];
            }
            cycle[1..].reverse();
            done.extend(cycle.iter().copied());
            out.push(cycle);
        }
        out
    }

    fn naming(&self, rule: &Naming, severity: Severity, out: &mut Vec<Issue>) {
        for (name, m) in &self.models {
            if let Some(v) = rule.check(name) {
                let mut f = Issue::new(Code::NamingViolation, PolicyKind::Naming, name, v.message)
                    .expect(v.expected, v.actual)
                    .at(self.model_at(m));
                f.suggestion = v.suggestion;
                f.url = v.documentation_url;
                f.severity = severity;
                out.push(f);
            }
        }
    }

    fn coverage(&self, gates: &QualityGatesConfig, out: &mut Vec<Issue>) {
        for (name, m) in &self.models {
            let columns = m.doc.as_ref().map_or(&[][..], |(_, d)| &d.columns[..]);
            // No columns, no ratio: never a violation (see `coverage_of`).
            if columns.is_empty() {
                continue;
            }
            let layer = self.layer(name);
            let threshold = match (&gates.layer_thresholds, layer) {
                (Some(t), Some(Layer::Bronze)) => t.bronze,
                (Some(t), Some(Layer::Silver)) => t.silver,
                (Some(t), Some(Layer::Gold)) => t.gold,
                _ => gates.minimum_test_coverage,
            };
            let tested = columns.iter().filter(|c| !c.tests.is_empty()).count();
            let pct = tested as f64 * 100.0 / columns.len() as f64;
            if pct + 1e-9 >= f64::from(threshold) {
                continue;
            }
            let untested: Vec<&str> = columns.iter().filter(|c| c.tests.is_empty()).map(|c| c.name.as_str()).collect();
            let layer_note = match (&gates.layer_thresholds, layer) {
                (Some(_), Some(l)) => format!(" ({} layer)", l.as_str()),
                _ => String::new(),
            };
            let mut f = Issue::new(
                Code::CoverageBelowThreshold,
                PolicyKind::Coverage,
                name,
                format!("model `{name}` has {}% column test coverage, below the required {threshold}%", pct1(pct)),
            )
            .expect(
                format!("{threshold}% column-level test coverage{layer_note}"),
                format!("{}% ({tested}/{} columns tested)", pct1(pct), columns.len()),
            )
            .fix(
                format!(
                    "test the columns without tests ({}): {} more percentage points reach the threshold",
                    untested.join(", "),
                    pct_short(f64::from(threshold) - pct)
                ),
                "https://floe.dev/docs/coverage",
            )
            .at(self.model_at(m));
            f.gate = true;
            out.push(f);
        }
    }

    fn documentation(&self, gates: &QualityGatesConfig, out: &mut Vec<Issue>) {
        const URL: &str = "https://floe.dev/docs/documentation";
        for (name, m) in &self.models {
            let doc = m.doc.as_ref().map(|(_, d)| d);
            let description = doc.and_then(|d| d.description.as_deref()).map(str::trim).filter(|d| !d.is_empty());
            if gates.require_descriptions {
                match description {
                    None => {
                        let mut f = Issue::new(
                            Code::ModelDescriptionMissing,
                            PolicyKind::Documentation,
                            name,
                            format!("model `{name}` has no description"),
                        )
                        .expect("Non-empty model description", "Description is missing")
                        .fix(
                            format!("describe model `{name}` in its property file: its purpose, its data source and its business context"),
                            URL,
                        )
                        .at(self.model_at(m));
                        f.gate = true;
                        out.push(f);
                    }
                    Some(d) if is_placeholder(d) => out.push(placeholder(name, None, d, self.model_at(m))),
                    Some(_) => {}
                }
            }
            if !gates.require_column_descriptions {
                continue;
            }
            let Some((file, doc)) = &m.doc else { continue };
            for c in &doc.columns {
                let at = Some((file.clone(), c.span));
                match c.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    None => {
                        let mut f = Issue::new(
                            Code::ColumnDescriptionMissing,
                            PolicyKind::Documentation,
                            name,
                            format!("column `{}` of model `{name}` has no description", c.name),
                        )
                        .expect("Non-empty column description", "Description is missing")
                        .fix(format!("describe column `{}` of model `{name}` in {file}", c.name), URL)
                        .at(at);
                        f.column = Some(c.name.clone());
                        f.gate = true;
                        out.push(f);
                    }
                    Some(d) if is_placeholder(d) => out.push(placeholder(name, Some(&c.name), d, at)),
                    Some(_) => {}
                }
            }
        }
    }

    fn custom_rule(&self, index: usize, rule: &CustomRule, out: &mut Vec<Issue>) {
        let rule_at = self.input.platform.origin(&format!("governance.custom_rules[{index}].type")).cloned();
        for (name, m) in &self.models {
            let mut f = match rule {
                CustomRule::RequireTagsForPrefix { prefix, required_tags, applies_to } => {
                    if !name.starts_with(prefix.as_str()) || !crate::glob::matches(applies_to, name) {
                        continue;
                    }
                    let tags = self.tags(name, m);
                    let missing: Vec<&str> =
                        required_tags.iter().filter(|t| !tags.contains(*t)).map(String::as_str).collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let missing = missing.join(", ");
                    Issue::new(
                        Code::MissingTagsForPrefix,
                        PolicyKind::Custom,
                        name,
                        format!("model `{name}` (prefix `{prefix}`) lacks the required tags {missing}"),
                    )
                    .expect(
                        format!("Tags {} should be present on models with prefix '{prefix}'", required_tags.join(", ")),
                        format!("Missing tags: {missing}"),
                    )
                    .fix(
                        format!("add the missing tags to the model in its property file:\n  models:\n    - name: {name}\n      tags: [{missing}]"),
                        "https://floe.dev/docs/enforcement/custom-rules#require-tags-for-prefix",
                    )
                }
                CustomRule::RequireMetaField { field, required, applies_to } => {
                    if !crate::glob::matches(applies_to, name) {
                        continue;
                    }
                    let value = m.doc.as_ref().and_then(|(_, d)| d.meta.get(field));
                    let empty = |v: &Value| match v {
                        Value::Null => true,
                        Value::String(s) => s.trim().is_empty(),
                        Value::Array(a) => a.is_empty(),
                        Value::Object(o) => o.is_empty(),
                        _ => false,
                    };
                    let actual = match value {
                        None => "meta field is absent".to_owned(),
                        Some(v) if *required && empty(v) => format!("meta field is empty ({v})"),
                        Some(_) => continue,
                    };
                    Issue::new(
                        Code::MissingMetaField,
                        PolicyKind::Custom,
                        name,
                        format!("model `{name}` lacks the required meta field `{field}`"),
                    )
                    .expect(format!("meta.{field} set{}", if *required { " and non-empty" } else { "" }), actual)
                    .fix(
                        format!("add it to the model in its property file:\n  models:\n    - name: {name}\n      meta:\n        {field}: <value>"),
                        "https://floe.dev/docs/enforcement/custom-rules#require-meta-field",
                    )
                }
                CustomRule::RequireTestsOfType { test_types, min_columns, applies_to } => {
                    if !crate::glob::matches(applies_to, name) {
                        continue;
                    }
                    let columns = m.doc.as_ref().map_or(&[][..], |(_, d)| &d.columns[..]);
                    let short: Vec<String> = test_types
                        .iter()
                        .filter_map(|t| {
                            let n = columns.iter().filter(|c| c.tests.iter().any(|x| test_is(x, t))).count();
                            (n < *min_columns as usize).then(|| format!("{t} ({n}/{min_columns})"))
                        })
                        .collect();
                    if short.is_empty() {
                        continue;
                    }
                    Issue::new(
                        Code::MissingTestsOfType,
                        PolicyKind::Custom,
                        name,
                        format!(
                            "model `{name}` has too few columns with the required tests: {}",
                            short.join(", ")
                        ),
                    )
                    .expect(
                        format!("at least {min_columns} column(s) with each of: {}", test_types.join(", ")),
                        format!("columns per test type: {}", short.join(", ")),
                    )
                    .fix(
                        format!("add the tests to columns of `{name}` in its property file, e.g.:\n  columns:\n    - name: <column>\n      data_tests: [{}]", test_types.join(", ")),
                        "https://floe.dev/docs/enforcement/custom-rules#require-tests-of-type",
                    )
                }
            };
            f = f.at(self.model_at(m));
            if let Some(o) = &rule_at {
                f.notes.push((o.file.clone(), origin_span(o), format!("custom rule #{}", index + 1)));
            }
            out.push(f);
        }
    }

    fn policy(&self, index: usize, p: &PolicyDefinitionConfig, out: &mut Vec<Issue>) {
        let Ok(compiled) = compile_policy(p) else { return };
        let at = self.input.platform.origin(&format!("governance.policies[{index}].name")).cloned();
        let mut push = |mut f: Issue| {
            f.severity = match p.action {
                PolicyAction::Warn => Severity::Warning,
                PolicyAction::Error | PolicyAction::Block => Severity::Error,
            };
            f.block = p.action == PolicyAction::Block;
            if let Some(o) = &at {
                f.notes.push((o.file.clone(), origin_span(o), format!("policy `{}`", p.name)));
            }
            out.push(f);
        };
        const URL: &str = "https://floe.dev/docs/enforcement/policies";
        let product = &self.input.spec.metadata.name;
        if let Compiled::MaxTransforms(max) = compiled {
            let n = self.input.spec.transforms.len() as u64;
            if n > max {
                let span = self.input.spec_node.span_at(&["transforms"]);
                push(
                    Issue::new(
                        Code::PolicyMaxTransforms,
                        PolicyKind::Custom,
                        product,
                        format!("{} (policy `{}`: {n} transforms, at most {max})", p.message, p.name),
                    )
                    .expect(format!("at most {max} transforms"), format!("{n} transforms"))
                    .fix("split the product into smaller products that share data through ports", URL)
                    .at(Some((self.input.spec_file.to_owned(), span))),
                );
            }
            return;
        }
        for (name, m) in &self.models {
            if !applies_to(p, name) {
                continue;
            }
            let finding = match &compiled {
                Compiled::RequiredTags(required) => {
                    let tags = self.tags(name, m);
                    let missing: Vec<&str> =
                        required.iter().filter(|t| !tags.contains(*t)).map(String::as_str).collect();
                    if missing.is_empty() {
                        continue;
                    }
                    Issue::new(
                        Code::PolicyRequiredTags,
                        PolicyKind::Custom,
                        name,
                        format!(
                            "{} (policy `{}`: model `{name}` lacks tags {})",
                            p.message,
                            p.name,
                            missing.join(", ")
                        ),
                    )
                    .expect(format!("tags {}", required.join(", ")), format!("Missing tags: {}", missing.join(", ")))
                    .fix(
                        format!(
                            "tag `{name}` with {} in its property file or its transform in floe.yaml",
                            missing.join(", ")
                        ),
                        URL,
                    )
                }
                Compiled::Naming(re, pattern) => {
                    if re.is_match(name) {
                        continue;
                    }
                    Issue::new(
                        Code::PolicyNaming,
                        PolicyKind::Custom,
                        name,
                        format!("{} (policy `{}`: model `{name}`)", p.message, p.name),
                    )
                    .expect(format!("a name matching {pattern}"), name.to_string())
                    .fix(format!("rename `{name}` to match {pattern}"), URL)
                }
                Compiled::Custom(expr, condition) => {
                    let ctx = self.model_context(name, m);
                    match expr.eval_bool(&ctx) {
                        Ok(true) => continue,
                        Ok(false) => Issue::new(
                            Code::PolicyCondition,
                            PolicyKind::Custom,
                            name,
                            format!("{} (policy `{}`: model `{name}`)", p.message, p.name),
                        )
                        .expect(format!("`{condition}` holds"), "it is false for this model")
                        .fix(format!("change `{name}` so that `{condition}` holds"), URL),
                        Err(e) => {
                            let mut f = Issue::new(
                                Code::InvalidPolicy,
                                PolicyKind::Custom,
                                name,
                                format!("policy `{}` cannot be evaluated for model `{name}`: {}", p.name, e.message),
                            )
                            .expect(format!("`{condition}` evaluates to true or false"), e.message.clone())
                            .fix(e.help.clone().unwrap_or_else(|| "fix the condition in the manifest".to_owned()), URL);
                            f.block = true;
                            f
                        }
                    }
                }
                Compiled::MaxTransforms(_) => continue,
            };
            push(finding.at(self.model_at(m)));
        }
    }

    /// Column test coverage in percent. A model without columns has none
    /// (`report_na`, null) or counts as covered (`report_100_percent`, 100).
    fn coverage_of(&self, m: &Model) -> Option<f64> {
        let columns = m.doc.as_ref().map_or(&[][..], |(_, d)| &d.columns[..]);
        if columns.is_empty() {
            let gov = self.input.platform.manifest.governance.as_ref();
            let behavior = gov.and_then(|g| g.quality_gates.as_ref()).map(|q| q.zero_column_coverage_behavior);
            return (behavior == Some(ZeroColumnCoverage::Report100Percent)).then_some(100.0);
        }
        let tested = columns.iter().filter(|c| !c.tests.is_empty()).count();
        Some(tested as f64 * 100.0 / columns.len() as f64)
    }

    /// The values a `custom` condition sees (docs/reference/policy-expressions.md).
    fn model_context(&self, name: &str, m: &Model) -> Value {
        let doc: Option<&ModelDoc> = m.doc.as_ref().map(|(_, d)| d);
        let test_names = |tests: &[crate::dbt::TestDoc]| -> Vec<Value> {
            tests
                .iter()
                .map(|t| match &t.package {
                    Some(p) => Value::String(format!("{p}.{}", t.name)),
                    None => Value::String(t.name.clone()),
                })
                .collect()
        };
        let columns: Vec<Value> = doc
            .map(|d| {
                d.columns
                    .iter()
                    .map(|c| json!({"name": c.name, "description": c.description, "tests": test_names(&c.tests)}))
                    .collect()
            })
            .unwrap_or_default();
        let depends_on: BTreeSet<&str> = m
            .sql
            .iter()
            .flat_map(|(_, d)| d)
            .filter_map(|d| match d {
                Dependency::Ref { package: None, model, .. } => Some(model.as_str()),
                _ => None,
            })
            .collect();
        let spec = self.input.spec;
        json!({
            "name": name,
            "description": doc.and_then(|d| d.description.clone()),
            "tags": self.tags(name, m).into_iter().collect::<Vec<_>>(),
            "meta": doc.map(|d| Value::Object(d.meta.clone().into_iter().collect())).unwrap_or_else(|| json!({})),
            "columns": columns,
            "tests": doc.map(|d| test_names(&d.tests)).unwrap_or_default(),
            "layer": self.layer(name).map(Layer::as_str),
            "coverage": self.coverage_of(m),
            "materialized": doc.and_then(|d| d.materialized.clone()),
            "path": m.sql.as_ref().map(|(f, _)| f.clone()),
            "depends_on": depends_on,
            "product": {"name": spec.metadata.name, "version": spec.metadata.version, "domain": self.input.domain},
        })
    }
}

fn test_is(test: &crate::dbt::TestDoc, wanted: &str) -> bool {
    match (&test.package, wanted.rsplit_once('.')) {
        (Some(p), Some((wp, wn))) => p == wp && test.name == wn,
        (_, None) => test.name == wanted,
        (None, Some(_)) => false,
    }
}

fn placeholder(model: &str, column: Option<&str>, text: &str, at: Option<(String, Span)>) -> Issue {
    let what = match column {
        Some(c) => format!("column `{c}` of model `{model}`"),
        None => format!("model `{model}`"),
    };
    let shown: String = text.chars().take(40).collect();
    let mut f = Issue::new(
        Code::PlaceholderDescription,
        PolicyKind::Documentation,
        model,
        format!("{what} has a placeholder description"),
    )
    .expect(
        if column.is_some() { "Complete column description" } else { "Complete model description" },
        format!("Placeholder description: '{shown}'"),
    )
    .fix(
        match column {
            Some(c) => {
                format!("replace the placeholder in column `{c}` of model `{model}` with what the column holds")
            }
            None => {
                format!("replace the placeholder description of model `{model}` with what the model holds")
            }
        },
        "https://floe.dev/docs/documentation",
    )
    .at(at);
    f.column = column.map(str::to_owned);
    f.severity = Severity::Warning;
    f.gate = true;
    f
}

/// Descriptions that say nothing yet: `TBD`, `TODO: …`, `N/A`, `...`.
pub fn is_placeholder(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "tbd",
        "tba",
        "todo",
        "to do",
        "fixme",
        "wip",
        "n/a",
        "na",
        "none",
        "null",
        "placeholder",
        "description",
        "desc",
        "xxx",
        "...",
        "…",
        "-",
        "?",
        "coming soon",
        "fill me in",
        "lorem ipsum",
    ];
    let t = text.trim().trim_end_matches(['.', '!']).trim().to_lowercase();
    if t.is_empty() && !text.trim().is_empty() {
        return true;
    }
    WORDS.contains(&t.as_str())
        || ["todo:", "todo ", "tbd:", "tbd ", "fixme:", "fixme ", "lorem ipsum"].iter().any(|p| t.starts_with(p))
}

/// One decimal, as the Python implementation prints ratios (`50.0`, `66.7`).
fn pct1(v: f64) -> String {
    format!("{v:.1}")
}

/// Whole numbers without decimals (`30`), else one decimal.
fn pct_short(v: f64) -> String {
    let r = (v * 10.0).ceil() / 10.0;
    if (r - r.round()).abs() < 1e-9 { format!("{}", r.round() as i64) } else { format!("{r:.1}") }
}

fn applies_to(p: &PolicyDefinitionConfig, name: &str) -> bool {
    match p.config.get("applies_to") {
        Some(Value::String(g)) => crate::glob::matches(g, name),
        _ => true,
    }
}

/// A policy definition, checked and compiled.
pub enum Compiled {
    RequiredTags(Vec<String>),
    Naming(regex_lite::Regex, String),
    MaxTransforms(u64),
    Custom(crate::expr::Expr, String),
}

/// Why a policy definition cannot be evaluated, and which config key says so.
pub struct PolicyError {
    pub key: Option<&'static str>,
    pub message: String,
    pub help: String,
}

const POLICY_KEYS: &[(PolicyType, &[&str])] = &[
    (PolicyType::RequiredTags, &["tags", "applies_to"]),
    (PolicyType::NamingConvention, &["pattern", "applies_to"]),
    (PolicyType::MaxTransforms, &["max"]),
    (PolicyType::Custom, &["condition", "applies_to"]),
];

pub fn compile_policy(p: &PolicyDefinitionConfig) -> Result<Compiled, PolicyError> {
    let allowed = POLICY_KEYS.iter().find(|(t, _)| *t == p.policy_type).map_or(&[][..], |(_, k)| k);
    if let Some(k) = p.config.keys().find(|k| !allowed.contains(&k.as_str())) {
        let help = match diag::suggest(k, allowed.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("this policy type reads: {}", allowed.join(", ")),
        };
        return Err(PolicyError { key: None, message: format!("unknown policy config key `{k}`"), help });
    }
    if let Some(a) = p.config.get("applies_to")
        && !a.is_string()
    {
        return Err(PolicyError {
            key: Some("applies_to"),
            message: "`applies_to` must be a glob string".to_owned(),
            help: "e.g. `applies_to: \"gold_*\"`".to_owned(),
        });
    }
    let missing = |key: &'static str, help: &str| PolicyError {
        key: Some(key),
        message: format!("a `{}` policy needs `config.{key}`", policy_type_name(p.policy_type)),
        help: help.to_owned(),
    };
    match p.policy_type {
        PolicyType::RequiredTags => {
            let tags: Option<Vec<String>> = p
                .config
                .get("tags")
                .and_then(|v| v.as_array()?.iter().map(|t| t.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>());
            match tags {
                Some(t) if !t.is_empty() => Ok(Compiled::RequiredTags(t)),
                _ => Err(missing("tags", "a non-empty list of tag names, e.g. `tags: [pii-reviewed]`")),
            }
        }
        PolicyType::NamingConvention => {
            let Some(pattern) = p.config.get("pattern").and_then(Value::as_str) else {
                return Err(missing("pattern", "a regex model names must match, e.g. `pattern: \"^(stg|int|mart)_\"`"));
            };
            naming::guard(pattern).map(|re| Compiled::Naming(re, pattern.to_owned())).map_err(|e| PolicyError {
                key: Some("pattern"),
                message: e.message,
                help: e.help,
            })
        }
        PolicyType::MaxTransforms => match p.config.get("max").and_then(Value::as_u64) {
            Some(n) => Ok(Compiled::MaxTransforms(n)),
            None => Err(missing("max", "a non-negative whole number, e.g. `max: 20`")),
        },
        PolicyType::Custom => {
            let Some(condition) = p.config.get("condition").and_then(Value::as_str) else {
                return Err(missing(
                    "condition",
                    "an expression over the model, e.g. `condition: \"meta.owner != null\"`",
                ));
            };
            crate::expr::parse(condition).map(|e| Compiled::Custom(e, condition.to_owned())).map_err(|e| PolicyError {
                key: Some("condition"),
                message: format!("condition does not parse: {} (at byte {})", e.message, e.offset),
                help: e.help.unwrap_or_else(|| "see docs/reference/policy-expressions.md".to_owned()),
            })
        }
    }
}

fn policy_type_name(t: PolicyType) -> &'static str {
    match t {
        PolicyType::RequiredTags => "required_tags",
        PolicyType::NamingConvention => "naming_convention",
        PolicyType::MaxTransforms => "max_transforms",
        PolicyType::Custom => "custom",
    }
}

/// Problems of the governance block itself, reported once at the platform:
/// patterns floe rejects, policies it cannot evaluate, overrides naming
/// policy types that do not exist or dates that are not dates.
pub fn check_config(platform: &ResolvedPlatform) -> Vec<Diagnostic> {
    let Some(gov) = &platform.manifest.governance else { return Vec::new() };
    let mut out = Vec::new();
    let at = |path: String| platform.origin(&path).map(|o| (o.file.clone(), origin_span(o)));
    let mut push = |d: Diagnostic, at: Option<(String, Span)>| {
        out.push(match at {
            Some((f, s)) => d.at(&f, s),
            None => d,
        })
    };
    if let Some(naming) = &gov.naming
        && let Err(errors) = Naming::new(naming)
    {
        for e in errors {
            let d = Diagnostic::error(Code::UnsafePattern, e.message).with_help(e.help);
            let loc = at(format!("governance.naming.custom_patterns[{}]", e.index))
                .or_else(|| at("governance.naming.pattern".into()));
            push(d, loc);
        }
    }
    for (i, p) in gov.policies.iter().flatten().enumerate() {
        if let Err(e) = compile_policy(p) {
            let code = if p.policy_type == PolicyType::NamingConvention
                && e.key == Some("pattern")
                && p.config.contains_key("pattern")
            {
                Code::UnsafePattern
            } else {
                Code::InvalidPolicy
            };
            let d = Diagnostic::error(code, format!("policy `{}`: {}", p.name, e.message)).with_help(e.help);
            let loc = e
                .key
                .and_then(|k| at(format!("governance.policies[{i}].config.{k}")))
                .or_else(|| at(format!("governance.policies[{i}].type")));
            push(d, loc);
        }
    }
    for (i, o) in gov.policy_overrides.iter().enumerate() {
        for (j, t) in o.policy_types.iter().flatten().enumerate() {
            if PolicyKind::parse(t).is_none() {
                let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.as_str()).collect();
                let help = match diag::suggest(t, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("policy types are: {}", names.join(", ")),
                };
                let d = Diagnostic::error(
                    Code::InvalidPolicy,
                    format!("override `{}` names an unknown policy type `{t}`", o.pattern),
                )
                .with_help(help);
                push(d, at(format!("governance.policy_overrides[{i}].policy_types[{j}]")));
            }
        }
        if let Some(e) = &o.expires
            && !is_date(e)
        {
            let d = Diagnostic::error(
                Code::InvalidPolicy,
                format!("override `{}` expires on `{e}`, which is not a calendar date", o.pattern),
            )
            .with_help("write the date as YYYY-MM-DD");
            push(d, at(format!("governance.policy_overrides[{i}].expires")));
        }
    }
    if let Some(scan) = &gov.secret_scanning
        && let Err(errors) = crate::scan::Scanner::new(Some(scan))
    {
        for e in errors {
            let d = Diagnostic::error(Code::UnsafePattern, e.message).with_help(e.help);
            push(d, at(format!("governance.secret_scanning.custom_patterns[{}].pattern", e.index)));
        }
    }
    out
}

/// `YYYY-MM-DD` naming a real day.
pub fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else { return false };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else { return false };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    s.len() == 10 && (1..=days).contains(&d)
}

/// The UTC date of seconds since the Unix epoch, as `YYYY-MM-DD`.
pub fn date_of(epoch_secs: i64) -> String {
    crate::rfc3339(epoch_secs)[..10].to_owned()
}

/// Where the error reference explains `code`.
fn url(code: Code) -> String {
    format!("https://floe.dev/reference/errors#{}", code.as_str().to_ascii_lowercase())
}
