//! Glob matching, one dialect for every place floe takes a pattern: model
//! names in `policy_overrides` and rule `applies_to`, paths in
//! `secret_scanning.exclude_patterns` and `.floeignore`.
//!
//! `*` matches any run of characters and `?` one character, neither crossing
//! a `/`; in a path pattern a segment of `**` matches any number of
//! segments. Matching is linear in the text for each star (the classic
//! backtrack-to-last-star algorithm), so no pattern can make it blow up.

/// `*` and `?` within one name (or one path segment).
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        let literal = pi < p.len() && p[pi] != '*' && (p[pi] == t[ti] || (p[pi] == '?' && t[ti] != '/'));
        if literal {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star
            && t[mark] != '/'
        {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `/`-separated path against a pattern whose `**` segments span directories.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &segs)
}

/// Pattern segments against path segments.
pub fn segments_match<S: AsRef<str>>(pattern: &[S], segs: &[&str]) -> bool {
    match pattern.split_first() {
        None => segs.is_empty(),
        Some((first, rest)) if first.as_ref() == "**" => {
            (0..=segs.len()).any(|skip| segments_match(rest, &segs[skip..]))
        }
        Some((first, rest)) => {
            segs.split_first().is_some_and(|(s, srest)| matches(first.as_ref(), s) && segments_match(rest, srest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches("legacy_*", "legacy_orders"));
        assert!(matches("*", ""));
        assert!(matches("stg_?rders", "stg_orders"));
        assert!(matches("*_orders*", "int_orders_unioned"));
        assert!(!matches("legacy_*", "stg_legacy_orders"));
        assert!(!matches("a*", "a/b"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn paths() {
        assert!(path_matches("**/*.md", "docs/guide/a.md"));
        assert!(path_matches("**/*.md", "a.md"));
        assert!(path_matches("tests/**", "tests/x/y.yml"));
        assert!(!path_matches("tests/*", "tests/x/y.yml"));
        assert!(path_matches("sales/*/floe.yaml", "sales/orders/floe.yaml"));
        assert!(!path_matches("sales/*.yaml", "sales/orders/floe.yaml"));
    }

    #[test]
    fn many_stars_stay_linear() {
        let text = "a".repeat(10_000);
        assert!(!matches(&format!("{}b", "*a".repeat(50)), &text));
    }
}
