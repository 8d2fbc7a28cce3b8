//! `enforcement.html`: the enforcement report for a person.
//!
//! The same result as `enforcement.json`, on one standalone page (inline CSS, no
//! script, nothing fetched): the verdict, the counts per policy, then every
//! violation grouped by model with what was expected, what was found, how to fix
//! it and the source it points at. Every value that comes from the workspace is
//! escaped, and the page depends on nothing but its inputs, so a rebuild changes
//! no byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use floe_schemas::diag::Span;
use floe_schemas::enforcement::{EnforcementResult, EnforcementSummary, PolicyKind, Violation, ViolationSeverity};
use floe_schemas::manifest::PolicyEnforcementLevel;

/// Lines of source shown above and below the line a violation points at.
const CONTEXT: usize = 2;

/// Light by default, dark on screens that ask for it; print always uses the light
/// palette, since dark backgrounds are dropped on paper.
const CSS: &str = "\
:root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--panel:#f6f8fa;--err:#cf222e;--warn:#9a6700;\
--ok:#1a7f37;--hl:#fff5b1;--link:#0969da;color-scheme:light dark}
@media screen and (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;\
--panel:#161b22;--err:#f85149;--warn:#d29922;--ok:#3fb950;--hl:#3b2e0a;--link:#4493f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",sans-serif}
main{max-width:62rem;margin:0 auto;padding:1.5rem 1.5rem 3rem}
code,pre,figcaption{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,\"DejaVu Sans Mono\",monospace}
a{color:var(--link)}
h1{margin:0 0 .5rem;font-size:1.7rem}
h2{font-size:1.2rem;margin:2rem 0 .75rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.75rem 0 .5rem}h3 .muted{font-size:.9rem;font-weight:400;margin-left:.4rem}
.muted,.kicker,.label,dt,figcaption{color:var(--muted)}
.kicker{margin:0;font-size:.85rem;text-transform:uppercase;letter-spacing:.06em}
.verdict{display:flex;align-items:center;gap:.75rem;margin:.5rem 0 1rem}
.verdict b,.badge{color:var(--bg);border-radius:6px;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.verdict b{padding:.2rem .8rem;font-size:1.1rem;letter-spacing:.04em}
.passed b{background:var(--ok)}.failed b{background:var(--err)}
.meta{display:flex;flex-wrap:wrap;gap:.25rem 2.5rem;margin:0}.meta dd{margin:0;font-weight:600}
.cols{display:flex;flex-wrap:wrap;align-items:flex-start;gap:1rem 3rem}
table{border-collapse:collapse;min-width:20rem}
th,td{padding:.2rem .8rem;border-bottom:1px solid var(--line);text-align:left}
th{font-size:.85rem;color:var(--muted);font-weight:600}
.n{text-align:right;font-variant-numeric:tabular-nums}
.hit,.warn{font-weight:700;color:var(--err)}.warn{color:var(--warn)}
tbody+tbody td{color:var(--muted)}
.v{--c:var(--err);border:1px solid var(--line);border-left:4px solid var(--c);border-radius:6px;padding:.6rem 1rem;\
margin:.75rem 0;break-inside:avoid}
.v.warning{--c:var(--warn)}
.v>*{margin:.45rem 0}
.head{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem .6rem}
.badge{background:var(--c);padding:0 .5rem;font-size:.75rem;font-weight:700;text-transform:uppercase}
.code{font-weight:600}
.tag{border:1px solid var(--line);border-radius:999px;padding:0 .55rem;font-size:.8rem;color:var(--muted)}
.msg{font-weight:600}
.ea{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}.ea dd{margin:0}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem;margin:.25rem 0;\
overflow-x:auto}
figure{margin:.5rem 0}
.ln{color:var(--muted);user-select:none}
.hl{display:inline-block;min-width:100%;background:var(--hl);print-color-adjust:exact;-webkit-print-color-adjust:exact}
.at{text-decoration:underline wavy var(--c);text-decoration-skip-ink:none;text-underline-offset:3px}
.clean{font-size:1.05rem}
footer{margin-top:2.5rem;font-size:.85rem}
@media print{body{font-size:11pt}main{max-width:none;padding:0}pre{white-space:pre-wrap;overflow:visible}\
a{color:inherit;text-decoration:none}h2,h3{break-after:avoid}\
.code[href]::after{content:\" \" attr(href);font-weight:400;font-size:.8rem;color:var(--muted)}}
";

/// `enforcement.html`: one standalone page (inline CSS, no script, no external resource).
/// `locations[i]` is where `result.violations[i]` points (workspace-relative file and span), when known;
/// `sources` maps those files to their text (the caller has already masked secrets in it).
pub fn html(
    product: &str,
    result: &EnforcementResult,
    locations: &[Option<(String, Span)>],
    sources: &BTreeMap<String, String>,
) -> String {
    let verdict = if result.passed { "PASSED" } else { "FAILED" };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>{verdict} · {} · floe enforcement report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(product)
    );
    header(&mut out, product, result);
    let models = by_model(result, locations);
    summary(&mut out, &result.summary, &models);
    violations(&mut out, &models, sources);
    let _ = write!(
        out,
        "<footer class=\"muted\">Written by <code>floe build {}:enforcement</code>; the same result is in \
         <code>enforcement.json</code> and <code>enforcement.sarif</code>.</footer>\n</main>\n</body>\n</html>\n",
        esc(product)
    );
    out
}

fn header(out: &mut String, product: &str, result: &EnforcementResult) {
    let errors = result.violations.iter().filter(|v| v.severity == ViolationSeverity::Error).count();
    let warnings = result.violations.len() - errors;
    let (class, verdict, detail) = match (result.passed, result.violations.is_empty()) {
        (false, _) => ("failed", "FAILED", format!("the build is blocked: {}", counts(errors, warnings))),
        (true, true) => ("passed", "PASSED", "no violations".to_owned()),
        (true, false) => ("passed", "PASSED", format!("with {}", counts(errors, warnings))),
    };
    let level = match result.enforcement_level {
        PolicyEnforcementLevel::Off => "off",
        PolicyEnforcementLevel::Warn => "warn",
        PolicyEnforcementLevel::Strict => "strict",
    };
    let _ = write!(
        out,
        "<header>\n<p class=\"kicker\">floe enforcement report</p>\n<h1>{}</h1>\n\
         <p class=\"verdict {class}\"><b>{verdict}</b> <span>{detail}</span></p>\n<dl class=\"meta\">\
         <div><dt>Enforcement level</dt><dd>{level}</dd></div>\
         <div><dt>dbt project version</dt><dd>{}</dd></div>\
         <div><dt>Timestamp</dt><dd>{}</dd></div></dl>\n</header>\n",
        esc(product),
        esc(&result.manifest_version),
        esc(&result.timestamp),
    );
}

/// One model's violations, errors first, then by code.
struct Model<'a> {
    name: &'a str,
    violations: Vec<(&'a Violation, Option<&'a (String, Span)>)>,
    errors: usize,
}

impl Model<'_> {
    fn counts(&self) -> String {
        counts(self.errors, self.violations.len() - self.errors)
    }
}

fn by_model<'a>(result: &'a EnforcementResult, locations: &'a [Option<(String, Span)>]) -> Vec<Model<'a>> {
    let mut groups: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (i, v) in result.violations.iter().enumerate() {
        groups.entry(&v.model_name).or_default().push((v, locations.get(i).and_then(Option::as_ref)));
    }
    groups
        .into_iter()
        .map(|(name, mut violations)| {
            // Stable: violations with the same severity and code keep the order they were found in.
            violations.sort_by(|a, b| (a.0.severity, &a.0.error_code).cmp(&(b.0.severity, &b.0.error_code)));
            let errors = violations.iter().filter(|(v, _)| v.severity == ViolationSeverity::Error).count();
            Model { name, violations, errors }
        })
        .collect()
}

/// The counts per policy and, beside them, per model with a link to its violations.
fn summary(out: &mut String, s: &EnforcementSummary, models: &[Model]) {
    // The policies every report shows, then those that only some platforms enable.
    let always = [
        ("Naming", s.naming_violations),
        ("Coverage", s.coverage_violations),
        ("Documentation", s.documentation_violations),
        ("Semantic", s.semantic_violations),
        ("Custom rules", s.custom_rule_violations),
        ("Secret scanning", s.secret_violations),
    ];
    let sometimes = [
        ("Data contracts", s.contract_violations),
        ("RBAC", s.rbac_violations),
        ("Network policy", s.network_policy_violations),
    ];
    out.push_str(
        "<section>\n<h2>Summary</h2>\n<div class=\"cols\">\n<table>\n\
         <thead><tr><th>Policy</th><th class=\"n\">Violations</th></tr></thead>\n<tbody>\n",
    );
    for (name, n) in always.into_iter().chain(sometimes.into_iter().filter(|(_, n)| *n > 0)) {
        let _ = writeln!(out, "<tr><td>{name}</td><td class=\"n{}\">{n}</td></tr>", if n > 0 { " hit" } else { "" });
    }
    let _ = write!(
        out,
        "</tbody>\n<tbody>\n<tr><td>Overrides applied</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>Models</td><td class=\"n\">{}</td></tr>\n<tr><td>Models validated</td><td class=\"n\">{}</td></tr>\n\
         </tbody>\n</table>\n",
        s.overrides_applied, s.total_models, s.models_validated
    );
    if !models.is_empty() {
        out.push_str(
            "<table>\n<thead><tr><th>Model</th><th class=\"n\">Errors</th><th class=\"n\">Warnings</th></tr></thead>\n\
             <tbody>\n",
        );
        for (i, m) in models.iter().enumerate() {
            let warnings = m.violations.len() - m.errors;
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#model-{}\">{}</a></td><td class=\"n{}\">{}</td>\
                 <td class=\"n{}\">{warnings}</td></tr>",
                i + 1,
                esc(m.name),
                if m.errors > 0 { " hit" } else { "" },
                m.errors,
                if warnings > 0 { " warn" } else { "" },
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</div>\n</section>\n");
}

fn violations(out: &mut String, models: &[Model], sources: &BTreeMap<String, String>) {
    out.push_str("<section>\n<h2>Violations</h2>\n");
    if models.is_empty() {
        out.push_str("<p class=\"clean\">No violations: every enforced policy passed.</p>\n");
    }
    for (i, m) in models.iter().enumerate() {
        let _ = write!(
            out,
            "<section id=\"model-{}\">\n<h3>{} <span class=\"muted\">{}</span></h3>\n",
            i + 1,
            esc(m.name),
            m.counts()
        );
        for (v, location) in &m.violations {
            violation(out, v, *location, sources);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</section>\n");
}

fn violation(out: &mut String, v: &Violation, location: Option<&(String, Span)>, sources: &BTreeMap<String, String>) {
    let severity = match v.severity {
        ViolationSeverity::Error => "error",
        ViolationSeverity::Warning => "warning",
    };
    let code = match safe_url(&v.documentation_url) {
        Some(url) => format!("<a class=\"code\" href=\"{}\">{}</a>", esc(url), esc(&v.error_code)),
        None => format!("<span class=\"code\">{}</span>", esc(&v.error_code)),
    };
    let _ = write!(
        out,
        "<article class=\"v {severity}\">\n<p class=\"head\"><span class=\"badge\">{severity}</span> {code} \
         <span class=\"tag\">{}</span>",
        policy_label(v.policy_type)
    );
    if let Some(column) = &v.column_name {
        let _ = write!(out, " <span>column <code>{}</code></span>", esc(column));
    }
    let _ = writeln!(out, "</p>\n<p class=\"msg\">{}</p>", esc(&v.message));
    if !v.expected.is_empty() || !v.actual.is_empty() {
        let _ = writeln!(
            out,
            "<dl class=\"ea\"><dt>Expected</dt><dd>{}</dd><dt>Actual</dt><dd>{}</dd></dl>",
            esc(&v.expected),
            esc(&v.actual)
        );
    }
    if let Some((file, span)) = location {
        snippet(out, file, *span, sources.get(file).map(String::as_str));
    }
    if !v.suggestion.is_empty() {
        let _ = writeln!(out, "<div><span class=\"label\">Suggestion</span><pre>{}</pre></div>", esc(&v.suggestion));
    }
    if let Some(pattern) = &v.override_applied {
        let _ = writeln!(out, "<p><span class=\"label\">Override applied</span> <code>{}</code></p>", esc(pattern));
    }
    if let Some(models) = v.downstream_impact.as_ref().filter(|m| !m.is_empty()) {
        let list: Vec<String> = models.iter().map(|m| format!("<code>{}</code>", esc(m))).collect();
        let _ = writeln!(out, "<p><span class=\"label\">Downstream impact</span> {}</p>", list.join(", "));
    }
    out.push_str("</article>\n");
}

/// `file:line:col`, then the located line with [`CONTEXT`] lines around it, numbered,
/// the line highlighted and the span underlined. A location outside the file (or a
/// file the caller has no text for) shows the position alone.
fn snippet(out: &mut String, file: &str, span: Span, text: Option<&str>) {
    let _ = write!(out, "<figure>\n<figcaption>{}:{}:{}</figcaption>\n", esc(file), span.line, span.column);
    let lines: Vec<&str> = text.map(|t| t.lines().collect()).unwrap_or_default();
    if let Some(at) = (span.line as usize).checked_sub(1).filter(|i| *i < lines.len()) {
        let first = at.saturating_sub(CONTEXT);
        let last = (at + CONTEXT).min(lines.len() - 1);
        let width = (last + 1).to_string().len();
        out.push_str("<pre>");
        for (i, line) in lines.iter().enumerate().take(last + 1).skip(first) {
            let number = format!("<span class=\"ln\">{:>width$} │</span> ", i + 1);
            if i == at {
                let _ = writeln!(out, "<span class=\"hl\">{number}{}</span>", underlined(line, span));
            } else {
                let _ = writeln!(out, "{number}{}", esc(line));
            }
        }
        out.push_str("</pre>\n");
    }
    out.push_str("</figure>\n");
}

/// The escaped line with the span's part of it (on this line) underlined: at least
/// one character, as a caret would be; nothing when the column is past the end.
fn underlined(line: &str, span: Span) -> String {
    let Some(start) = line.char_indices().nth(span.column.saturating_sub(1) as usize).map(|(b, _)| b) else {
        return esc(line);
    };
    let mut end = start.saturating_add(span.len.max(1) as usize).min(line.len());
    while !line.is_char_boundary(end) {
        end += 1;
    }
    format!("{}<span class=\"at\">{}</span>{}", esc(&line[..start]), esc(&line[start..end]), esc(&line[end..]))
}

fn policy_label(kind: PolicyKind) -> String {
    kind.as_str().replace('_', " ")
}

fn counts(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") };
    match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// Only web links become links: a `javascript:` or `data:` URL in a custom rule's
/// documentation must not run in the reader's browser.
fn safe_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(model: &str, code: &str, severity: ViolationSeverity, message: &str) -> Violation {
        Violation {
            error_code: code.to_owned(),
            severity,
            policy_type: PolicyKind::Naming,
            model_name: model.to_owned(),
            column_name: None,
            message: message.to_owned(),
            expected: String::new(),
            actual: String::new(),
            suggestion: String::new(),
            documentation_url: format!("https://floe.dev/codes/{code}"),
            downstream_impact: None,
            first_detected: None,
            occurrences: None,
            override_applied: None,
        }
    }

    fn result(violations: Vec<Violation>) -> EnforcementResult {
        EnforcementResult {
            passed: !violations.iter().any(|v| v.severity == ViolationSeverity::Error),
            violations,
            summary: EnforcementSummary { total_models: 2, models_validated: 2, ..EnforcementSummary::default() },
            enforcement_level: PolicyEnforcementLevel::Strict,
            manifest_version: "1.0.0".to_owned(),
            timestamp: "2026-01-02T03:04:05Z".to_owned(),
        }
    }

    fn page(r: &EnforcementResult) -> String {
        html("//sales/orders", r, &[], &BTreeMap::new())
    }

    fn snippet_of(text: &str, line: u32, column: u32, len: u32) -> String {
        let mut out = String::new();
        snippet(&mut out, "models/a.sql", Span { line, column, offset: 0, len }, Some(text));
        out
    }

    #[test]
    fn escapes_everything_from_the_workspace() {
        let mut v = violation("<script>alert(1)</script>", "FLOE-E0701", ViolationSeverity::Error, "a < b & \"c\"");
        v.column_name = Some("<em>".to_owned());
        v.suggestion = "rename to 'x'".to_owned();
        v.documentation_url = "javascript:alert(1)".to_owned();
        v.override_applied = Some("<i>".to_owned());
        let sources = BTreeMap::from([("m.sql".to_owned(), "select '<script>' as x\n".to_owned())]);
        let loc = [Some(("m.sql".to_owned(), Span { line: 1, column: 8, offset: 7, len: 10 }))];
        let out = html("//<u>", &result(vec![v]), &loc, &sources);
        let body = &out[out.find("</style>").unwrap_or(0)..];
        for raw in ["<script", "<em>", "<i>", "<u>", "javascript:", "'x'", "\"c\""] {
            assert!(!body.contains(raw), "unescaped `{raw}` in {body}");
        }
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(body.contains("a &lt; b &amp; &quot;c&quot;"));
        assert!(body.contains("<span class=\"at\">&#39;&lt;script&gt;&#39;</span>"));
        assert!(!out.contains("<script") && !out.contains("<link") && !out.contains("src="));
    }

    #[test]
    fn groups_by_model_then_severity_and_code() {
        let v = |m, c, s, msg| violation(m, c, s, msg);
        use ViolationSeverity::{Error, Warning};
        let r = result(vec![
            v("zeta", "FLOE-E0701", Error, "m-z1"),
            v("alpha", "FLOE-E0801", Warning, "m-a-w"),
            v("alpha", "FLOE-E0902", Error, "m-a-e2"),
            v("alpha", "FLOE-E0901", Error, "m-a-e1"),
            v("alpha", "FLOE-E0901", Error, "m-a-e1-again"),
        ]);
        let out = page(&r);
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("missing {s}"));
        let order = ["<h3>alpha", "m-a-e1<", "m-a-e1-again", "m-a-e2", "m-a-w", "<h3>zeta", "m-z1"];
        for pair in order.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
        }
        assert!(out.contains("alpha <span class=\"muted\">3 errors, 1 warning</span>"));
        assert!(out.contains("<b>FAILED</b> <span>the build is blocked: 4 errors, 1 warning</span>"));
        assert!(out.contains(
            "<tr><td><a href=\"#model-1\">alpha</a></td><td class=\"n hit\">3</td><td class=\"n warn\">1</td></tr>"
        ));
        assert!(out.contains("<section id=\"model-2\">\n<h3>zeta"));
        assert!(out.contains("<a class=\"code\" href=\"https://floe.dev/codes/FLOE-E0701\">FLOE-E0701</a>"));
    }

    #[test]
    fn snippet_numbers_highlights_and_underlines() {
        let text = "l1\nl2\nselect Bad_Col from t\nl4\nl5\nl6\n";
        assert_eq!(
            snippet_of(text, 3, 8, 7),
            "<figure>\n<figcaption>models/a.sql:3:8</figcaption>\n<pre>\
             <span class=\"ln\">1 │</span> l1\n\
             <span class=\"ln\">2 │</span> l2\n\
             <span class=\"hl\"><span class=\"ln\">3 │</span> \
             select <span class=\"at\">Bad_Col</span> from t</span>\n\
             <span class=\"ln\">4 │</span> l4\n\
             <span class=\"ln\">5 │</span> l5\n</pre>\n</figure>\n"
        );
    }

    #[test]
    fn snippet_at_the_edges_of_the_file() {
        let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        // First line: no lines before it.
        let first = snippet_of(&text, 1, 1, 4);
        assert!(
            first.contains("<pre><span class=\"hl\"><span class=\"ln\">1 │</span> <span class=\"at\">line</span> 1")
        );
        assert!(first.contains(">3 │") && !first.contains(">4 │"));
        // Last line: no lines after it, numbers padded to the widest.
        let last = snippet_of(&text, 10, 6, 2);
        assert!(last.contains("<span class=\"ln\"> 8 │</span> line 8\n"));
        assert!(last.contains(
            "<span class=\"hl\"><span class=\"ln\">10 │</span> line <span class=\"at\">10</span></span>\n</pre>"
        ));
        // Outside the file or the line: the position alone, or the line without an underline.
        for (line, column, len) in [(0, 1, 1), (11, 1, 1), (u32::MAX, u32::MAX, u32::MAX)] {
            let out = snippet_of(&text, line, column, len);
            assert!(out.contains("<figcaption>") && !out.contains("<pre>"), "{out}");
        }
        assert!(!snippet_of(&text, 2, 99, 3).contains("class=\"at\""));
        assert!(snippet_of(&text, 2, 1, u32::MAX).contains("<span class=\"at\">line 2</span>"));
        // Multi-byte characters: the underline never splits one.
        assert!(snippet_of("héllo wörld\n", 1, 2, 1).contains("<span class=\"at\">é</span>"));
        assert!(snippet_of("", 1, 1, 1).ends_with("</figcaption>\n</figure>\n"));
        let mut no_text = String::new();
        snippet(&mut no_text, "gone.yml", Span::START, None);
        assert_eq!(no_text, "<figure>\n<figcaption>gone.yml:1:1</figcaption>\n</figure>\n");
    }

    #[test]
    fn page_without_violations() {
        let out = page(&result(Vec::new()));
        assert!(out.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"));
        assert!(out.contains("<title>PASSED · //sales/orders · floe enforcement report</title>"));
        assert!(out.contains("<b>PASSED</b> <span>no violations</span>"));
        assert!(out.contains("No violations: every enforced policy passed."));
        assert!(!out.contains("<article"));
        assert!(
            out.contains("<dd>strict</dd>") && out.contains("<dd>1.0.0</dd>") && out.contains("2026-01-02T03:04:05Z")
        );
    }

    #[test]
    fn summary_shows_optional_policies_only_when_hit() {
        let mut r = result(Vec::new());
        r.summary.coverage_violations = 3;
        r.summary.rbac_violations = 1;
        let out = page(&r);
        assert!(out.contains("<tr><td>Coverage</td><td class=\"n hit\">3</td></tr>"));
        assert!(out.contains("<tr><td>Naming</td><td class=\"n\">0</td></tr>"));
        assert!(out.contains("<td>RBAC</td>") && !out.contains("Data contracts"));
    }

    #[test]
    fn deterministic() {
        let mut v = violation("orders", "FLOE-E0701", ViolationSeverity::Warning, "name");
        v.downstream_impact = Some(vec!["b".to_owned(), "a".to_owned()]);
        v.suggestion = "line one\nline two".to_owned();
        let r = result(vec![v.clone(), violation("items", "FLOE-E0702", ViolationSeverity::Error, "m")]);
        let loc = [Some(("a.sql".to_owned(), Span { line: 1, column: 1, offset: 0, len: 6 })), None];
        let sources = BTreeMap::from([("a.sql".to_owned(), "select 1\n".to_owned())]);
        let first = html("//p", &r, &loc, &sources);
        assert_eq!(first, html("//p", &r, &loc, &sources));
        assert!(first.contains("<pre>line one\nline two</pre>"));
        assert!(first.contains("Downstream impact</span> <code>b</code>, <code>a</code>"));
    }
}
