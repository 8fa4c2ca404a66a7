//! What one investigation may spend on the model, and what it spent.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ModelBudget, ModelPrice};

/// What the model cost one investigation, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// `openai gpt-4.1`, `anthropic claude-sonnet-4-5`, `ollama qwen3`.
    pub model: String,
    pub rounds: usize,
    pub requests: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// In the currency of the configured prices; `None` without a price for the model.
    pub cost: Option<f64>,
    /// Time spent waiting on the model, in milliseconds.
    pub model_ms: u64,
    /// The limit that ended the model's part, when one did.
    pub stopped_by: Option<String>,
    /// What went wrong with the model (already scrubbed), in order.
    pub errors: Vec<String>,
}

impl ModelRecord {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// The limits of one investigation and what was spent against them.
pub struct Budget {
    limits: ModelBudget,
    price: Option<ModelPrice>,
    spent: Mutex<ModelRecord>,
}

impl Budget {
    pub fn new(limits: ModelBudget, model: &str) -> Self {
        let price = limits.prices.get(model).copied();
        Self { limits, price, spent: Mutex::new(ModelRecord { model: model.to_owned(), ..ModelRecord::default() }) }
    }

    pub fn limits(&self) -> &ModelBudget {
        &self.limits
    }

    fn with<T>(&self, f: impl FnOnce(&mut ModelRecord) -> T) -> T {
        f(&mut self.spent.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn record(&self) -> ModelRecord {
        self.with(|r| r.clone())
    }

    /// Tokens a request of `estimated_input` tokens may still use for its answer, or why no
    /// request may be sent now.
    pub fn admit(&self, estimated_input: u64, waiting: Duration) -> Result<u64, String> {
        self.with(|spent| {
            let refuse = |spent: &mut ModelRecord, why: String| {
                spent.stopped_by = Some(why.clone());
                Err(why)
            };
            if spent.requests >= self.limits.requests {
                return refuse(spent, format!("the budget of {} model requests is spent", self.limits.requests));
            }
            let used = spent.tokens();
            if used + estimated_input >= self.limits.tokens {
                return refuse(
                    spent,
                    format!(
                        "the budget of {} tokens is spent ({used} used, the next request needs about {estimated_input})",
                        self.limits.tokens
                    ),
                );
            }
            let seconds = Duration::from_millis(spent.model_ms) + waiting;
            if seconds.as_secs() >= self.limits.seconds {
                return refuse(spent, format!("the budget of {} seconds of model time is spent", self.limits.seconds));
            }
            if let (Some(cap), Some(price)) = (self.limits.cost, self.price) {
                let next = spent.cost.unwrap_or(0.0) + estimated_input as f64 * price.input / 1e6;
                if next >= cap {
                    return refuse(spent, format!("the cost cap of {cap} is reached"));
                }
            }
            spent.requests += 1;
            Ok(self.limits.tokens - used - estimated_input)
        })
    }

    /// Seconds of model time left.
    pub fn seconds_left(&self) -> Duration {
        self.with(|spent| {
            Duration::from_secs(self.limits.seconds).saturating_sub(Duration::from_millis(spent.model_ms))
        })
    }

    pub fn spend_time(&self, elapsed: Duration) {
        self.with(|spent| spent.model_ms += elapsed.as_millis() as u64);
    }

    pub fn spend_tokens(&self, input: u64, output: u64) {
        self.with(|spent| {
            spent.input_tokens += input;
            spent.output_tokens += output;
            if let Some(price) = self.price {
                let cost = (input as f64 * price.input + output as f64 * price.output) / 1e6;
                spent.cost = Some(spent.cost.unwrap_or(0.0) + cost);
            }
        });
    }

    pub fn note_error(&self, error: &str) {
        self.with(|spent| spent.errors.push(crate::scrub::scrub(error).into_owned()));
    }

    pub fn set_rounds(&self, rounds: usize) {
        self.with(|spent| spent.rounds = spent.rounds.max(rounds));
    }
}

/// Tokens of a text, estimated (four bytes a token, as the providers' tokenizers average on code).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_refuses_the_request_that_would_pass_it() {
        let limits = ModelBudget { tokens: 1000, requests: 2, seconds: 60, cost: Some(0.01), ..ModelBudget::default() };
        let mut priced = limits.clone();
        priced.prices.insert("m".into(), ModelPrice { input: 10.0, output: 30.0 });
        let budget = Budget::new(limits.clone(), "m");
        assert!(budget.admit(100, Duration::ZERO).is_ok());
        budget.spend_tokens(100, 50);
        assert!(budget.admit(900, Duration::ZERO).expect_err("tokens").contains("1000 tokens"));
        assert!(budget.admit(100, Duration::ZERO).is_ok());
        assert!(budget.admit(10, Duration::ZERO).expect_err("requests").contains("2 model requests"));
        assert_eq!(budget.record().stopped_by.as_deref(), Some("the budget of 2 model requests is spent"));

        let budget = Budget::new(limits, "m");
        assert!(budget.admit(10, Duration::from_secs(61)).expect_err("seconds").contains("60 seconds"));

        let budget = Budget::new(priced, "m");
        budget.spend_tokens(500, 100);
        assert!((budget.record().cost.expect("priced") - 0.008).abs() < 1e-9);
        assert!(budget.admit(300, Duration::ZERO).expect_err("cost").contains("cost cap"));
    }
}
