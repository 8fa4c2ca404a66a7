//! Secrets scrubbed from text before it leaves the process: command output placed in reports,
//! and anything sent to a model.
//!
//! What counts as a secret: API keys and tokens with well-known prefixes (`sk-`, `ghp_` and the
//! other GitHub prefixes, `glpat-`, Slack's `xox?-`, AWS access key ids `AKIA…`, Stripe's
//! `sk_live_`, Google's `AIza…`, Hugging Face's `hf_`), JSON Web Tokens,
//! `Bearer …` and `Basic …` credentials, the value of `password=`, `secret=`, `token=`, `api_key=`
//! (and `:` / JSON forms), PEM private keys, and the password of a connection string
//! (`postgres://user:password@host`). Each is replaced with [`MARKER`]; the text around it stays,
//! so a log line still reads as what it was.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What a secret is replaced with.
pub const MARKER: &str = "[scrubbed]";

struct Pattern {
    regex: Regex,
    /// The capture group holding the secret; the rest of the match is kept.
    group: usize,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let pattern = |source: &str, group: usize| Pattern {
        regex: Regex::new(source).unwrap_or_else(|error| unreachable!("a scrub pattern is invalid: {error}")),
        group,
    };
    vec![
        // PEM private keys, whole.
        pattern(r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z))", 1),
        // Credentials in a URL: scheme://user:password@host.
        pattern(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:([^\s@/]+)@", 1),
        // Authorization headers.
        pattern(r"(?i)\bauthorization[\x22']?\s*[:=]\s*[\x22']?(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{6,})", 1),
        pattern(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{8,})", 1),
        // JSON Web Tokens.
        pattern(r"\b(eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,})", 1),
        // Well-known key prefixes.
        pattern(r"\b((?:sk|rk|pk)-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,})", 1),
        pattern(r"\b((?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,})", 1),
        pattern(r"\b(glpat-[A-Za-z0-9_-]{16,})", 1),
        pattern(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})", 1),
        pattern(r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b", 1),
        // Stripe (`sk_live_`, `rk_test_`...), Google API keys, Hugging Face tokens.
        pattern(r"\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,})", 1),
        pattern(r"\b(AIza[A-Za-z0-9_-]{35})", 1),
        pattern(r"\b(hf_[A-Za-z0-9]{30,})", 1),
        // key=value, key: value and "key": "value" where the key names a secret.
        pattern(
            r#"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth)["']?\s*[:=]\s*["']?([^\s"',;&}]+)"#,
            1,
        ),
    ]
});

/// `text` with every secret replaced by [`MARKER`]; borrowed when there was none.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut current: Cow<'_, str> = Cow::Borrowed(text);
    for pattern in PATTERNS.iter() {
        if !pattern.regex.is_match(&current) {
            continue;
        }
        let mut out = String::with_capacity(current.len());
        let mut last = 0;
        for captures in pattern.regex.captures_iter(&current) {
            let Some(secret) = captures.get(pattern.group) else { continue };
            if secret.as_str() == MARKER {
                continue;
            }
            out.push_str(&current[last..secret.start()]);
            out.push_str(MARKER);
            last = secret.end();
        }
        out.push_str(&current[last..]);
        current = Cow::Owned(out);
    }
    current
}

/// Whether a variable name says its value is a secret (`password`, `api_key`, `SENTRY_AUTH_TOKEN`).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "private_key", "credential", "auth"]
        .iter()
        .any(|word| lower.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(text: &str) -> String {
        scrub(text).into_owned()
    }

    #[test]
    fn well_known_token_prefixes_are_scrubbed() {
        assert_eq!(scrubbed("key sk-proj-abcdefghijklmnop1234 used"), "key [scrubbed] used");
        assert_eq!(scrubbed("anthropic sk-ant-api03-abcdefghijklmnopqrstu"), "anthropic [scrubbed]");
        assert_eq!(scrubbed("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "[scrubbed]");
        assert_eq!(scrubbed("github_pat_11ABCDEFG0abcdefghijklmnopqrstuv"), "[scrubbed]");
        assert_eq!(scrubbed("GITLAB glpat-abcdefghij1234567890"), "GITLAB [scrubbed]");
        assert_eq!(scrubbed("slack xoxb-1234567890-abcdefghij"), "slack [scrubbed]");
        assert_eq!(scrubbed("aws AKIAIOSFODNN7EXAMPLE here"), "aws [scrubbed] here");
        assert_eq!(scrubbed("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc"), "stripe [scrubbed]");
        assert_eq!(scrubbed("key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234"), "key=[scrubbed]");
        assert_eq!(scrubbed("google AIzaSyA-abcdefghijklmnopqrstuvwxyz01234 used"), "google [scrubbed] used");
        assert_eq!(scrubbed("hf_abcdefghijklmnopqrstuvwxyz0123456789"), "[scrubbed]");
        assert_eq!(scrubbed("sk_live_ is a prefix"), "sk_live_ is a prefix");
    }

    #[test]
    fn jwts_and_authorization_headers_are_scrubbed() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(scrubbed(&format!("cookie={jwt};")), "cookie=[scrubbed];");
        assert_eq!(scrubbed(&format!("got {jwt}")), "got [scrubbed]");
        assert_eq!(scrubbed("Authorization: Bearer abcdef0123456789"), "Authorization: Bearer [scrubbed]");
        assert_eq!(scrubbed("Authorization: Basic dXNlcjpwYXNzd29yZA=="), "Authorization: Basic [scrubbed]");
    }

    #[test]
    fn secret_assignments_keep_their_names() {
        assert_eq!(scrubbed("login password=hunter2 ok"), "login password=[scrubbed] ok");
        assert_eq!(scrubbed(r#"{"api_key": "abc123", "user": "ada"}"#), r#"{"api_key": "[scrubbed]", "user": "ada"}"#);
        assert_eq!(scrubbed("SECRET: s3cr3t"), "SECRET: [scrubbed]");
        assert_eq!(scrubbed("?token=abc&page=2"), "?token=[scrubbed]&page=2");
        assert_eq!(scrubbed("client_secret='xyz'"), "client_secret='[scrubbed]'");
    }

    #[test]
    fn connection_strings_lose_their_password_only() {
        assert_eq!(
            scrubbed("DATABASE_URL=postgres://shop:pa55word@db.internal:5432/shop"),
            "DATABASE_URL=postgres://shop:[scrubbed]@db.internal:5432/shop"
        );
        assert_eq!(scrubbed("redis://:hunter2@cache:6379"), "redis://:[scrubbed]@cache:6379");
        assert_eq!(scrubbed("https://sentry.io/api/0/"), "https://sentry.io/api/0/");
    }

    #[test]
    fn private_keys_are_scrubbed_whole() {
        let text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(scrubbed(text), "key:\n[scrubbed]\nafter");
        assert_eq!(scrubbed("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"), "[scrubbed]");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "TypeError: 'NoneType' object is not subscriptable",
            "File \"/srv/shop/orders.py\", line 31, in receipt",
            "https://sentry.io/organizations/acme/issues/42/",
            "the task-manager skipped 3 items",
            "tokenize the input",
            "basic arithmetic with a token budget",
            "author: Ada Lovelace",
        ] {
            assert!(matches!(scrub(text), Cow::Borrowed(_)), "{text} was changed to {}", scrub(text));
        }
    }

    #[test]
    fn secret_names_are_recognised() {
        assert!(is_secret_name("SENTRY_AUTH_TOKEN"));
        assert!(is_secret_name("db_password"));
        assert!(is_secret_name("apiKey"));
        assert!(!is_secret_name("customer"));
        assert!(!is_secret_name("order_id"));
    }
}
