//! The random edits: every kind of change a workspace sees, made the way a
//! person makes it (a line or a file at a time), valid most of the time and
//! broken some of the time, since failures must match too.
//!
//! Values come from small pools, so that a run often returns to a value it
//! had before: that is when a store answers with what it remembers.

use std::path::Path;

use fastrand::Rng;

use crate::harness::{self, DAY, Epoch, START};
use crate::yaml::{self, Doc};

/// What an edit sees and changes: one workspace and the evaluation date.
pub struct Ctx<'a> {
    rng: &'a mut Rng,
    root: &'a Path,
    /// The example the workspace started from, for restoring files.
    example: &'a Path,
    epoch: &'a mut Epoch,
    files: Vec<String>,
}

type EditFn = fn(&mut Ctx<'_>) -> Option<String>;

/// Every kind of edit, with its weight.
const KINDS: &[(&str, u32, EditFn)] = &[
    ("manifest metadata", 6, manifest_metadata),
    ("manifest plugins", 6, manifest_plugins),
    ("manifest governance", 6, manifest_governance),
    ("policy override", 8, policy_override),
    ("approved products", 3, approved_products),
    ("floe.yaml", 10, spec),
    ("dbt_project.yml", 5, dbt_project),
    ("SQL", 7, sql),
    ("property file", 9, properties),
    ("seed", 2, seed),
    (".floeignore", 3, floeignore),
    ("product added", 2, product_added),
    ("product removed", 2, product_removed),
    ("product renamed", 2, product_renamed),
    ("comment only", 7, comment),
    ("key order", 3, key_order),
    ("evaluation date", 6, evaluation_date),
    ("broken file", 3, broken_file),
    ("file restored", 6, restored),
    ("outputs deleted", 2, outputs_deleted),
];

/// Applies one random edit that changes something, and says what it did.
pub fn random_edit(rng: &mut Rng, root: &Path, example: &Path, epoch: &mut Epoch) -> String {
    let total: u32 = KINDS.iter().map(|k| k.1).sum();
    loop {
        let mut roll = rng.u32(0..total);
        let (name, _, edit) = KINDS
            .iter()
            .find(|k| {
                let hit = roll < k.1;
                roll = roll.saturating_sub(k.1);
                hit
            })
            .expect("the roll is below the total");
        let files = harness::source_files(root);
        let mut cx = Ctx { rng, root, example, epoch, files };
        if let Some(what) = edit(&mut cx) {
            return format!("{name}: {what}");
        }
    }
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

fn base(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(_, b)| b)
}

fn in_models(rel: &str) -> bool {
    parent(rel).split('/').any(|s| s == "models")
}

fn is_yaml(rel: &str) -> bool {
    rel.ends_with(".yaml") || rel.ends_with(".yml")
}

/// `2024-03-10` dates around the evaluation date, for overrides.
fn dates_around(epoch: Epoch) -> [String; 3] {
    let day = match epoch {
        Epoch::At(s) if s > 0 => s.div_euclid(DAY) * DAY,
        _ => START,
    };
    [harness::date(day - DAY), harness::date(day), harness::date(day + DAY)]
}

impl Ctx<'_> {
    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read(self.root.join(rel)).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn pick<'b, T>(&mut self, items: &'b [T]) -> Option<&'b T> {
        self.rng.choice(items)
    }

    fn pick_owned(&mut self, items: Vec<String>) -> Option<String> {
        self.rng.choice(items)
    }

    fn files_where(&self, f: impl Fn(&str) -> bool) -> Vec<String> {
        self.files.iter().filter(|p| f(p)).cloned().collect()
    }

    fn manifests(&self) -> Vec<String> {
        self.files_where(|p| base(p) == "manifest.yaml" && !in_models(p))
    }

    fn specs(&self) -> Vec<String> {
        self.files_where(|p| base(p) == "floe.yaml" && !in_models(p))
    }

    fn yaml_files(&self) -> Vec<String> {
        self.files_where(is_yaml)
    }

    fn products(&self) -> Vec<String> {
        self.specs().iter().map(|s| parent(s).to_owned()).filter(|d| !d.is_empty()).collect()
    }

    /// Model names: the SQL files' stems, under `dir` (all when empty).
    fn models(&self, dir: &str) -> Vec<String> {
        self.files_where(|p| {
            in_models(p) && p.ends_with(".sql") && (dir.is_empty() || p.starts_with(&format!("{dir}/")))
        })
        .iter()
        .map(|p| base(p).trim_end_matches(".sql").to_owned())
        .collect()
    }

    /// Rewrites a file with `f` (given the RNG and the text, it returns the
    /// new text and what changed); `None` when nothing changed.
    fn rewrite(&mut self, rel: &str, f: impl FnOnce(&mut Rng, String) -> Option<(String, String)>) -> Option<String> {
        let text = self.read(rel)?;
        let (new, what) = f(self.rng, text.clone())?;
        if new == text {
            return None;
        }
        self.write(rel, &new);
        Some(format!("{rel}: {what}"))
    }

    /// Sets `path` in a YAML file to a value from `pool`.
    fn set(&mut self, rel: &str, path: &[&str], pool: &[&str]) -> Option<String> {
        let value = *self.pick(pool)?;
        self.rewrite(rel, |_, text| {
            let mut d = Doc::parse(&text);
            d.set(path, value).then(|| (d.text(), format!("{} = {value}", path.join("."))))
        })
    }
}

/// Spans of the values written after `needle` (up to `,`, `}`, a comment or
/// the end of the line; a `[...]` value whole).
fn values_after(text: &str, needle: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(needle) {
        let start = from + i + needle.len();
        let rest = &text[start..];
        let len = if rest.starts_with('[') {
            rest.find(']').map_or(rest.len(), |e| e + 1)
        } else {
            rest.find([',', '}', '\n', '#']).unwrap_or(rest.len())
        };
        out.push((start, start + len));
        from = start;
    }
    out
}

/// Replaces one random value after `needle` by what `f` makes of it.
fn replace_value(
    rng: &mut Rng,
    text: &str,
    needle: &str,
    f: impl FnOnce(&mut Rng, &str) -> String,
) -> Option<(String, String)> {
    let (s, e) = rng.choice(values_after(text, needle))?;
    let old = text[s..e].trim_end();
    let new = f(rng, old);
    let line = text[..s].matches('\n').count() + 1;
    Some((
        format!("{}{new}{}", &text[..s], &text[s + old.len()..]),
        format!("line {line}: {}{old} -> {new}", needle.trim_start()),
    ))
}

/// A flow list with one entry toggled: removed when present, else added.
fn toggle(rng: &mut Rng, list: &str, pool: &[&str]) -> String {
    let mut items = yaml::flow_list(list).unwrap_or_default();
    let item = rng.choice(pool).copied().unwrap_or_default().to_owned();
    match items.iter().position(|i| *i == item) {
        Some(p) => {
            items.remove(p);
        }
        None => items.push(item),
    }
    yaml::to_flow_list(&items)
}

fn manifest_metadata(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.manifests())?;
    let fields: [(&str, &[&str]); 4] = [
        ("name", &["acme-enterprise", "acme-group", "sales", "finance", "acme-analytics"]),
        ("version", &["1.0.0", "2.0.0", "3.0.0", "3.1.0"]),
        ("owner", &["platform@acme.example", "data@acme.example"]),
        ("description", &["Shared data platform", "Analytics platform"]),
    ];
    let (field, pool) = *cx.pick(&fields)?;
    cx.set(&file, &["metadata", field], pool)
}

fn manifest_plugins(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.manifests())?;
    let choices: [(&[&str], &[&str]); 8] = [
        (&["plugins", "compute", "config", "threads"], &["1", "2", "4", "8"]),
        (&["plugins", "compute", "config", "memory_limit"], &["2GB", "4GB", "8GB"]),
        (&["plugins", "compute", "type"], &["duckdb", "duckdb", "spark"]),
        (&["plugins", "orchestrator", "type"], &["dagster", "dagster", "airflow", "prefect"]),
        (&["plugins", "orchestrator", "config", "default_schedule"], &["\"0 * * * *\"", "\"*/15 * * * *\""]),
        (&["plugins", "catalog", "config", "warehouse"], &["acme", "analytics"]),
        (&["plugins", "storage", "config", "bucket"], &["acme-lakehouse", "lakehouse"]),
        (&["plugins", "lineage_backend"], &[]),
    ];
    let (path, pool) = *cx.pick(&choices)?;
    if pool.is_empty() {
        // The lineage backend comes and goes.
        return cx.rewrite(&file, |_, text| {
            let mut d = Doc::parse(&text);
            if d.remove(path) {
                return Some((d.text(), "plugins.lineage_backend removed".to_owned()));
            }
            (d.set(&["plugins", "lineage_backend", "type"], "marquez")
                && d.set(&["plugins", "lineage_backend", "config", "url"], "http://marquez:5000"))
            .then(|| (d.text(), "plugins.lineage_backend = marquez".to_owned()))
        });
    }
    let value = *cx.pick(pool)?;
    cx.rewrite(&file, |_, text| {
        let mut d = Doc::parse(&text);
        let category = [path[0], path[1]];
        // A selection needs a type; a domain that had none gets the usual one.
        let default = match path[1] {
            "compute" => "duckdb",
            "orchestrator" => "dagster",
            "catalog" => "polaris",
            _ => "s3",
        };
        let mut what = format!("{} = {value}", path.join("."));
        if path[2] != "type" && (d.find(&category).is_none() || d.get(&[path[0], path[1], "type"]).is_none()) {
            if !d.set(&[path[0], path[1], "type"], default) {
                return None;
            }
            what.push_str(&format!(" (with type {default})"));
        }
        d.set(path, value).then(|| (d.text(), what))
    })
}

fn manifest_governance(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.manifests())?;
    let choices: [(&[&str], &[&str]); 7] = [
        (&["governance", "policy_enforcement_level"], &["off", "warn", "strict"]),
        (&["governance", "data_retention_days"], &["30", "90", "365"]),
        (&["governance", "quality_gates", "minimum_test_coverage"], &["0", "50", "60", "80", "100"]),
        (&["governance", "quality_gates", "require_descriptions"], &["true", "false"]),
        (&["governance", "quality_gates", "block_on_failure"], &["true", "false"]),
        (&["governance", "naming", "pattern"], &["medallion", "kimball"]),
        (&["governance", "naming", "enforcement"], &["off", "warn", "strict"]),
    ];
    let (path, pool) = *cx.pick(&choices)?;
    cx.set(&file, path, pool)
}

/// Adds, removes or re-dates a `policy_overrides` entry, dated around the
/// evaluation date.
fn policy_override(cx: &mut Ctx<'_>) -> Option<String> {
    const PATH: [&str; 2] = ["governance", "policy_overrides"];
    let file = cx.pick_owned(cx.manifests())?;
    let dates = dates_around(*cx.epoch);
    let model = cx.pick_owned(cx.models(""))?;
    cx.rewrite(&file, |rng, text| {
        let mut d = Doc::parse(&text);
        let items = d.items(&PATH);
        let dated: Vec<usize> = (0..d.lines().len())
            .filter(|&i| items.iter().any(|(s, e)| (*s..*e).contains(&i)) && d.lines()[i].contains("expires:"))
            .collect();
        match rng.u8(0..3) {
            0 if !items.is_empty() => {
                let item = rng.choice(&items)?;
                let first = d.lines()[item.0].trim().to_owned();
                d.drain(*item);
                Some((d.text(), format!("removed override `{first}`")))
            }
            1 if !dated.is_empty() => {
                let i = *rng.choice(&dated)?;
                let date = rng.choice(&dates)?;
                let pad = d.lines()[i].len() - d.lines()[i].trim_start().len();
                d.lines_mut()[i] = format!("{}expires: {date}", " ".repeat(pad));
                Some((d.text(), format!("line {}: override expires: {date}", i + 1)))
            }
            _ => {
                let pattern = match (rng.bool(), model.split_once('_')) {
                    (true, Some((prefix, _))) => format!("{prefix}_*"),
                    _ => model.clone(),
                };
                let action = *rng.choice(&["exclude", "downgrade"])?;
                let mut item = vec![
                    format!("- pattern: \"{pattern}\""),
                    format!("  action: {action}"),
                    "  reason: Excused while the models are reworked".to_owned(),
                ];
                let mut what = format!("override {pattern} {action}");
                if rng.u8(0..4) > 0 {
                    let date = rng.choice(&dates)?;
                    item.push(format!("  expires: {date}"));
                    what.push_str(&format!(" expiring {date}"));
                }
                if rng.u8(0..3) == 0 {
                    item.push("  policy_types: [coverage, documentation]".to_owned());
                    what.push_str(" for coverage and documentation");
                }
                d.push_item(&PATH, &item).then(|| (d.text(), what))
            }
        }
    })
}

fn approved_products(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.manifests().into_iter().filter(|m| m.contains('/')).collect())?;
    let domain = parent(&file).to_owned();
    let mut pool: Vec<String> =
        cx.products().iter().filter(|p| parent(p) == domain).map(|p| base(p).to_owned()).collect();
    pool.extend(["orders-eu", "ledger"].map(str::to_owned));
    let name = cx.pick_owned(pool)?;
    cx.rewrite(&file, |_, text| {
        let mut d = Doc::parse(&text);
        let mut list = d.get(&["approved_products"]).and_then(|v| yaml::flow_list(&v)).unwrap_or_default();
        let what = match list.iter().position(|p| *p == name) {
            Some(i) => {
                list.remove(i);
                format!("approved_products without {name}")
            }
            None => {
                list.push(name.clone());
                format!("approved_products with {name}")
            }
        };
        d.set(&["approved_products"], &yaml::to_flow_list(&list)).then(|| (d.text(), what))
    })
}

fn spec(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.specs())?;
    let dir = parent(&file).to_owned();
    let models = cx.models(&dir);
    let op = cx.rng.u8(0..11);
    match op {
        0 => cx.set(&file, &["metadata", "version"], &["1.0.0", "1.1.0", "2.0.0"]),
        1 => cx.set(&file, &["metadata", "description"], &["Curated for reporting", "Orders from every channel"]),
        2 => cx.set(&file, &["metadata", "owner"], &["data@acme.example", "orders@acme.example"]),
        _ => cx.rewrite(&file, |rng, text| match op {
            3 => replace_value(rng, &text, "tier: ", |rng, old| {
                let others: Vec<&str> = ["bronze", "silver", "gold"].into_iter().filter(|t| *t != old).collect();
                rng.choice(others).unwrap_or("gold").to_owned()
            }),
            4 => replace_value(rng, &text, "tags: ", |rng, old| toggle(rng, old, &["pii", "marts", "certified"])),
            5 => replace_value(rng, &text, "cron: ", |rng, _| {
                (*rng.choice(&["\"0 * * * *\"", "\"*/30 * * * *\"", "\"0 4 * * *\""]).unwrap()).to_owned()
            }),
            6 => replace_value(rng, &text, "freshness: ", |rng, _| {
                (*rng.choice(&["PT1H", "PT2H", "P1D"]).unwrap()).to_owned()
            }),
            7 => replace_value(rng, &text, "expects: ", |rng, old| toggle(rng, old, &["channel", "amount_eur"])),
            8 => replace_value(rng, &text, "dependsOn: ", |rng, old| {
                let mut items = yaml::flow_list(old).unwrap_or_default();
                if !items.is_empty() {
                    items.remove(rng.usize(0..items.len()));
                }
                yaml::to_flow_list(&items)
            }),
            9 => {
                // A column of an output port comes or goes.
                let mut d = Doc::parse(&text);
                let cols: Vec<usize> = (0..d.lines().len())
                    .filter(|&i| d.lines()[i].trim_start().starts_with("- {name: ") && d.lines()[i].contains("type: "))
                    .collect();
                let i = *rng.choice(&cols)?;
                if d.lines()[i].contains("name: note,") {
                    d.drain((i, i + 1));
                    return Some((d.text(), format!("line {}: column note removed", i + 1)));
                }
                let pad = d.lines()[i].len() - d.lines()[i].trim_start().len();
                d.lines_mut().insert(i + 1, format!("{}- {{name: note, type: string}}", " ".repeat(pad)));
                Some((d.text(), format!("line {}: column note added", i + 2)))
            }
            _ => {
                // A transform comes or goes.
                let mut d = Doc::parse(&text);
                let items = d.items(&["transforms"]);
                let unlisted: Vec<&String> = models.iter().filter(|m| !text.contains(&format!("name: {m}"))).collect();
                if rng.bool() && !unlisted.is_empty() {
                    let m = rng.choice(unlisted)?;
                    d.push_item(&["transforms"], &[format!("- {{name: {m}, tier: silver}}")]);
                    Some((d.text(), format!("transform {m} added")))
                } else {
                    let item = *rng.choice(&items)?;
                    let first = d.lines()[item.0].trim().to_owned();
                    d.drain(item);
                    Some((d.text(), format!("transform `{first}` removed")))
                }
            }
        }),
    }
}

fn dbt_project(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.files_where(|p| base(p) == "dbt_project.yml" && !in_models(p)))?;
    let product = base(parent(&file)).to_owned();
    match cx.rng.u8(0..3) {
        0 => cx.set(&file, &["version"], &["'1.0.0'", "'1.1.0'", "'2.0.0'", "1.5"]),
        1 => {
            let profile = product.replace('-', "_");
            cx.set(&file, &["profile"], &[&profile, "shared", "''"])
        }
        _ => cx.set(&file, &["name"], &[&product.replace('-', "_"), "analytics"]),
    }
}

fn sql(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.files_where(|p| in_models(p) && p.ends_with(".sql")))?;
    let product_models = {
        let models_dir = file.split("/models/").next().unwrap_or("").to_owned();
        cx.models(&models_dir)
    };
    const CONFIG: &str = "{{ config(materialized='table') }}";
    match cx.rng.u8(0..6) {
        0 => cx.rewrite(&file, |_, text| match text.strip_prefix(&format!("{CONFIG}\n")) {
            Some(rest) => Some((rest.to_owned(), "materialization config removed".to_owned())),
            None => Some((format!("{CONFIG}\n{text}"), "materialized as a table".to_owned())),
        }),
        1 => cx.rewrite(&file, |rng, text| {
            replace_value(rng, &text, "ref('", |rng, old| {
                let model = old.split('\'').next().unwrap_or("");
                let other = rng.choice(&product_models).cloned().unwrap_or_default();
                format!("{other}{}", &old[model.len()..])
            })
        }),
        2 => {
            // A new model beside this one.
            let dir = parent(&file).to_owned();
            let name = *cx.pick(&["int_extra", "gold_extra", "stg_extra"])?;
            let target = cx.pick_owned(product_models.clone())?;
            let rel = format!("{dir}/{name}.sql");
            if cx.files.contains(&rel) {
                return None;
            }
            cx.write(&rel, &format!("select * from {{{{ ref('{target}') }}}}\n"));
            Some(format!("{rel}: new model reading {target}"))
        }
        3 => {
            std::fs::remove_file(cx.root.join(&file)).unwrap();
            Some(format!("{file}: removed"))
        }
        _ => cx.rewrite(&file, |rng, text| match rng.bool() {
            true => Some((format!("{text}\n"), "blank line at the end".to_owned())),
            false => Some((text.replacen(" from ", "  from ", 1), "whitespace".to_owned())),
        }),
    }
}

fn properties(cx: &mut Ctx<'_>) -> Option<String> {
    let op = cx.rng.u8(0..7);
    if op == 6 {
        // A property file for a product that has none.
        let product = cx.pick_owned(cx.products())?;
        let rel = format!("{product}/models/schema.yml");
        let model = cx.pick_owned(cx.models(&product))?;
        if cx.files.contains(&rel) {
            return None;
        }
        cx.write(
            &rel,
            &format!(
                "version: 2\n\nmodels:\n  - name: {model}\n    description: Documented model\n    columns:\n      - name: id\n        description: Identifier\n        tests: [not_null, unique]\n"
            ),
        );
        return Some(format!("{rel}: new property file describing {model}"));
    }
    let file = cx.pick_owned(cx.files_where(|p| in_models(p) && is_yaml(p)))?;
    cx.rewrite(&file, |rng, text| {
        let mut d = Doc::parse(&text);
        let named: Vec<usize> =
            (0..d.lines().len()).filter(|&i| d.lines()[i].trim_start().starts_with("- name: ")).collect();
        match op {
            0 | 1 => {
                // A model, column, source or table renamed, and back.
                let i = *rng.choice(&named)?;
                let line = d.lines()[i].clone();
                let new = match line.strip_suffix("_v2") {
                    Some(old) => old.to_owned(),
                    None => format!("{line}_v2"),
                };
                d.lines_mut()[i] = new.clone();
                Some((d.text(), format!("line {}: {} -> {}", i + 1, line.trim(), new.trim())))
            }
            2 => {
                let described: Vec<usize> =
                    (0..d.lines().len()).filter(|&i| d.lines()[i].trim_start().starts_with("description:")).collect();
                if rng.bool() && !described.is_empty() {
                    let i = *rng.choice(&described)?;
                    d.drain((i, i + 1));
                    return Some((d.text(), format!("line {}: description removed", i + 1)));
                }
                let i = *rng.choice(&named)?;
                let pad = d.lines()[i].len() - d.lines()[i].trim_start().len() + 2;
                d.lines_mut().insert(i + 1, format!("{}description: Documented here", " ".repeat(pad)));
                Some((d.text(), format!("line {}: description added", i + 2)))
            }
            3 => replace_value(rng, &text, "tests: ", |rng, old| toggle(rng, old, &["not_null", "unique"])),
            4 => {
                let i = *rng.choice(&named)?;
                let pad = d.lines()[i].len() - d.lines()[i].trim_start().len() + 2;
                let (line, what) = *rng.choice(&[
                    ("config: {materialized: table}", "materialized as a table"),
                    ("meta: {owner: data@acme.example}", "owner in meta"),
                    ("tags: [certified, finance-approved]", "certification tags"),
                ])?;
                d.lines_mut().insert(i + 1, format!("{}{line}", " ".repeat(pad)));
                Some((d.text(), format!("line {}: {what}", i + 2)))
            }
            _ => {
                let i = *rng.choice(&named)?;
                let pad = d.lines()[i].len() - d.lines()[i].trim_start().len() + 2;
                d.lines_mut().insert(i + 1, format!("{}tests: [not_null]", " ".repeat(pad)));
                Some((d.text(), format!("line {}: tests added", i + 2)))
            }
        }
    })
}

/// dbt seeds, which floe does not read: nothing may change.
fn seed(cx: &mut Ctx<'_>) -> Option<String> {
    let product = cx.pick_owned(cx.products())?;
    let rel = format!("{product}/seeds/countries.csv");
    match cx.read(&rel) {
        Some(_) if cx.rng.bool() => {
            std::fs::remove_file(cx.root.join(&rel)).unwrap();
            Some(format!("{rel}: removed"))
        }
        Some(text) => {
            cx.write(&rel, &format!("{text}fr,France\n"));
            Some(format!("{rel}: a row added"))
        }
        None => {
            cx.write(&rel, "code,name\nde,Germany\n");
            Some(format!("{rel}: new seed"))
        }
    }
}

fn floeignore(cx: &mut Ctx<'_>) -> Option<String> {
    const FILE: &str = ".floeignore";
    let product = cx.pick_owned(cx.products())?;
    let pool = [
        format!("/{product}/"),
        format!("!/{product}/"),
        "seeds/".to_owned(),
        "*.csv".to_owned(),
        "models/staging/".to_owned(),
        "# products being retired".to_owned(),
    ];
    let line = cx.pick_owned(pool.to_vec())?;
    match cx.read(FILE) {
        None => {
            cx.write(FILE, &format!("{line}\n"));
            Some(format!("{FILE}: new, `{line}`"))
        }
        Some(_) if cx.rng.u8(0..5) == 0 => {
            std::fs::remove_file(cx.root.join(FILE)).unwrap();
            Some(format!("{FILE}: removed"))
        }
        Some(text) => {
            let mut lines: Vec<&str> = text.lines().collect();
            let what = match lines.iter().position(|l| *l == line) {
                Some(i) => {
                    lines.remove(i);
                    format!("`{line}` removed")
                }
                None => {
                    lines.push(&line);
                    format!("`{line}` added")
                }
            };
            let new: String = lines.iter().map(|l| format!("{l}\n")).collect();
            cx.write(FILE, &new);
            Some(format!("{FILE}: {what}"))
        }
    }
}

const NEW_NAMES: [&str; 4] = ["orders-eu", "ledger", "clicks", "revenue-eu"];

/// A product copied under a new name beside it.
fn product_added(cx: &mut Ctx<'_>) -> Option<String> {
    let from = cx.pick_owned(cx.products())?;
    let name = *cx.pick(&NEW_NAMES)?;
    let to = match parent(&from) {
        "" => name.to_owned(),
        p => format!("{p}/{name}"),
    };
    if cx.root.join(&to).exists() {
        return None;
    }
    crate::common::copy_dir(&cx.root.join(&from), &cx.root.join(&to));
    let mut what = format!("{from} copied to {to}");
    if cx.rng.u8(0..3) > 0 {
        let mut d = Doc::parse(&cx.read(&format!("{to}/floe.yaml"))?);
        d.set(&["metadata", "name"], name);
        cx.write(&format!("{to}/floe.yaml"), &d.text());
        what.push_str(&format!(", metadata.name = {name}"));
    }
    if cx.rng.bool() {
        what.push_str(&approve(cx, parent(&to), None, name));
    }
    Some(what)
}

/// Adds `name` (replacing `old`) to the approved products of the domain at
/// `dir`, if it lists them.
fn approve(cx: &mut Ctx<'_>, dir: &str, old: Option<&str>, name: &str) -> String {
    let manifest = if dir.is_empty() { "manifest.yaml".to_owned() } else { format!("{dir}/manifest.yaml") };
    let Some(text) = cx.read(&manifest) else { return String::new() };
    let mut d = Doc::parse(&text);
    let Some(mut list) = d.get(&["approved_products"]).and_then(|v| yaml::flow_list(&v)) else { return String::new() };
    list.retain(|p| Some(p.as_str()) != old);
    list.push(name.to_owned());
    d.set(&["approved_products"], &yaml::to_flow_list(&list));
    cx.write(&manifest, &d.text());
    format!(", approved in {manifest}")
}

fn product_removed(cx: &mut Ctx<'_>) -> Option<String> {
    let products = cx.products();
    if products.len() < 2 {
        return None;
    }
    let dir = cx.pick_owned(products)?;
    std::fs::remove_dir_all(cx.root.join(&dir)).unwrap();
    Some(format!("{dir} removed"))
}

fn product_renamed(cx: &mut Ctx<'_>) -> Option<String> {
    let from = cx.pick_owned(cx.products())?;
    let name = *cx.pick(&NEW_NAMES)?;
    let old = base(&from).to_owned();
    let to = match parent(&from) {
        "" => name.to_owned(),
        p => format!("{p}/{name}"),
    };
    if cx.root.join(&to).exists() {
        return None;
    }
    std::fs::rename(cx.root.join(&from), cx.root.join(&to)).unwrap();
    let mut what = format!("{from} renamed to {to}");
    if cx.rng.bool() {
        let mut d = Doc::parse(&cx.read(&format!("{to}/floe.yaml"))?);
        d.set(&["metadata", "name"], name);
        cx.write(&format!("{to}/floe.yaml"), &d.text());
        what.push_str(&format!(", metadata.name = {name}"));
        if cx.rng.bool() {
            what.push_str(&approve(cx, parent(&to), Some(&old), name));
        }
    }
    Some(what)
}

/// A comment added or removed: no value changes, positions may.
fn comment(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.files_where(|p| (is_yaml(p) || p.ends_with(".sql")) && !p.contains("/seeds/")))?;
    let mark = if file.ends_with(".sql") { "--" } else { "#" };
    cx.rewrite(&file, |rng, text| {
        let mut d = Doc::parse(&text);
        let comments: Vec<usize> =
            (0..d.lines().len()).filter(|&i| d.lines()[i].trim_start().starts_with(mark)).collect();
        match rng.u8(0..3) {
            0 if !comments.is_empty() => {
                let i = *rng.choice(&comments)?;
                d.drain((i, i + 1));
                Some((d.text(), format!("comment on line {} removed", i + 1)))
            }
            1 if mark == "#" => {
                // A trailing comment on a `key: value` line.
                let lines: Vec<usize> = (0..d.lines().len())
                    .filter(|&i| {
                        let l = &d.lines()[i];
                        l.contains(": ") && !l.contains('#') && !l.trim_end().ends_with(':')
                    })
                    .collect();
                let i = *rng.choice(&lines)?;
                d.lines_mut()[i].push_str("  # checked");
                Some((d.text(), format!("comment at the end of line {}", i + 1)))
            }
            _ => {
                let i = rng.usize(0..=d.lines().len());
                d.lines_mut().insert(i, format!("{mark} Reviewed"));
                Some((d.text(), format!("comment line inserted at line {}", i + 1)))
            }
        }
    })
}

/// Two neighbouring `key: value` lines swapped: the value is the same.
fn key_order(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.yaml_files())?;
    cx.rewrite(&file, |rng, text| {
        let mut d = Doc::parse(&text);
        let simple = |l: &str| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('-') && t.contains(": ") && !t.ends_with(':')
        };
        let indent = |l: &str| l.len() - l.trim_start().len();
        let lines = d.lines();
        let pairs: Vec<usize> = (0..lines.len().saturating_sub(1))
            .filter(|&i| simple(&lines[i]) && simple(&lines[i + 1]) && indent(&lines[i]) == indent(&lines[i + 1]))
            .filter(|&i| lines.get(i + 2).is_none_or(|l| l.trim().is_empty() || indent(l) <= indent(&lines[i])))
            .collect();
        let i = *rng.choice(&pairs)?;
        d.lines_mut().swap(i, i + 1);
        Some((d.text(), format!("lines {} and {} swapped", i + 1, i + 2)))
    })
}

fn evaluation_date(cx: &mut Ctx<'_>) -> Option<String> {
    let pool = [
        Epoch::At(START - DAY),
        Epoch::At(START),
        Epoch::At(START + DAY / 2),
        Epoch::At(START + DAY),
        Epoch::At(START + 2 * DAY),
        Epoch::At(0),
        Epoch::Unset,
    ];
    // Unset and 0 share a settings hash but not an evaluation date: the
    // step between them is the one a store could miss, so it comes often.
    let next = match *cx.epoch {
        Epoch::At(0) if cx.rng.bool() => Epoch::Unset,
        Epoch::Unset if cx.rng.bool() => Epoch::At(0),
        _ => *cx.pick(&pool)?,
    };
    if next == *cx.epoch {
        return None;
    }
    *cx.epoch = next;
    Some(next.describe())
}

fn broken_file(cx: &mut Ctx<'_>) -> Option<String> {
    let file = cx.pick_owned(cx.yaml_files())?;
    cx.rewrite(&file, |rng, text| {
        let mut d = Doc::parse(&text);
        let n = d.lines().len();
        let what = match rng.u8(0..5) {
            0 => {
                d.lines_mut().push("schedul: daily".to_owned());
                "unknown key `schedul`"
            }
            1 => {
                d.lines_mut().push("extra: [a, b".to_owned());
                "unclosed flow sequence"
            }
            2 => {
                let i = (0..n).find(|&i| d.lines()[i].contains(": ") && !d.lines()[i].starts_with([' ', '#']))?;
                let line = d.lines()[i].clone();
                d.lines_mut().insert(i + 1, line);
                "duplicate key"
            }
            3 => {
                d.lines_mut().truncate(n / 2);
                "truncated to half"
            }
            _ => {
                let indented: Vec<usize> = (0..n).filter(|&i| d.lines()[i].starts_with("  ")).collect();
                let i = *rng.choice(&indented)?;
                d.lines_mut()[i] = format!("\t{}", d.lines()[i].trim_start());
                "a tab for indentation"
            }
        };
        Some((d.text(), what.to_owned()))
    })
}

/// A file put back as the example has it, or one the example lacks removed.
fn restored(cx: &mut Ctx<'_>) -> Option<String> {
    let example = harness::source_files(cx.example);
    let mut candidates: Vec<String> = example
        .iter()
        .filter(|f| std::fs::read(cx.root.join(f)).ok() != std::fs::read(cx.example.join(f)).ok())
        .cloned()
        .collect();
    candidates.extend(cx.files.iter().filter(|f| !example.contains(f)).cloned());
    let file = cx.pick_owned(candidates)?;
    if example.contains(&file) {
        let to = cx.root.join(&file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(cx.example.join(&file), to).unwrap();
        Some(format!("{file}: as in the example"))
    } else {
        std::fs::remove_file(cx.root.join(&file)).unwrap();
        Some(format!("{file}: removed (not in the example)"))
    }
}

/// Outputs deleted between builds, all of them (what `floe clean` does) or
/// one file: the next build must restore them.
fn outputs_deleted(cx: &mut Ctx<'_>) -> Option<String> {
    let out = cx.root.join("floe-out");
    let files: Vec<String> = crate::common::tree(&out).into_iter().map(|(p, _)| p).collect();
    if files.is_empty() {
        return None;
    }
    if cx.rng.bool() {
        std::fs::remove_dir_all(&out).unwrap();
        return Some("floe-out/ removed (as `floe clean` does)".to_owned());
    }
    let file = cx.pick_owned(files)?;
    std::fs::remove_file(out.join(&file)).unwrap();
    Some(format!("floe-out/{file} removed"))
}
