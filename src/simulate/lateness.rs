//! How long after a call ends its row becomes visible in the simulated Graph.

use super::random::CallRandom;
use std::time::Duration;

/// A lateness distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lateness {
    /// Visible as soon as the call ends.
    None,
    /// Like Microsoft's reports: most within an hour, some after a day, a few near two.
    Default,
    /// Where Microsoft says its PSTN reports land: most rows (85%) 24–48 h late, 10%
    /// within a day, 5% within an hour.
    Microsoft,
    /// Uniform between zero and this.
    Uniform(Duration),
}

impl Lateness {
    /// Reads `none`, `default`, `microsoft`, or `uniform:DURATION` (e.g. `uniform:30m`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "none" => Ok(Lateness::None),
            "default" => Ok(Lateness::Default),
            "microsoft" => Ok(Lateness::Microsoft),
            other => match other.strip_prefix("uniform:") {
                Some(duration) => crate::config::parse_duration(duration).map(Lateness::Uniform),
                None => Err(format!(
                    "{other:?}: use none, default, microsoft or uniform:DURATION"
                )),
            },
        }
    }

    /// Seconds after the call's end until the row is visible.
    pub(crate) fn draw(self, random: &mut CallRandom) -> f64 {
        match self {
            Lateness::None => 0.0,
            Lateness::Uniform(max) => random.unit() * max.as_secs_f64(),
            Lateness::Default => {
                let class = random.unit();
                let value = random.unit();
                if class < 0.80 {
                    (-600.0 * (1.0 - value).ln()).min(3600.0)
                } else if class < 0.95 {
                    3600.0 + value * 23.0 * 3600.0
                } else if class < 0.99 {
                    24.0 * 3600.0 + value * 16.0 * 3600.0
                } else {
                    40.0 * 3600.0 + value * 8.0 * 3600.0
                }
            }
            Lateness::Microsoft => {
                let class = random.unit();
                let value = random.unit();
                if class < 0.05 {
                    (-600.0 * (1.0 - value).ln()).min(3600.0)
                } else if class < 0.15 {
                    3600.0 + value * 23.0 * 3600.0
                } else {
                    24.0 * 3600.0 + value * 24.0 * 3600.0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses_by_name_and_a_bad_one_lists_them() {
        assert_eq!(Lateness::parse("microsoft"), Ok(Lateness::Microsoft));
        assert_eq!(
            Lateness::parse("uniform:72h"),
            Ok(Lateness::Uniform(Duration::from_secs(72 * 3600)))
        );
        let error = Lateness::parse("late").unwrap_err();
        assert!(error.contains("microsoft"), "{error}");
    }
}
