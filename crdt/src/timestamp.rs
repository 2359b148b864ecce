//! Points in time, in whole seconds since the Unix epoch, written as RFC 3339 in UTC.
//!
//! `crdt` never reads the clock: callers pass `now` in. The text form is strict
//! (`2026-11-23T10:00:00Z`, no fractions, no offsets) so that a signed time has exactly
//! one spelling in a chain file.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::ParseIdError;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The last second that RFC 3339 can write with a four-digit year
    /// (9999-12-31T23:59:59Z). Records with later times are refused, since their text
    /// form could not round-trip.
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    /// Seconds since the epoch.
    pub fn as_secs(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formatted = i64::try_from(self.0)
            .ok()
            .filter(|_| *self <= Timestamp::MAX)
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .and_then(|t| t.format(&Rfc3339).ok());
        match formatted {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseIdError::Timestamp {
            found: s.chars().take(80).collect(),
        };
        let parsed = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        let secs = u64::try_from(parsed.unix_timestamp()).map_err(|_| bad())?;
        let ts = Timestamp(secs);
        // One spelling only: UTC, `Z`, whole seconds.
        if ts.to_string() != s {
            return Err(bad());
        }
        Ok(ts)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        assert_eq!(t.0, 1_795_428_000);
        assert_eq!(t.to_string(), "2026-11-23T10:00:00Z");
    }

    #[test]
    fn other_spellings_are_refused() {
        for s in [
            "2026-11-23T10:00:00z",
            "2026-11-23T10:00:00+00:00",
            "2026-11-23T11:00:00+01:00",
            "2026-11-23T10:00:00.5Z",
            "2026-11-23 10:00:00Z",
            "1969-12-31T23:59:59Z",
            "yesterday",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s} should be refused");
        }
    }
}
