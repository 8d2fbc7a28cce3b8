//! Line-level editing of block-style YAML by key path, keeping every other
//! line (comments, order, flow collections) as written.
//!
//! The edits a person makes are small and local, so the differential test
//! makes them the same way: a key path (`governance.quality_gates.block_on_failure`)
//! names a line of nested block mappings; flow values (`[a, b]`, `{x: 1}`) are
//! kept as text. Nothing here validates: a broken result is an input too.

/// A YAML document as lines.
pub struct Doc {
    lines: Vec<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The value written after `key:` on a line, if the line is that key.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(key)?.strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim())
}

impl Doc {
    pub fn parse(text: &str) -> Doc {
        Doc { lines: text.lines().map(str::to_owned).collect() }
    }

    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }

    /// The end (exclusive) of the block under line `i`: the lines indented
    /// deeper, trailing blank and comment lines left to what follows.
    fn block_end(&self, i: usize) -> usize {
        let own = indent(&self.lines[i]);
        let mut j = i + 1;
        while j < self.lines.len() && (blank_or_comment(&self.lines[j]) || indent(&self.lines[j]) > own) {
            j += 1;
        }
        while j > i + 1 && blank_or_comment(&self.lines[j - 1]) {
            j -= 1;
        }
        j
    }

    /// The indentation of the entries in `lo..hi`, if any.
    fn child_indent(&self, lo: usize, hi: usize) -> Option<usize> {
        self.lines[lo..hi].iter().filter(|l| !blank_or_comment(l)).map(|l| indent(l)).min()
    }

    /// The line of the key at `path`, through nested block mappings.
    pub fn find(&self, path: &[&str]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.lines.len());
        let mut found = None;
        for key in path {
            let at = self.child_indent(lo, hi)?;
            let i = (lo..hi).find(|&i| indent(&self.lines[i]) == at && value_of(&self.lines[i], key).is_some())?;
            found = Some(i);
            (lo, hi) = (i + 1, self.block_end(i));
        }
        found
    }

    /// The value written on the key's own line (`""` for a block).
    pub fn get(&self, path: &[&str]) -> Option<String> {
        let i = self.find(path)?;
        value_of(&self.lines[i], path.last()?).map(str::to_owned)
    }

    /// Sets a scalar (or flow) value, creating the key and its parents where
    /// they are missing. False when a parent is written in flow style.
    pub fn set(&mut self, path: &[&str], value: &str) -> bool {
        let Some((key, parent)) = path.split_last() else { return false };
        if let Some(i) = self.find(path) {
            let end = self.block_end(i);
            let pad = " ".repeat(indent(&self.lines[i]));
            self.lines.splice(i..end, [format!("{pad}{key}: {value}")]);
            return true;
        }
        let Some((at, pad)) = self.open_block(parent) else { return false };
        self.lines.insert(at, format!("{}{key}: {value}", " ".repeat(pad)));
        true
    }

    /// Where a new entry of the block at `path` goes, and its indentation;
    /// creates the block (and its parents) when missing.
    fn open_block(&mut self, path: &[&str]) -> Option<(usize, usize)> {
        if path.is_empty() {
            return Some((self.lines.len(), 0));
        }
        let i = match self.find(path) {
            Some(i) => i,
            None => {
                let (at, pad) = self.open_block(&path[..path.len() - 1])?;
                self.lines.insert(at, format!("{}{}:", " ".repeat(pad), path[path.len() - 1]));
                at
            }
        };
        let key = path[path.len() - 1];
        match value_of(&self.lines[i], key)? {
            "" => {}
            // An empty flow mapping or sequence becomes a block.
            "{}" | "[]" => self.lines[i] = format!("{}{key}:", " ".repeat(indent(&self.lines[i]))),
            _ => return None,
        }
        let end = self.block_end(i);
        let pad = self.child_indent(i + 1, end).unwrap_or(indent(&self.lines[i]) + 2);
        Some((end, pad))
    }

    /// Removes a key and its block. False when absent.
    pub fn remove(&mut self, path: &[&str]) -> bool {
        let Some(i) = self.find(path) else { return false };
        let end = self.block_end(i);
        self.lines.drain(i..end);
        true
    }

    /// The items of a block sequence under `path`, as line ranges.
    pub fn items(&self, path: &[&str]) -> Vec<(usize, usize)> {
        let Some(i) = self.find(path) else { return Vec::new() };
        let end = self.block_end(i);
        let Some(at) = self.child_indent(i + 1, end) else { return Vec::new() };
        let starts: Vec<usize> = (i + 1..end)
            .filter(|&j| indent(&self.lines[j]) == at && self.lines[j].trim_start().starts_with("- "))
            .collect();
        starts.iter().enumerate().map(|(n, &s)| (s, starts.get(n + 1).copied().unwrap_or(end))).collect()
    }

    /// Appends an item (its lines, the first starting with `- `) to the block
    /// sequence under `path`, creating it when missing.
    pub fn push_item(&mut self, path: &[&str], item: &[String]) -> bool {
        let Some((at, pad)) = self.open_block(path) else { return false };
        let pad = " ".repeat(pad);
        for (n, line) in item.iter().enumerate() {
            self.lines.insert(at + n, format!("{pad}{line}"));
        }
        true
    }

    /// Removes lines `range` (an item from [`Doc::items`]).
    pub fn drain(&mut self, range: (usize, usize)) {
        self.lines.drain(range.0..range.1);
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn lines_mut(&mut self) -> &mut Vec<String> {
        &mut self.lines
    }
}

/// The entries of a one-line flow sequence (`[a, b]`), unquoted.
pub fn flow_list(value: &str) -> Option<Vec<String>> {
    let inner = value.trim().strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split(',').map(|s| s.trim().trim_matches('"').to_owned()).filter(|s| !s.is_empty()).collect())
}

pub fn to_flow_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# head
metadata:
  name: a
  version: 1.0.0
plugins: {}
governance:
  quality_gates:
    minimum_test_coverage: 60

  policy_overrides:
    - pattern: \"x_*\"
      action: exclude
    - pattern: \"y_*\"
      action: downgrade
approved_products: [orders, customers]
";

    #[test]
    fn finds_sets_and_creates_keys() {
        let mut d = Doc::parse(DOC);
        assert_eq!(d.get(&["metadata", "version"]).as_deref(), Some("1.0.0"));
        assert_eq!(d.get(&["governance", "quality_gates", "minimum_test_coverage"]).as_deref(), Some("60"));
        assert!(d.set(&["metadata", "version"], "2.0.0"));
        assert!(d.set(&["plugins", "compute", "config", "threads"], "2"));
        assert!(d.set(&["governance", "quality_gates", "block_on_failure"], "true"));
        assert_eq!(d.items(&["governance", "policy_overrides"]).len(), 2);
        assert!(d.push_item(
            &["governance", "policy_overrides"],
            &["- pattern: z".to_owned(), "  action: exclude".to_owned()]
        ));
        let items = d.items(&["governance", "policy_overrides"]);
        d.drain(items[0]);
        assert_eq!(flow_list(&d.get(&["approved_products"]).unwrap()).unwrap(), ["orders", "customers"]);
        assert!(d.remove(&["approved_products"]));
        assert_eq!(
            d.text(),
            "\
# head
metadata:
  name: a
  version: 2.0.0
plugins:
  compute:
    config:
      threads: 2
governance:
  quality_gates:
    minimum_test_coverage: 60
    block_on_failure: true

  policy_overrides:
    - pattern: \"y_*\"
      action: downgrade
    - pattern: z
      action: exclude
"
        );
    }
}
