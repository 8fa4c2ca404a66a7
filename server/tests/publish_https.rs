//! An HTTPS-style remote (git's smart HTTP, served by the real `git http-backend`) that wants the
//! token as basic credentials: the push carries it in a header, never in the remote's URL, and a
//! refused token shows up nowhere in the error.
#![allow(clippy::unwrap_used)]

#[path = "support/fake_forge.rs"]
mod fake_forge;
#[path = "support/git_http.rs"]
mod git_http;
#[path = "support/publish_repo.rs"]
mod publish_repo;

use crashloom::config::PullRequestProvider;
use crashloom::publish::{PullRequestOutcome, Tokens, open_pull_request_with};
use fake_forge::{FakeForge, GITHUB_TOKEN};
use git_http::GitHttp;
use publish_repo::{git, investigated, scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_reaches_an_http_remote_in_a_header_only() {
    let (id, investigation) = investigated("ledger-go");
    let scenario = scenario("ledger-go");
    let served = GitHttp::start(scenario.bare.parent().unwrap().to_path_buf(), "x-access-token", GITHUB_TOKEN).await;
    let remote = format!("{}/remote.git", served.base);
    git(&scenario.work, &["remote", "set-url", "origin", &remote]);
    let forge = FakeForge::github("acme/ledger", scenario.bare.clone()).await;
    let config = scenario.config(PullRequestProvider::Github, &forge.api_url, "acme/ledger");
    let group = scenario.group(&id);
    let tokens = Tokens { github: Some(GITHUB_TOKEN.into()), gitlab: None };

    let outcome = open_pull_request_with(&scenario.work, &config, &group, &investigation, &tokens).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Opened { number: 1, .. }), "{outcome:?}");
    assert_eq!(scenario.commits_on(&format!("crashloom/{id}")).len(), 1, "pushed over HTTP");
    let requests = served.requests();
    assert!(requests.iter().any(|(url, _)| url.contains("git-receive-pack")), "{requests:?}");
    assert!(requests.iter().all(|(_, auth)| auth.as_deref().is_some_and(|a| a.starts_with("Basic "))), "{requests:?}");
    assert!(requests.iter().all(|(url, _)| !url.contains(GITHUB_TOKEN)));
    assert_eq!(git(&scenario.work, &["remote", "get-url", "origin"]), remote, "the remote's URL is left as it was");
    let config_text = std::fs::read_to_string(scenario.work.join(".git/config")).unwrap();
    assert!(
        !config_text.contains(GITHUB_TOKEN) && !config_text.contains("extraHeader"),
        "nothing written to git's config"
    );

    // A token the remote refuses: the push fails, and the error does not carry the token.
    let other = publish_repo::scenario("ledger-go");
    let served =
        GitHttp::start(other.bare.parent().unwrap().to_path_buf(), "x-access-token", "ghp_theremotewantsanother").await;
    git(&other.work, &["remote", "set-url", "origin", &format!("{}/remote.git", served.base)]);
    let forge = FakeForge::github("acme/ledger", other.bare.clone()).await;
    let mut config = other.config(PullRequestProvider::Github, &forge.api_url, "acme/ledger");
    config.pull_request.as_mut().unwrap().base = Some("main".into());
    // The API accepts the token; the git remote wants another one.
    let wrong_for_git = Tokens { github: Some(GITHUB_TOKEN.into()), gitlab: None };
    let error = open_pull_request_with(&other.work, &config, &other.group(&id), &investigation, &wrong_for_git)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("the git remote origin (http://127.0.0.1:"), "{error}");
    assert!(error.contains("/remote.git) refused the credentials: remote: Authentication failed"), "{error}");
    assert!(!error.contains(GITHUB_TOKEN), "{error}");
    assert_eq!(other.branches(), ["main"]);
}
