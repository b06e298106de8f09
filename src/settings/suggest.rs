//! "Did you mean": the closest known name to a mistyped one.

/// The known name closest to `name` (a different letter case, or at most two edits
/// away for names of five letters or more), if any.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in known {
        let distance = if candidate.to_ascii_lowercase() == lower {
            0
        } else {
            edits(&lower, &candidate.to_ascii_lowercase())
        };
        let allowed = if name.len() >= 5 { 2 } else { 1 };
        if distance <= allowed && best.is_none_or(|(seen, _)| distance < seen) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance (names here are short).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// `; did you mean "x"?` or nothing.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, known)
        .map(|candidate| format!("; did you mean {candidate:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_case_or_a_typo_finds_the_name_and_nonsense_finds_none() {
        let known = ["callerNumber", "calleeNumber", "poll_interval", "lookback"];
        assert_eq!(closest("CallerNumber", known), Some("callerNumber"));
        assert_eq!(closest("poll_intervall", known), Some("poll_interval"));
        assert_eq!(closest("lookbak", known), Some("lookback"));
        assert_eq!(closest("colour", known), None);
        assert_eq!(did_you_mean("colour", known), "");
    }
}
