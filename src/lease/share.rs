//! The even share: how many units one replica should hold.

/// How many of `units` the replica `me` should hold among the `live` replicas (their
/// names, each once): ⌊units ÷ live⌋, and one more for the first `units mod live`
/// names in order. Every replica computes the same split from the same list, so
/// the shares add up to `units` and no replica holds more than ⌈units ÷ live⌉. A
/// replica missing from `live` counts as one more, last.
pub(super) fn share(units: usize, live: &[String], me: &str) -> usize {
    let mut names: Vec<&str> = live.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let position = match names.binary_search(&me) {
        Ok(position) => position,
        Err(_) => names.len(),
    };
    let replicas = names.len() + usize::from(position == names.len());
    let base = units / replicas;
    base + usize::from(position < units % replicas)
}

#[cfg(test)]
mod tests {
    use super::share;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn ten_units_over_three_replicas_are_four_three_three() {
        let live = names(&["b", "a", "c"]);
        let shares: Vec<usize> = ["a", "b", "c"]
            .iter()
            .map(|me| share(10, &live, me))
            .collect();
        assert_eq!(shares, [4, 3, 3]);
    }

    #[test]
    fn the_shares_add_up_to_the_units_and_differ_by_at_most_one() {
        for units in 0..40 {
            for replicas in 1..7 {
                let live: Vec<String> = (0..replicas).map(|n| format!("r{n}")).collect();
                let shares: Vec<usize> = live.iter().map(|me| share(units, &live, me)).collect();
                assert_eq!(
                    shares.iter().sum::<usize>(),
                    units,
                    "{units} over {replicas}"
                );
                let most = shares.iter().max().copied().unwrap_or(0);
                let fewest = shares.iter().min().copied().unwrap_or(0);
                assert!(most - fewest <= 1, "{units} over {replicas}: {shares:?}");
                assert!(most <= units.div_ceil(replicas));
            }
        }
    }

    #[test]
    fn a_replica_not_yet_seen_counts_itself_last() {
        assert_eq!(share(10, &names(&["a", "b"]), "c"), 3);
        assert_eq!(share(10, &names(&["a", "b"]), "a"), 5);
    }
}
