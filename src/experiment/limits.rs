//! Built-in limits on user values that meet a clock: no duration a user writes
//! (an action's, a wait, a fault parameter, `--duration`, an API request's) may
//! exceed [`MAX_DURATION`], so `now + duration` can never overflow anywhere.

use std::time::Duration;

/// The longest duration faultdrill accepts anywhere: 24 hours.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks `duration` against [`MAX_DURATION`]; the message reads after "duration `X`: ".
pub fn check_duration_limit(duration: Duration) -> Result<(), String> {
    if duration <= MAX_DURATION {
        return Ok(());
    }
    Err(format!(
        "{} is longer than 24h, the longest duration faultdrill accepts; hold a fault for at most a day, and run a longer drill as several",
        shown(duration)
    ))
}

/// A duration for a message, without printing absurd spans digit by digit.
fn shown(duration: Duration) -> String {
    if duration.as_secs() > 1000 * 365 * 24 * 3600 {
        "it".into()
    } else {
        humantime::format_duration(duration).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_passes_and_more_does_not() {
        assert_eq!(check_duration_limit(MAX_DURATION), Ok(()));
        assert_eq!(check_duration_limit(Duration::from_millis(1)), Ok(()));
        let err = check_duration_limit(MAX_DURATION + Duration::from_secs(1)).unwrap_err();
        assert!(err.starts_with("1day 1s is longer than 24h"), "{err}");
        let huge = humantime::parse_duration("500000000000years").unwrap();
        assert!(check_duration_limit(huge).unwrap_err().starts_with("it is longer than 24h"));
    }
}
