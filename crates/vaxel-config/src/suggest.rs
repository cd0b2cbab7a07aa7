//! "Did you mean …?": the closest known name to a misspelled one, by edit distance.

/// Edit distance between `a` and `b`, counted in characters: Levenshtein (insertions,
/// deletions and substitutions cost 1) extended with transpositions of two adjacent
/// characters (`mian` → `main` costs 1), the "optimal string alignment" distance.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: the one before the previous is needed for transpositions.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let subst = prev[j] + usize::from(a[i] != b[j]);
            let mut d = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(prev2[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible misspelling:
/// at most a third of the word's length away (at least 1), compared case-insensitively.
/// Ties go to the earliest candidate, so callers pass candidates in file order.
pub(crate) fn suggest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand == word {
            continue;
        }
        let d = levenshtein(&lower, &cand.to_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean "x"?` for the closest candidate, or nothing.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    suggest(word, candidates).map_or_else(String::new, |s| format!("; did you mean \"{s}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("bygglv", "bygglov"), 1);
        assert_eq!(levenshtein("äldre", "aldre"), 1);
        assert_eq!(levenshtein("mian", "main"), 1);
        assert_eq!(levenshtein("ab", "ba"), 1);
        assert_eq!(levenshtein("ca", "abc"), 3);
    }

    #[test]
    fn suggestions() {
        let names = ["bygglov", "forskola", "vaxel"];
        assert_eq!(suggest("bygglv", names), Some("bygglov"));
        assert_eq!(suggest("BYGGLOV", names), Some("bygglov"));
        assert_eq!(suggest("xyz", names), None);
        assert_eq!(suggest("wrapup", ["wrapup_s", "ring_s"]), Some("wrapup_s"));
        assert_eq!(did_you_mean("vaxl", names), "; did you mean \"vaxel\"?");
        assert_eq!(did_you_mean("zzz", names), "");
    }
}
