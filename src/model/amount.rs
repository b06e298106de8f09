//! Graph's Decimal fields (`charge`, `connectionCharge`), kept as written.

use std::borrow::Cow;

/// A Decimal as Graph sent it: usually a JSON number, sometimes a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount<'a> {
    /// A JSON number literal, as written.
    Number(&'a str),
    /// A JSON string holding the amount.
    Text(Cow<'a, str>),
}

impl Amount<'_> {
    /// The amount as a float, for metrics; `None` when the text is not a number.
    pub fn value(&self) -> Option<f64> {
        let text = match self {
            Amount::Number(text) => text,
            Amount::Text(text) => text.as_ref(),
        };
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
    }
}
