//! Durations written as people write them in configuration: `30s`, `5m`, `6h`, `7d`.

use std::time::Duration;

/// Parses `500ms`, `30s`, `5m`, `6h`, `7d`, `2w`, or a sum of them like `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (write e.g. 30s, 5m, 6h, 7d)".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!(
                "{text:?} is not a duration (write e.g. 30s, 5m, 6h, 7d)"
            ));
        }
        let number: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_seconds: f64 = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "" => return Err(format!("{text:?} needs a unit: ms, s, m, h, d or w")),
            other if other.starts_with('.') => return Err(no_fractions(text)),
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?} (use ms, s, m, h, d or w)"
                ));
            }
        };
        rest = &rest[unit_end..];
        let part = Duration::try_from_secs_f64(number as f64 * unit_seconds)
            .map_err(|_| format!("{text:?}: duration too large"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{text:?}: duration too large"))?;
    }
    Ok(total)
}

/// The problem with `1.5h`: whole numbers only, and the same duration written so.
fn no_fractions(text: &str) -> String {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let seconds = match &text[split..] {
        "s" => Some(1.0),
        "m" => Some(60.0),
        "h" => Some(3600.0),
        "d" => Some(86_400.0),
        "w" => Some(604_800.0),
        _ => None,
    };
    let written = text[..split]
        .parse::<f64>()
        .ok()
        .zip(seconds)
        .and_then(|(number, unit)| Duration::try_from_secs_f64(number * unit).ok())
        .filter(|duration| !duration.is_zero())
        .map(|duration| format!(": write {}", format_duration(duration)))
        .unwrap_or_default();
    format!("{text:?}: durations take whole numbers (combine units, like 1h30m){written}")
}

/// Formats a duration in the same units, largest first (`1h30m`), for messages and help.
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    let millis = duration.subsec_millis();
    if seconds == 0 {
        return format!("{millis}ms");
    }
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            text.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    if millis > 0 {
        text.push_str(&format!("{millis}ms"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_units_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn numbers_without_units_and_unknown_units_are_refused() {
        assert!(parse_duration("30").unwrap_err().contains("unit"));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn a_fraction_is_refused_with_the_same_duration_in_whole_units() {
        assert_eq!(
            parse_duration("1.5h"),
            Err(
                "\"1.5h\": durations take whole numbers (combine units, like 1h30m): write 1h30m"
                    .into()
            )
        );
        assert!(parse_duration("0.5s").unwrap_err().ends_with("write 500ms"));
        assert!(!parse_duration("1.5x").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn weeks_are_a_documented_unit() {
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("2w1d"), Ok(Duration::from_secs(15 * 86_400)));
    }

    #[test]
    fn formatting_reads_back_as_the_same_duration() {
        for text in ["72h", "5m", "1h30m", "250ms", "7d"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }
}
