//! Reading checked parameters as Rust types: `params.get::<f64>("percent")`.
//!
//! The declaration ([`ParamSpec`](super::ParamSpec)) is the single source of a
//! parameter's kind, range, default and doc; [`Params::check`] has applied the
//! defaults, so a fault reads values, never defaults of its own. A fault builds
//! one typed struct from them (`CpuBurnParams::try_from(&params)`), with
//! [`param_words!`] enums for its fixed words.

use std::time::Duration;

use super::params::{ParamValue, Params};
use super::units::parse_duration;

/// A parameter that does not read as the type the fault asked for.
///
/// Either the user's value fails a fault's own rule (`cores: lots`), or the
/// declaration and the reading disagree (a bug in the fault, caught by its tests).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{name}`: {message}")]
pub struct ParamReadError {
    pub name: String,
    pub message: String,
}

/// A fault whose own checks say `String` (the catalog's `check`) reads with `?`.
impl From<ParamReadError> for String {
    fn from(e: ParamReadError) -> String {
        e.to_string()
    }
}

/// A Rust type that a checked parameter value reads as.
pub trait FromParam: Sized {
    /// The value of the parameter, `None` when absent (no value and no default).
    /// The error reads after "parameter `x`: ".
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String>;
}

impl Params {
    /// The parameter `name` as `T`; `Option<T>` for a parameter that may be absent.
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T, ParamReadError> {
        T::from_param(self.value(name)).map_err(|message| ParamReadError { name: name.to_string(), message })
    }
}

/// The value, or the message a missing one gets.
fn present(value: Option<&ParamValue>) -> Result<&ParamValue, String> {
    value.ok_or_else(|| "no value: it needs a default or `required: true` in the fault's declaration".to_string())
}

fn mismatch(want: &str, found: &ParamValue) -> String {
    format!("expected {want} (declared so), found {found:?}")
}

impl<T: FromParam> FromParam for Option<T> {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        value.map(|v| T::from_param(Some(v))).transpose()
    }
}

impl FromParam for f64 {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match present(value)? {
            ParamValue::Number(n) => Ok(*n),
            ParamValue::Integer(i) => Ok(*i as f64),
            other => Err(mismatch("a number", other)),
        }
    }
}

impl FromParam for i64 {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match present(value)? {
            ParamValue::Integer(i) => Ok(*i),
            other => Err(mismatch("an integer", other)),
        }
    }
}

/// A size in bytes (a `Bytes` or `ByteRate` parameter), or a non-negative integer.
impl FromParam for u64 {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        let i = i64::from_param(value)?;
        u64::try_from(i).map_err(|_| format!("expected a value of at least 0, found {i}"))
    }
}

impl FromParam for bool {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match present(value)? {
            ParamValue::Bool(b) => Ok(*b),
            other => Err(mismatch("true or false", other)),
        }
    }
}

impl FromParam for String {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match present(value)? {
            ParamValue::Text(s) => Ok(s.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

/// A `Duration` parameter (kept as the text the user wrote, checked by the loader).
impl FromParam for Duration {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        parse_duration(&String::from_param(value)?)
    }
}

/// A `List` parameter; absent reads as empty.
impl FromParam for Vec<String> {
    fn from_param(value: Option<&ParamValue>) -> Result<Self, String> {
        match value {
            None => Ok(Vec::new()),
            Some(ParamValue::List(items)) => Ok(items.clone()),
            Some(other) => Err(mismatch("a list", other)),
        }
    }
}

/// Declares an enum of fixed words for a `Choice` parameter: the words are written
/// once, here; the declaration says `ParamKind::Choice(Mode::WORDS)` and the fault
/// reads `params.get::<Mode>("mode")`.
///
/// ```ignore
/// param_words!(
///     /// How `percent` is meant.
///     pub LoadMode { Add = "add", Total = "total" }
/// );
/// ```
macro_rules! param_words {
    ($(#[$meta:meta])* $vis:vis $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every word, in the order `faultdrill faults` and the schema list them.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word as written in experiments.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// The value written `word`, if it is one of [`Self::WORDS`].
            pub fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::experiment::FromParam for $name {
            fn from_param(value: Option<&$crate::experiment::ParamValue>) -> Result<Self, String> {
                let word: String = $crate::experiment::FromParam::from_param(value)?;
                $name::from_word(&word)
                    .ok_or_else(|| format!("expected one of {}, found `{word}`", $name::WORDS.join(", ")))
            }
        }
    };
}
pub(crate) use param_words;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::experiment::{ParamKind, ParamSpec, RawParams};

    param_words!(
        /// A test mode.
        Mode { Add = "add", Total = "total" }
    );

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 1.0, max: 100.0 },
            default: Some("50"),
            required: false,
            doc: "load",
        },
        ParamSpec {
            name: "mode",
            kind: ParamKind::Choice(Mode::WORDS),
            default: Some("add"),
            required: false,
            doc: "m",
        },
        ParamSpec { name: "jitter", kind: ParamKind::Duration, default: None, required: false, doc: "j" },
        ParamSpec { name: "ports", kind: ParamKind::List, default: None, required: false, doc: "p" },
    ];

    #[test]
    fn defaults_come_from_the_declaration_and_read_typed() {
        let p = Params::check(SPECS, &RawParams::new()).unwrap();
        assert_eq!(p.get::<f64>("percent"), Ok(50.0));
        assert_eq!(p.get::<Mode>("mode"), Ok(Mode::Add));
        assert_eq!(p.get::<Option<Duration>>("jitter"), Ok(None));
        assert_eq!(p.get::<Vec<String>>("ports"), Ok(vec![]));
    }

    #[test]
    fn given_values_read_typed() {
        let raw: RawParams = [
            ("mode".to_string(), json!("total")),
            ("jitter".into(), json!("1s 5ms")),
            ("ports".into(), json!("80,443")),
        ]
        .into();
        let p = Params::check(SPECS, &raw).unwrap();
        assert_eq!(p.get::<Mode>("mode").map(Mode::as_str), Ok("total"));
        assert_eq!(p.get::<Option<Duration>>("jitter"), Ok(Some(Duration::from_millis(1005))));
        assert_eq!(p.get::<Vec<String>>("ports"), Ok(vec!["80".to_string(), "443".into()]));
    }

    #[test]
    fn a_declaration_that_disagrees_with_the_reading_is_an_error_not_a_default() {
        let p = Params::check(SPECS, &RawParams::new()).unwrap();
        let missing = p.get::<Duration>("jitter").unwrap_err();
        assert!(missing.to_string().starts_with("parameter `jitter`: no value"), "{missing}");
        let wrong = p.get::<bool>("percent").unwrap_err();
        assert!(wrong.to_string().contains("expected true or false"), "{wrong}");
    }
}
