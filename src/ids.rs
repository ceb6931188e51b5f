//! Newtype identifiers for runs and injections.
//!
//! Ids are short, random, lowercase and safe to use in file names, nftables
//! table names and process command lines (helpers are tagged with them).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "{}"), random_suffix(10)))
            }

            /// Checks text from outside (a URL, a request) against the id format:
            /// the prefix, then 1 to 64 lowercase letters, digits or dashes. Nothing
            /// else can reach a file name or a query.
            pub fn parse(text: &str) -> Option<Self> {
                let rest = text.strip_prefix($prefix)?;
                let ok = (1..=64).contains(&rest.len())
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                ok.then(|| Self(text.to_string()))
            }

            /// Wraps an id read back from the journal, a URL or the command line.
            pub fn from_string(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies one run of an experiment, e.g. `r-k3j9x0a2mq`.
    RunId,
    "r-"
);
id_type!(
    /// Identifies one injection (one action on one host), e.g. `i-0x8d1kq2zz`.
    InjectionId,
    "i-"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_prefixed_and_distinct() {
        let a = InjectionId::generate();
        let b = InjectionId::generate();
        assert!(a.as_str().starts_with("i-"));
        assert_eq!(a.as_str().len(), 12);
        assert_ne!(a, b);
        assert!(RunId::generate().as_str().starts_with("r-"));
    }

    #[test]
    fn ids_from_outside_must_have_the_id_format() {
        let id = RunId::generate();
        assert_eq!(RunId::parse(id.as_str()), Some(id));
        for bad in ["r-", "..%2F..%2Fx", "r-../x", "r-a/b", "i-abc", "r-ABC", "r-a.b"] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
        assert!(InjectionId::parse("i-0x8d1kq2zz").is_some());
    }
}
