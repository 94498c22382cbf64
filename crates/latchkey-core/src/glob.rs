//! Listing filters: `*` matches any run of characters (including none); every
//! other character matches itself. Matching is over the whole value and
//! case-insensitive, by comparing Unicode-lowercased forms (see [`fold_case`]).
//!
//! Storage backends evaluate a glob as SQL `LIKE` over a lowercased column,
//! narrowed by the glob's literal prefix so an index serves `abc*`.

/// The case-folded form that names are sorted and matched by.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The pattern as the client sent it, echoed back in listings.
    original: String,
    folded: String,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            original: pattern.to_string(),
            folded: fold_case(pattern),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Whether `value` matches, ignoring case.
    pub fn matches(&self, value: &str) -> bool {
        let value = fold_case(value);
        let mut parts = self.folded.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = value.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }

    /// The case-folded characters before the first `*`: every match starts with them.
    pub fn literal_prefix(&self) -> &str {
        self.folded.split('*').next().unwrap_or_default()
    }

    /// The smallest string greater than every string that starts with the
    /// literal prefix, or `None` when there is no such bound (empty prefix).
    /// Code-point order equals UTF-8 byte order, so this bounds an index range.
    pub fn prefix_upper_bound(&self) -> Option<String> {
        let mut chars: Vec<char> = self.literal_prefix().chars().collect();
        while let Some(last) = chars.pop() {
            let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
            if let Some(next) = next {
                chars.push(next);
                return Some(chars.into_iter().collect());
            }
        }
        None
    }

    /// The glob as a SQL `LIKE` pattern over the case-folded value, with `\`
    /// as the escape character.
    pub fn to_sql_like(&self) -> String {
        let mut like = String::with_capacity(self.folded.len() + 4);
        for c in self.folded.chars() {
            match c {
                '*' => like.push('%'),
                '%' | '_' | '\\' => {
                    like.push('\\');
                    like.push(c);
                }
                other => like.push(other),
            }
        }
        like
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_and_the_match_is_anchored() {
        let glob = Glob::new("my*token");
        assert!(glob.matches("My API Token"));
        assert!(glob.matches("mytoken"));
        assert!(!glob.matches("My API Tokens"));
        assert!(!glob.matches("a my token"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("**").matches("anything"));
        assert!(!Glob::new("").matches("x"));
        assert!(Glob::new("").matches(""));
        assert!(Glob::new("a*a").matches("aa"));
        assert!(!Glob::new("a*a").matches("a"));
        assert!(Glob::new("*ab*ab").matches("xxabyyab"));
    }

    #[test]
    fn other_characters_are_literal() {
        assert!(Glob::new("50%_off?").matches("50%_OFF?"));
        assert!(!Glob::new("50%").matches("500"));
        assert!(!Glob::new("a_c").matches("abc"));
        assert!(!Glob::new("a?c").matches("abc"));
        assert!(Glob::new("[a]\\.").matches("[A]\\."));
    }

    #[test]
    fn case_folding_is_unicode() {
        assert!(Glob::new("ÄRGER*").matches("ärgerlich"));
        assert!(Glob::new("σ*").matches("Σίσυφος"));
    }

    #[test]
    fn prefix_and_bound() {
        let glob = Glob::new("Seed-0001*x");
        assert_eq!(glob.literal_prefix(), "seed-0001");
        assert_eq!(glob.prefix_upper_bound().as_deref(), Some("seed-0002"));
        assert_eq!(Glob::new("*x").prefix_upper_bound(), None);
        let max = format!("a{}", char::MAX);
        assert_eq!(Glob::new(&max).prefix_upper_bound().as_deref(), Some("b"));
        // The bound skips the surrogate gap.
        assert_eq!(Glob::new("\u{d7ff}").prefix_upper_bound().as_deref(), Some("\u{e000}"));
    }

    #[test]
    fn sql_like_escapes_wildcards() {
        assert_eq!(Glob::new("A*b%c_d\\e").to_sql_like(), "a%b\\%c\\_d\\\\e");
    }
}
