//! Guardrails: judge each sample, trip after `for` consecutive breaches.
