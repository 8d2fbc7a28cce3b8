//! Glob matching, one dialect for every place floe takes a pattern: model
//! names in `policy_overrides` and rule `applies_to`, paths in
//! `secret_scanning.exclude_patterns` and `.floeignore`.
//!
//! `*` matches any run of characters and `?` one character, neither crossing
//! a `/`; in a path pattern a segment of `**` matches any number of segments
//! (none included). Every other character stands for itself. Matching is
//! globset's: a pattern compiles to a regular expression, so the time it
//! takes is linear in the text whatever the pattern. globset matches bytes,
//! so `?` matches one byte of a character outside ASCII (as git's wildcards
//! do); `*` is not affected.

use std::cell::RefCell;
use std::collections::HashMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    /// Any of its globs matching is a match: a pattern ending in `/**` also
    /// matches the directory itself, which a globset pattern does not. `None`
    /// for a pattern too large to compile (hundreds of kilobytes of it),
    /// which matches nothing.
    set: Option<GlobSet>,
}

impl Glob {
    /// A pattern over one name (or one path segment).
    pub fn name(pattern: &str) -> Glob {
        let mut glob = String::with_capacity(pattern.len());
        push_segment(&mut glob, pattern);
        Glob::compile([glob])
    }

    /// A pattern over a `/`-separated path, whose `**` segments span directories.
    pub fn path(pattern: &str) -> Glob {
        let mut segments: Vec<&str> = Vec::new();
        for seg in pattern.split('/') {
            // `**/**` spans what `**` does.
            if !(seg == "**" && segments.last() == Some(&"**")) {
                segments.push(seg);
            }
        }
        let mut glob = String::with_capacity(pattern.len());
        for (i, seg) in segments.iter().enumerate() {
            if i > 0 {
                glob.push('/');
            }
            if *seg == "**" {
                glob.push_str("**");
            } else {
                push_segment(&mut glob, seg);
            }
        }
        match glob.strip_suffix("/**") {
            Some(dir) => {
                let dir = dir.to_owned();
                Glob::compile([glob, dir])
            }
            None => Glob::compile([glob]),
        }
    }

    fn compile<const N: usize>(globs: [String; N]) -> Glob {
        let mut set = GlobSetBuilder::new();
        for glob in &globs {
            // globset reads a lone `**/` as `**`; here it is a path whose last
            // segment is empty.
            let parts: &[&str] = if glob == "**/" { &["**/*/", ""] } else { &[glob.as_str()] };
            for part in parts {
                // Every character but `*`, `?` and `/` is escaped: this cannot fail.
                if let Ok(g) = GlobBuilder::new(part).literal_separator(true).backslash_escape(false).build() {
                    set.add(g);
                }
            }
        }
        // A set, unlike a single glob's matcher, reports a pattern too large
        // for the regex engine instead of panicking.
        Glob { set: set.build().ok() }
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.is_match(text))
    }
}

/// One segment in globset's syntax: runs of `*` as one `*` (two would be
/// globset's `**`), `?` as is, and every other character escaped.
fn push_segment(out: &mut String, seg: &str) {
    let mut stars = false;
    for c in seg.chars() {
        match c {
            '*' if stars => continue,
            '*' | '?' => out.push(c),
            // A class of one character is globset's escape.
            '[' | ']' | '{' | '}' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
        stars = c == '*';
    }
}

/// Compiled patterns, per thread: the same few patterns are matched against
/// every model and file of a build.
#[derive(Default)]
struct Cache {
    names: HashMap<String, Glob>,
    paths: HashMap<String, Glob>,
}

/// Patterns a thread keeps before it starts over: policy expressions can
/// build patterns at run time, and those should not pile up.
const CACHE_PATTERNS: usize = 256;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

fn cached(pattern: &str, path: bool, text: &str) -> bool {
    CACHE.with_borrow_mut(|cache| {
        let map = if path { &mut cache.paths } else { &mut cache.names };
        if let Some(glob) = map.get(pattern) {
            return glob.is_match(text);
        }
        if map.len() >= CACHE_PATTERNS {
            map.clear();
        }
        let glob = if path { Glob::path(pattern) } else { Glob::name(pattern) };
        map.entry(pattern.to_owned()).or_insert(glob).is_match(text)
    })
}

/// `*` and `?` within one name (or one path segment).
pub fn matches(pattern: &str, text: &str) -> bool {
    cached(pattern, false, text)
}

/// A `/`-separated path against a pattern whose `**` segments span
/// directories; a leading `/` of the pattern is ignored.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    cached(pattern.trim_start_matches('/'), true, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches("legacy_*", "legacy_orders"));
        assert!(matches("*", ""));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("stg_?rders", "stg_orders"));
        assert!(matches("*_orders*", "int_orders_unioned"));
        assert!(!matches("legacy_*", "stg_legacy_orders"));
        assert!(!matches("a*", "a/b"));
        assert!(!matches("a?b", "a/b"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("umsätze_*", "umsätze_je_bestellung"));
        assert!(matches("*_größe", "stg_größe"));
    }

    #[test]
    fn only_stars_and_question_marks_are_wildcards() {
        assert!(matches("a[b]c", "a[b]c"));
        assert!(!matches("a[b]c", "abc"));
        assert!(matches("{a,b}", "{a,b}"));
        assert!(!matches("{a,b}", "a"));
        assert!(matches(r"a\*", r"a\xyz"));
        assert!(matches("[", "["));
        assert!(matches("]*}", "]x}"));
        assert!(matches("!x", "!x"));
    }

    #[test]
    fn double_stars_in_names_do_not_cross_slashes() {
        assert!(matches("**", "abc"));
        assert!(!matches("**", "a/b"));
        assert!(matches("a**b", "aXXb"));
        assert!(!matches("a**b", "a/b"));
    }

    #[test]
    fn paths() {
        assert!(path_matches("**/*.md", "docs/guide/a.md"));
        assert!(path_matches("**/*.md", "a.md"));
        assert!(path_matches("tests/**", "tests/x/y.yml"));
        assert!(path_matches("tests/**", "tests"), "a trailing `**` also spans no segment");
        assert!(!path_matches("tests/**", "testsuite/x"));
        assert!(!path_matches("tests/*", "tests/x/y.yml"));
        assert!(path_matches("sales/*/floe.yaml", "sales/orders/floe.yaml"));
        assert!(!path_matches("sales/*.yaml", "sales/orders/floe.yaml"));
        assert!(path_matches("a/**/b", "a/b"));
        assert!(path_matches("a/**/b", "a/x/y/b"));
        assert!(!path_matches("a/**/b", "a/xb"));
        assert!(path_matches("a/**/**/b", "a/b"));
        assert!(path_matches("/sales/*.sql", "sales/x.sql"));
        assert!(path_matches("**", "any/thing"));
        assert!(!path_matches("**/", "any/thing"));
        assert!(path_matches("**/", "any/thing/"));
        assert!(path_matches("x/a**b", "x/ab"));
        assert!(!path_matches("x/a**b", "x/a/b"));
        assert!(path_matches("models/[draft]/*", "models/[draft]/a.sql"));
    }

    #[test]
    fn huge_patterns_do_not_panic() {
        // A single glob's matcher panics when its regex is too large to build.
        let huge = "x".repeat(1 << 20);
        assert!(matches(&huge, &huge));
        assert!(!matches(&format!("{huge}*?"), &huge));
        assert!(!path_matches(&format!("**/{huge}*/a"), "a"));
    }

    #[test]
    fn many_stars_stay_linear() {
        let text = "a".repeat(10_000);
        assert!(!matches(&format!("{}b", "*a".repeat(50)), &text));
    }

    #[test]
    fn many_double_star_segments_stay_linear_on_long_paths() {
        // Trying every split of the path at every `**` took (segments)^(stars) steps.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let path = vec!["d"; 200].join("/") + "/x.txt";
            let pattern = format!("{}/*.sql", vec!["**/d"; 20].join("/"));
            let _ = done.send(path_matches(&pattern, &path));
        });
        let found = finished.recv_timeout(std::time::Duration::from_secs(20)).expect("matching finishes in time");
        assert!(!found);
    }
}
