//! A validated fix becomes one GitLab merge request (a stand-in speaking GitLab's REST API v4),
//! and with `provider = "git"` only the branch is pushed.
#![allow(clippy::unwrap_used)]

#[path = "support/fake_forge.rs"]
mod fake_forge;
#[path = "support/publish_repo.rs"]
mod publish_repo;

use crashloom::config::PullRequestProvider;
use crashloom::publish::{PullRequestOutcome, Tokens, open_pull_request_with};
use fake_forge::{FakeForge, GITLAB_TOKEN};
use publish_repo::{git, investigated, scenario};

const PROJECT: &str = "acme/backend/ledger";

fn tokens() -> Tokens {
    Tokens { github: None, gitlab: Some(GITLAB_TOKEN.to_owned()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validated_fix_becomes_one_merge_request_and_later_runs_comment_on_it() {
    let (id, investigation) = investigated("ledger-go");
    let scenario = scenario("ledger-go");
    let forge = FakeForge::gitlab(PROJECT, scenario.bare.clone()).await;
    let mut config = scenario.config(PullRequestProvider::Gitlab, &forge.api_url, PROJECT);
    config.pull_request.as_mut().unwrap().labels = vec!["crashloom".into(), "bug".into()];
    config.pull_request.as_mut().unwrap().draft = true;
    let group = scenario.group(&id);

    let outcome = open_pull_request_with(&scenario.work, &config, &group, &investigation, &tokens()).await.unwrap();
    let PullRequestOutcome::Opened { url, number: 1, .. } = &outcome else { panic!("{outcome:?}") };
    assert_eq!(url, "https://gitlab.com/acme/backend/ledger/-/merge_requests/1");
    let requests = forge.requests();
    let summary: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        summary,
        [
            "GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests",
            "POST /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests"
        ],
        "the project path is one URL-encoded segment; labels go with the merge request"
    );
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some(GITLAB_TOKEN)));
    assert_eq!(requests[0].query.get("source_branch").map(String::as_str), Some(format!("crashloom/{id}").as_str()));
    let created = &requests[1].body;
    assert_eq!(created["source_branch"], format!("crashloom/{id}"));
    assert_eq!(created["target_branch"], "main");
    assert_eq!(created["title"], format!("Draft: Fix {id}: panic in (*Ledger).Post"));
    assert_eq!(created["labels"], "crashloom,bug");
    assert!(created["description"].as_str().unwrap().contains("## The proof: validation ladder"));
    assert_eq!(scenario.commits_on(&format!("crashloom/{id}")).len(), 1);

    // Same fix, same count: nothing to say. More events: a note on the same merge request.
    let again = open_pull_request_with(&scenario.work, &config, &group, &investigation, &tokens()).await.unwrap();
    assert!(matches!(again, PullRequestOutcome::Unchanged { number: 1, .. }), "{again:?}");
    let mut grown = group.clone();
    grown.count = 7;
    let noted = open_pull_request_with(&scenario.work, &config, &grown, &investigation, &tokens()).await.unwrap();
    assert!(matches!(noted, PullRequestOutcome::Updated { number: 1, pushed: false, .. }), "{noted:?}");
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].comments.len(), 1);
    assert!(pulls[0].comments[0].contains("has now been seen 7 times"), "{}", pulls[0].comments[0]);
    let last = forge.requests().last().cloned().unwrap();
    assert_eq!(last.path, "/api/v4/projects/acme%2Fbackend%2Fledger/merge_requests/1/notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_merge_request_the_list_misses_is_found_through_the_409() {
    let (id, investigation) = investigated("ledger-go");
    let scenario = scenario("ledger-go");
    let forge = FakeForge::gitlab(PROJECT, scenario.bare.clone()).await;
    let config = scenario.config(PullRequestProvider::Gitlab, &forge.api_url, PROJECT);
    let group = scenario.group(&id);
    // Opened a moment ago by another run: GitLab's list does not show it yet, its 409 does.
    git(&scenario.work, &["push", "-q", "origin", &format!("main:crashloom/{id}")]);
    forge.add_unlisted_pull(&format!("crashloom/{id}"), 1);
    let outcome = open_pull_request_with(&scenario.work, &config, &group, &investigation, &tokens()).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Updated { number: 1, pushed: true, .. }), "{outcome:?}");
    let summary: Vec<String> = forge.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        summary,
        [
            "GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests",
            "POST /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests",
            "GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests",
            "POST /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests/1/notes",
        ]
    );
    assert_eq!(forge.pulls().len(), 1, "no second merge request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_refusals_name_the_setting() {
    let (id, investigation) = investigated("ledger-go");
    for (status, expected) in [
        (
            401,
            "GitLab answered GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests with HTTP 401 (401 Unauthorized): set GITLAB_TOKEN to a valid token",
        ),
        (
            403,
            "GitLab answered GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests with HTTP 403 (403 Forbidden): give the token of GITLAB_TOKEN the api scope and Developer access to acme/backend/ledger",
        ),
        (
            404,
            "GitLab answered GET /api/v4/projects/acme%2Fbackend%2Fledger/merge_requests with HTTP 404 (404 Project Not Found): check [pull_request] repository (acme/backend/ledger) and api_url",
        ),
    ] {
        let scenario = scenario("ledger-go");
        let forge = FakeForge::gitlab(PROJECT, scenario.bare.clone()).await;
        forge.fail("list", status);
        let config = scenario.config(PullRequestProvider::Gitlab, &forge.api_url, PROJECT);
        let error = open_pull_request_with(&scenario.work, &config, &scenario.group(&id), &investigation, &tokens())
            .await
            .unwrap_err();
        assert!(error.to_string().starts_with(expected), "{error}");
        assert!(!error.to_string().contains(GITLAB_TOKEN));
    }
    let scenario = scenario("ledger-go");
    let forge = FakeForge::gitlab(PROJECT, scenario.bare.clone()).await;
    let config = scenario.config(PullRequestProvider::Gitlab, &forge.api_url, PROJECT);
    let error =
        open_pull_request_with(&scenario.work, &config, &scenario.group(&id), &investigation, &Tokens::default())
            .await
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "no GitLab token: set GITLAB_TOKEN to a token that may push to and open pull requests in acme/backend/ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_git_pushes_the_branch_only() {
    let (id, investigation) = investigated("ledger-go");
    let scenario = scenario("ledger-go");
    let config = scenario.config(PullRequestProvider::Git, "http://127.0.0.1:9", "");
    let group = scenario.group(&id);
    let outcome =
        open_pull_request_with(&scenario.work, &config, &group, &investigation, &Tokens::default()).await.unwrap();
    assert_eq!(
        outcome,
        PullRequestOutcome::Pushed {
            branch: format!("crashloom/{id}"),
            remote: "origin".into(),
            pushed: true,
            open_url: None
        },
        "a file remote is neither GitHub nor GitLab: no link to open a pull request"
    );
    assert_eq!(scenario.commits_on(&format!("crashloom/{id}")).len(), 1);
    let again =
        open_pull_request_with(&scenario.work, &config, &group, &investigation, &Tokens::default()).await.unwrap();
    assert!(
        matches!(again, PullRequestOutcome::Pushed { pushed: false, .. }),
        "the same fix is not pushed twice: {again:?}"
    );
}
