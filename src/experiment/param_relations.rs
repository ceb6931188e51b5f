//! Constraints between a template's parameters, checked once their values are known:
//! `differs_from: other` (two values that must never be equal, such as a failed and a
//! surviving zone) and `required_when: "other == word"` (a value that must be given when an
//! enum parameter has that word, such as the stop command of an optional instance stop).

use super::diag::Sink;
use super::spec::{Named, ParameterSpec, Spanned};
use super::template::Declared;

/// Checks every parameter's `differs_from` and `required_when` against the values resolved.
pub(super) fn check(sink: &mut Sink<'_>, params: &Named<ParameterSpec>, declared: &[Declared<'_>]) {
    for (key, spec) in &params.0 {
        if let Some(other) = &spec.differs_from {
            differs_from(sink, key, other, declared);
        }
        if let Some(condition) = &spec.required_when {
            required_when(sink, key, condition, declared);
        }
    }
}

fn find<'d, 'a>(declared: &'d [Declared<'a>], name: &str) -> Option<&'d Declared<'a>> {
    declared.iter().find(|d| d.key.value == name)
}

fn differs_from(sink: &mut Sink<'_>, key: &Spanned<String>, other: &Spanned<String>, declared: &[Declared<'_>]) {
    let value_of = |name: &str| find(declared, name).map(|d| d.value.as_ref());
    match (value_of(&key.value), value_of(&other.value)) {
        (_, None) => sink.error(other.span, format!("`differs_from`: no parameter `{}` is declared", other.value)),
        (Some(Some(mine)), Some(Some(theirs))) if mine == theirs => sink.error(
            other.span,
            format!(
                "parameter `{}` is `{}`, the same as `{}`; they must differ: pass --set {}=… or --set {}=…",
                key.value,
                mine.as_text(),
                other.value,
                key.value,
                other.value
            ),
        ),
        _ => {}
    }
}

/// `required_when: "instances == stop"`: with `instances` at `stop`, this parameter must have a
/// value that is not empty (a default of `[]` or `""` stands for "not given").
fn required_when(sink: &mut Sink<'_>, key: &Spanned<String>, condition: &Spanned<String>, declared: &[Declared<'_>]) {
    let Some((other, word)) = condition.value.split_once("==").map(|(o, w)| (o.trim(), w.trim())) else {
        let message = "`required_when`: expected `PARAMETER == WORD` (an enum parameter and one of its words), \
                       such as `instances == stop`";
        return sink.error(condition.span, message.to_string());
    };
    let Some(switch) = find(declared, other) else {
        return sink.error(condition.span, format!("`required_when`: no parameter `{other}` is declared"));
    };
    if !switch.words.contains(&word) {
        let message = if switch.words.is_empty() {
            format!("`required_when`: parameter `{other}` is not an enum; name an enum parameter and one of its words")
        } else {
            format!("`required_when`: `{word}` is not one of `{other}`'s words: {}", switch.words.join(", "))
        };
        return sink.error(condition.span, message);
    }
    let holds = switch.value.as_ref().is_some_and(|v| v.as_text() == word);
    let given = find(declared, &key.value).and_then(|d| d.value.as_ref()).is_some_and(|v| !v.is_empty());
    if holds && !given {
        sink.error(
            key.span,
            format!("parameter `{}` is required when `{other}` is `{word}`: pass --set {}=…", key.value, key.value),
        );
    }
}
