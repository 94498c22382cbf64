//! Listing filters: `*` matches any run of characters (including none); every
//! other character matches itself. Matching is over the whole value and
//! case-insensitive, by comparing Unicode-lowercased forms (see [`fold_case`]).
//!
//! Storage backends evaluate a glob as SQL `LIKE` over a lowercased column,
//! narrowed by the glob's literal prefix so an index serves `abc*`.

/// The case-folded form that names are sorted and matched by: each character
/// lowercased on its own, final sigma `ς` as `σ`.
///
/// Per character, because a glob is folded apart from the names it meets:
/// `str::to_lowercase` writes `Σ` as `ς` at the end of a word and `σ`
/// elsewhere, so `ΟΔΟΣ*` would fold to `οδος*` and miss `ΟΔΟΣΑ` (`οδοσα`).
/// The two sigmas are one letter, so they fold alike.
pub fn fold_case(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
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

/// Properties against plain reference matchers: the glob, its SQL `LIKE`
/// translation over the stored folded name, and the index range agree.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Characters that make matches likely and folding interesting: cased
    /// letters whose lowercase depends on context (`Σ`), grows (`İ`) or is
    /// shared (`K`, Kelvin sign), and every character SQL `LIKE` treats
    /// specially; then any character at all.
    fn a_char() -> impl Strategy<Value = char> {
        let interesting = vec![
            'a', 'b', 'B', '*', 'Σ', 'σ', 'ς', 'İ', 'i', 'ß', 'ẞ', '\u{212a}', 'k', '%', '_', '\\', '.',
        ];
        prop_oneof![4 => prop::sample::select(interesting), 1 => any::<char>()]
    }

    fn a_text() -> impl Strategy<Value = String> {
        prop::collection::vec(a_char(), 0..12).prop_map(|chars| chars.into_iter().collect())
    }

    /// Whether `pattern` matches all of `value`, both already folded: `*` any
    /// run, everything else itself. Dynamic programming over suffixes.
    fn reference_glob(pattern: &str, value: &str) -> bool {
        let tokens: Vec<Option<char>> = pattern.chars().map(|c| (c != '*').then_some(c)).collect();
        reference_match(&tokens, value, |token, c| token == &Some(c), |token| token.is_none())
    }

    /// Whether a SQL `LIKE` pattern with `\` as its escape matches all of `value`.
    fn reference_like(pattern: &str, value: &str) -> bool {
        #[derive(PartialEq)]
        enum Token {
            AnyRun,
            AnyOne,
            Literal(char),
        }
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '%' => Token::AnyRun,
                '_' => Token::AnyOne,
                '\\' => Token::Literal(chars.next().expect("an escape escapes something")),
                other => Token::Literal(other),
            });
        }
        reference_match(
            &tokens,
            value,
            |token, c| *token == Token::AnyOne || *token == Token::Literal(c),
            |token| *token == Token::AnyRun,
        )
    }

    /// `matches[i][j]`: the tokens from `i` match the value's characters from `j`.
    fn reference_match<T>(
        tokens: &[T],
        value: &str,
        matches_one: impl Fn(&T, char) -> bool,
        is_any_run: impl Fn(&T) -> bool,
    ) -> bool {
        let value: Vec<char> = value.chars().collect();
        let mut matches = vec![vec![false; value.len() + 1]; tokens.len() + 1];
        matches[tokens.len()][value.len()] = true;
        for i in (0..tokens.len()).rev() {
            for j in (0..=value.len()).rev() {
                matches[i][j] = if is_any_run(&tokens[i]) {
                    matches[i + 1][j] || (j < value.len() && matches[i][j + 1])
                } else {
                    j < value.len() && matches_one(&tokens[i], value[j]) && matches[i + 1][j + 1]
                };
            }
        }
        matches[0][0]
    }

    /// How a piece of a name is written into a glob cut from it.
    #[derive(Debug, Clone, Copy)]
    enum Piece {
        AsIs,
        Upper,
        Lower,
        Star,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn matches_agrees_with_the_reference(pattern in a_text(), value in a_text()) {
            let glob = Glob::new(&pattern);
            prop_assert_eq!(glob.matches(&value), reference_glob(&fold_case(&pattern), &fold_case(&value)));
        }

        /// What the databases evaluate: `LIKE` over the folded name stored at
        /// write time, narrowed to the literal prefix's index range.
        #[test]
        fn sql_translation_agrees_with_matches(pattern in a_text(), name in a_text()) {
            let glob = Glob::new(&pattern);
            let stored = fold_case(&name);
            let in_range = stored.as_str() >= glob.literal_prefix()
                && glob.prefix_upper_bound().is_none_or(|upper| stored < upper);
            let sql_matches = reference_like(&glob.to_sql_like(), &stored) && in_range;
            prop_assert_eq!(glob.matches(&name), sql_matches, "LIKE {:?}", glob.to_sql_like());
        }

        #[test]
        fn the_prefix_range_holds_every_value_with_the_prefix(pattern in a_text(), rest in a_text()) {
            let glob = Glob::new(&pattern);
            let value = format!("{}{rest}", glob.literal_prefix());
            prop_assert!(value.as_str() >= glob.literal_prefix());
            if let Some(upper) = glob.prefix_upper_bound() {
                prop_assert!(value < upper, "{:?} < {:?}", value, upper);
            }
        }

        /// A glob's pieces are folded apart from the name they meet, so
        /// folding must not depend on what surrounds a character.
        #[test]
        fn folding_is_per_character_and_stable(left in a_text(), right in a_text()) {
            let joined = format!("{left}{right}");
            prop_assert_eq!(fold_case(&joined), format!("{}{}", fold_case(&left), fold_case(&right)));
            prop_assert_eq!(fold_case(&fold_case(&joined)), fold_case(&joined));
        }

        /// Case-insensitivity from the user's side: a glob written from the
        /// name itself, pieces re-cased or replaced by `*`, matches the name.
        #[test]
        fn a_glob_cut_from_a_name_matches_it(
            pieces in prop::collection::vec(
                (a_text(), prop::sample::select(vec![Piece::AsIs, Piece::Upper, Piece::Lower, Piece::Star])),
                0..5,
            )
        ) {
            let name: String = pieces.iter().map(|(text, _)| text.as_str()).collect();
            let pattern: String = pieces
                .iter()
                .map(|(text, how)| {
                    let recased = match how {
                        Piece::AsIs => text.clone(),
                        Piece::Upper => text.to_uppercase(),
                        Piece::Lower => text.to_lowercase(),
                        Piece::Star => return "*".to_string(),
                    };
                    // Some letters have no case partner to come back to
                    // (`ß` upper-cases to `SS`): those pieces stay as written.
                    if fold_case(&recased) == fold_case(text) { recased } else { text.clone() }
                })
                .collect();
            let glob = Glob::new(&pattern);
            prop_assert!(glob.matches(&name), "{:?} does not match {:?}", pattern, name);
            prop_assert!(reference_like(&glob.to_sql_like(), &fold_case(&name)));
        }
    }

    #[test]
    fn greek_sigma_folds_the_same_in_a_glob_and_a_stored_name() {
        for name in ["ΟΔΟΣ", "οδος", "Οδος", "ΟΔΟΣΑ"] {
            let stored = fold_case(name);
            for pattern in ["οδος*", "ΟΔΟΣ*", "*σ*", "*ς*", "οδοσ*", "*ΔΟΣ*", "Ο*Σ*"] {
                let glob = Glob::new(pattern);
                assert!(glob.matches(name), "{pattern:?} does not match {name:?}");
                assert!(
                    reference_like(&glob.to_sql_like(), &stored),
                    "{pattern:?} LIKE {stored:?}"
                );
            }
        }
        assert!(Glob::new("*σ").matches("ΟΔΟΣ"));
        assert!(!Glob::new("*σ").matches("ΟΔΟΣΑ"));
    }
}
