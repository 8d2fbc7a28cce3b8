//! The mesh as a graph: every product with its domain and output ports, and
//! an edge for each input port, from the producer's port to the consumer.
//! What `floe graph` draws and `floe query 'deps(…)'` / `'rdeps(…)'` walk.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::db::{self, Db, Workspace};
use crate::label;
use crate::layout::PackageKind;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub label: String,
    pub domain: String,
    /// Its output ports, in its `floe.yaml`'s order.
    pub ports: Vec<String>,
}

/// A consumer's input port reading a producer's output port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub producer: String,
    pub port: String,
    pub consumer: String,
    pub input: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mesh {
    /// Sorted by label.
    pub products: Vec<Product>,
    /// Sorted.
    pub edges: Vec<Edge>,
}

impl Mesh {
    /// The products of the workspace whose `floe.yaml` loads, those outside
    /// it that a port reads by contract (labelled by the contract's id), and
    /// the edges of the input ports that resolve (`floe check` reports the
    /// others).
    pub fn of(db: &dyn Db, ws: Workspace) -> Mesh {
        let layout = ws.layout(db);
        let mut mesh = Mesh::default();
        let mut external = Vec::new();
        for (index, &pkg) in db::packages(db, ws).iter().enumerate() {
            let info = &layout.packages[index];
            if info.kind != PackageKind::Product {
                continue;
            }
            let eval = db::product(db, pkg);
            let Some(spec) = eval.spec.as_ref().and_then(|s| s.loaded.value.as_ref()) else { continue };
            let consumer = label::package_label(&info.dir);
            for port in spec.input_ports.iter().flatten() {
                // A product outside the workspace, by its contract.
                if let Some((id, domain, table)) = db::external_producer(db, ws, &port.from) {
                    if !external.iter().any(|p: &Product| p.label == id) {
                        external.push(Product { label: id.clone(), domain, ports: vec![table.clone()] });
                    }
                    mesh.edges.push(Edge {
                        producer: id,
                        port: table,
                        consumer: consumer.clone(),
                        input: port.name.clone(),
                    });
                    continue;
                }
                let Some(producer) = eval.producers.get(&port.name) else { continue };
                let Some((_, output)) = port.from.rsplit_once(':') else { continue };
                mesh.edges.push(Edge {
                    producer: label::package_label(&layout.packages[producer.index(db)].dir),
                    port: output.to_owned(),
                    consumer: consumer.clone(),
                    input: port.name.clone(),
                });
            }
            mesh.products.push(Product {
                label: consumer,
                domain: db::product_domain(db, pkg).unwrap_or_default(),
                ports: spec.output_ports.iter().flatten().map(|p| p.name.clone()).collect(),
            });
        }
        mesh.products.extend(external);
        mesh.products.sort_by(|a, b| a.label.cmp(&b.label));
        mesh.edges.sort();
        mesh
    }

    /// `label` and every product it reads, directly or through others
    /// (Bazel's `deps`).
    pub fn deps(&self, label: &str) -> BTreeSet<String> {
        self.reach(label, |e| (&e.consumer, &e.producer))
    }

    /// `label` and every product that reads it, directly or through others
    /// (Bazel's `rdeps`).
    pub fn rdeps(&self, label: &str) -> BTreeSet<String> {
        self.reach(label, |e| (&e.producer, &e.consumer))
    }

    fn reach<'a>(&'a self, label: &str, step: impl Fn(&'a Edge) -> (&'a String, &'a String)) -> BTreeSet<String> {
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &self.edges {
            let (from, to) = step(e);
            next.entry(from).or_default().push(to);
        }
        let mut seen = BTreeSet::from([label.to_owned()]);
        let mut todo = vec![label.to_owned()];
        while let Some(at) = todo.pop() {
            for to in next.get(at.as_str()).into_iter().flatten() {
                if seen.insert((*to).to_owned()) {
                    todo.push((*to).to_owned());
                }
            }
        }
        seen
    }

    /// The part of the mesh around `labels`: those products, the edges that
    /// touch them, and the products at those edges' other ends.
    pub fn around(&self, labels: &BTreeSet<String>) -> Mesh {
        let edges: Vec<Edge> = self
            .edges
            .iter()
            .filter(|e| labels.contains(&e.producer) || labels.contains(&e.consumer))
            .cloned()
            .collect();
        let shown: BTreeSet<&String> = edges.iter().flat_map(|e| [&e.producer, &e.consumer]).chain(labels).collect();
        let products = self.products.iter().filter(|p| shown.contains(&p.label)).cloned().collect();
        Mesh { products, edges }
    }

    /// Graphviz: a cluster per domain, a node per product with its ports.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph mesh {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        for (i, (domain, products)) in self.by_domain().iter().enumerate() {
            out.push_str(&format!("  subgraph cluster_{i} {{\n    label={};\n", quoted(domain)));
            for p in products {
                let ports = match p.ports.is_empty() {
                    true => String::new(),
                    false => format!("\n{}", p.ports.iter().map(|s| format!(":{s}")).collect::<Vec<_>>().join(" ")),
                };
                let name = quoted(&p.label);
                let label = quoted(&format!("{}{ports}", p.label));
                out.push_str(&format!("    {name} [label={label}];\n"));
            }
            out.push_str("  }\n");
        }
        for e in &self.edges {
            let label = quoted(&format!("{} → {}", e.port, e.input));
            out.push_str(&format!("  {} -> {} [label={label}];\n", quoted(&e.producer), quoted(&e.consumer)));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid: a subgraph per domain, a node per product.
    pub fn mermaid(&self) -> String {
        let ids: BTreeMap<&str, String> =
            self.products.iter().enumerate().map(|(i, p)| (p.label.as_str(), format!("p{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for (i, (domain, products)) in self.by_domain().iter().enumerate() {
            out.push_str(&format!("  subgraph d{i}[\"{}\"]\n", mermaid_text(domain)));
            for p in products {
                out.push_str(&format!("    {}[\"{}\"]\n", ids[p.label.as_str()], mermaid_text(&p.label)));
            }
            out.push_str("  end\n");
        }
        for e in &self.edges {
            let (Some(from), Some(to)) = (ids.get(e.producer.as_str()), ids.get(e.consumer.as_str())) else { continue };
            out.push_str(&format!("  {from} -->|\"{} → {}\"| {to}\n", mermaid_text(&e.port), mermaid_text(&e.input)));
        }
        out
    }

    fn by_domain(&self) -> BTreeMap<&str, Vec<&Product>> {
        let mut out: BTreeMap<&str, Vec<&Product>> = BTreeMap::new();
        for p in &self.products {
            out.entry(p.domain.as_str()).or_default().push(p);
        }
        out
    }
}

/// A DOT string: quotes and backslashes escaped, a line break as `\n`
/// (which DOT centres), other control characters left out.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside Mermaid's quotes: `"` as its entity.
fn mermaid_text(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect::<String>().replace('"', "#quot;")
}
