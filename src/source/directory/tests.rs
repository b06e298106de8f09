//! The directory's failed-round backoff.

use super::*;

#[test]
fn failed_rounds_back_off_doubling_up_to_refresh() {
    let hour = Duration::from_secs(3600);
    let minutes = |n: u64| Duration::from_secs(60 * n);
    let delays: Vec<Duration> = (1..=8).map(|rounds| retry_delay(rounds, hour)).collect();
    assert_eq!(
        delays,
        [1, 2, 4, 8, 16, 32, 60, 60].map(minutes),
        "doubling from a minute, at most refresh"
    );
    assert_eq!(retry_delay(u32::MAX, hour), hour);
    assert_eq!(
        retry_delay(1, Duration::from_secs(20)),
        Duration::from_secs(20)
    );
}
