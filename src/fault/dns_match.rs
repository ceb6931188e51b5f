//! What dns-fault does to one query: which names it matches (exact names and
//! `*.example.com` wildcards) and what a matched query gets. Pure: messages are
//! parsed and built with hickory-proto, never by hand.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

/// One name the fault hits: `db.example.com` (that name only) or
/// `*.example.com` (every name below example.com, not example.com itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    Exact(String),
    /// The suffix, with its leading dot: `.example.com`.
    Below(String),
}

impl NamePattern {
    /// Parses a pattern, case-insensitively, a trailing dot allowed.
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let lower = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let (below, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        check_name(name).map_err(|why| format!("`{text}` is not a name or a `*.domain` wildcard: {why}"))?;
        Ok(if below { NamePattern::Below(format!(".{name}")) } else { NamePattern::Exact(name.to_string()) })
    }

    /// Whether `name` (lowercase, no trailing dot) is hit.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => name == exact,
            NamePattern::Below(suffix) => name.len() > suffix.len() && name.ends_with(suffix.as_str()),
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(name) => f.write_str(name),
            NamePattern::Below(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// Host-name grammar (letters, digits, `-` and `_`; labels of 1 to 63; at most 253 in all).
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 253 {
        return Err("a name has 1 to 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each label between dots has 1 to 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err("use letters, digits, `-` and `_` (a `*` only as the whole first label)");
        }
    }
    Ok(())
}

/// What a matched query gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// An NXDOMAIN answer (the name does not exist).
    Nxdomain,
    /// A SERVFAIL answer.
    Servfail,
    /// No answer at all: the client times out.
    Timeout,
    /// The real answer, this much later.
    Delay(Duration),
    /// A/AAAA queries get these addresses (none of the asked family: an empty answer);
    /// other types are answered by the upstream.
    WrongAddress(Vec<IpAddr>),
}

/// The words of the `effect` parameter.
pub const EFFECTS: &[&str] = &["nxdomain", "servfail", "timeout", "delay", "wrong-address"];

/// TTL of the wrong addresses: zero, so no cache keeps them after the fault.
const WRONG_TTL: u32 = 0;

/// What the resolver does with one query.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Forward it to the upstream, after this long.
    Forward(Duration),
    /// Send this answer.
    Answer(Vec<u8>),
    /// Say nothing.
    Drop,
}

/// The fault's rules: names and effect.
#[derive(Clone, Debug)]
pub struct Rules {
    pub names: Vec<NamePattern>,
    pub effect: Effect,
}

impl Rules {
    /// What to do with the query in `wire` (a DNS message). Anything unparsable,
    /// or not a plain query, is forwarded as it came.
    pub fn decide(&self, wire: &[u8]) -> Decision {
        let Ok(query) = Message::from_vec(wire) else { return Decision::Forward(Duration::ZERO) };
        let Some(q) = query.query().filter(|_| query.message_type() == MessageType::Query) else {
            return Decision::Forward(Duration::ZERO);
        };
        let name = q.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
        if !self.names.iter().any(|p| p.matches(&name)) {
            return Decision::Forward(Duration::ZERO);
        }
        match &self.effect {
            Effect::Nxdomain => answer(&query, ResponseCode::NXDomain, &[]),
            Effect::Servfail => answer(&query, ResponseCode::ServFail, &[]),
            Effect::Timeout => Decision::Drop,
            Effect::Delay(delay) => Decision::Forward(*delay),
            Effect::WrongAddress(addrs) => match q.query_type() {
                RecordType::A | RecordType::AAAA => {
                    let records: Vec<Record> = addrs
                        .iter()
                        .filter_map(|addr| match (q.query_type(), addr) {
                            (RecordType::A, IpAddr::V4(v4)) => Some(RData::A(A(*v4))),
                            (RecordType::AAAA, IpAddr::V6(v6)) => Some(RData::AAAA(AAAA(*v6))),
                            _ => None,
                        })
                        .map(|rdata| Record::from_rdata(q.name().clone(), WRONG_TTL, rdata))
                        .collect();
                    answer(&query, ResponseCode::NoError, &records)
                }
                _ => Decision::Forward(Duration::ZERO),
            },
        }
    }
}

/// A SERVFAIL answer to the query in `wire` (its upstream failed), if it parses.
pub fn failure_reply(wire: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(wire).ok()?;
    match answer(&query, ResponseCode::ServFail, &[]) {
        Decision::Answer(reply) => Some(reply),
        _ => None,
    }
}

/// The answer to `query` with `rcode` and `records`, or the query forwarded if
/// it cannot be encoded (never the case for a message that parsed).
fn answer(query: &Message, rcode: ResponseCode, records: &[Record]) -> Decision {
    let mut reply = Message::error_msg(query.id(), query.op_code(), rcode);
    reply
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .add_queries(query.queries().iter().cloned())
        .add_answers(records.iter().cloned());
    reply.to_vec().map_or(Decision::Forward(Duration::ZERO), Decision::Answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn query(name: &str, kind: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(4242).set_recursion_desired(true).add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m.to_vec().unwrap()
    }

    fn rules(effect: Effect) -> Rules {
        let names = ["db.example.com", "*.internal.test"].iter().map(|n| NamePattern::parse(n).unwrap()).collect();
        Rules { names, effect }
    }

    fn parsed(decision: Decision) -> Message {
        match decision {
            Decision::Answer(wire) => Message::from_vec(&wire).unwrap(),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn patterns_are_exact_names_or_wildcards_below_a_domain() {
        let exact = NamePattern::parse("DB.Example.com.").unwrap();
        assert_eq!(exact, NamePattern::Exact("db.example.com".into()));
        assert!(exact.matches("db.example.com"));
        assert!(!exact.matches("x.db.example.com"));
        let below = NamePattern::parse("*.example.com").unwrap();
        assert_eq!(below.to_string(), "*.example.com");
        assert!(below.matches("db.example.com") && below.matches("a.b.example.com"));
        assert!(!below.matches("example.com") && !below.matches("badexample.com"));
        for bad in ["", "*", "a..b", "*.", "a.*.b", "db example", "x;y", &"a".repeat(64)] {
            assert!(NamePattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matched_names_get_the_effect_and_others_are_forwarded() {
        let nx = rules(Effect::Nxdomain);
        let reply = parsed(nx.decide(&query("db.example.com.", RecordType::A)));
        assert_eq!(reply.id(), 4242);
        assert_eq!(reply.message_type(), MessageType::Response);
        assert_eq!(reply.response_code(), ResponseCode::NXDomain);
        assert_eq!(reply.queries().len(), 1);
        assert!(reply.recursion_desired() && reply.recursion_available());
        let sf = parsed(rules(Effect::Servfail).decide(&query("a.internal.test.", RecordType::AAAA)));
        assert_eq!(sf.response_code(), ResponseCode::ServFail);
        assert_eq!(nx.decide(&query("www.example.com.", RecordType::A)), Decision::Forward(Duration::ZERO));
        assert_eq!(rules(Effect::Timeout).decide(&query("db.example.com.", RecordType::A)), Decision::Drop);
        let delay = Duration::from_millis(300);
        assert_eq!(
            rules(Effect::Delay(delay)).decide(&query("db.example.com.", RecordType::A)),
            Decision::Forward(delay)
        );
    }

    #[test]
    fn wrong_addresses_answer_their_own_family_with_ttl_zero() {
        let addrs = vec!["10.9.9.9".parse().unwrap(), "fd00::9".parse().unwrap()];
        let wrong = rules(Effect::WrongAddress(addrs));
        let a = parsed(wrong.decide(&query("db.example.com.", RecordType::A)));
        assert_eq!(a.response_code(), ResponseCode::NoError);
        assert_eq!(a.answers().len(), 1);
        assert_eq!(a.answers()[0].data(), &RData::A(A("10.9.9.9".parse().unwrap())));
        assert_eq!(a.answers()[0].ttl(), 0);
        let aaaa = parsed(wrong.decide(&query("db.example.com.", RecordType::AAAA)));
        assert_eq!(aaaa.answers()[0].data(), &RData::AAAA(AAAA("fd00::9".parse().unwrap())));
        assert_eq!(wrong.decide(&query("db.example.com.", RecordType::MX)), Decision::Forward(Duration::ZERO));
        let only_v4 = rules(Effect::WrongAddress(vec!["10.9.9.9".parse().unwrap()]));
        let empty = parsed(only_v4.decide(&query("db.example.com.", RecordType::AAAA)));
        assert!(empty.answers().is_empty() && empty.response_code() == ResponseCode::NoError);
    }

    #[test]
    fn garbage_is_forwarded_as_it_came() {
        let nx = rules(Effect::Nxdomain);
        assert_eq!(nx.decide(b"\x00\x01not dns"), Decision::Forward(Duration::ZERO));
        assert_eq!(nx.decide(&[]), Decision::Forward(Duration::ZERO));
    }
}
