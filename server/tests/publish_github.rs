//! A validated fix becomes one GitHub pull request: a real push of `crashloom/<short-id>` with one
//! commit to a bare repository, and a stand-in GitHub REST API recording every request. Then every
//! way it can go wrong, each with its one sentence and nothing lost.
#![allow(clippy::unwrap_used)]

#[path = "support/fake_forge.rs"]
mod fake_forge;
#[path = "support/publish_repo.rs"]
mod publish_repo;

use crashloom::config::PullRequestProvider;
use crashloom::publish::{PublishError, PullRequestOutcome, Tokens, open_pull_request_with};
use fake_forge::{FakeForge, GITHUB_TOKEN};
use publish_repo::{AUTHOR, Scenario, git, investigated, scenario};

const REPOSITORY: &str = "acme/ledger";

fn tokens() -> Tokens {
    Tokens { github: Some(GITHUB_TOKEN.to_owned()), gitlab: None }
}

async fn open(scenario: &Scenario, forge: &FakeForge, tokens: &Tokens) -> Result<PullRequestOutcome, PublishError> {
    let (id, investigation) = investigated("ledger-go");
    let config = scenario.config(PullRequestProvider::Github, &forge.api_url, REPOSITORY);
    let group = scenario.group(&id);
    open_pull_request_with(&scenario.work, &config, &group, &investigation, tokens).await
}

fn branch() -> String {
    format!("crashloom/{}", investigated("ledger-go").0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validated_fix_becomes_one_pull_request_with_one_commit_on_its_branch() {
    let (id, investigation) = investigated("ledger-go");
    assert!(investigation.is_validated(), "the ledger's fix validates");
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let before = scenario.user_tree();

    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    let PullRequestOutcome::Opened { url, number, branch, warnings } = &outcome else { panic!("{outcome:?}") };
    assert_eq!((url.as_str(), *number), ("https://github.com/acme/ledger/pull/1", 1));
    assert_eq!(branch, &format!("crashloom/{id}"));
    assert!(warnings.is_empty(), "{warnings:?}");

    // The branch: exactly one commit on top of main, by the configured author, naming the crash.
    let commits = scenario.commits_on(branch);
    assert_eq!(commits.len(), 1, "{commits:?}");
    let main = git(&scenario.bare, &["rev-parse", "main"]);
    assert_eq!(git(&scenario.bare, &["rev-parse", &format!("{branch}^")]), main);
    assert_eq!(git(&scenario.bare, &["log", "-1", "--format=%an <%ae>", branch]), AUTHOR);
    let message = git(&scenario.bare, &["log", "-1", "--format=%B", branch]);
    assert!(message.starts_with(&format!("Fix {id}: panic")), "{message}");
    assert!(message.contains(&format!("Crash {id}: panic: assignment to entry in nil map")), "{message}");
    assert!(message.contains("Root cause: "), "{message}");
    let changed = git(&scenario.bare, &["diff", "--name-only", "main", branch]);
    assert_eq!(changed, "ledger.go");

    // The requests: the list (nothing yet), the pull request, its labels. Nothing else.
    let requests = forge.requests();
    let summary: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        summary,
        ["GET /repos/acme/ledger/pulls", "POST /repos/acme/ledger/pulls", "POST /repos/acme/ledger/issues/1/labels"]
    );
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some(format!("Bearer {GITHUB_TOKEN}").as_str())));
    assert_eq!(requests[0].query.get("head").map(String::as_str), Some(format!("acme:crashloom/{id}").as_str()));
    assert_eq!(requests[0].query.get("state").map(String::as_str), Some("all"));
    let created = &requests[1].body;
    assert_eq!(created["head"], format!("crashloom/{id}"));
    assert_eq!(created["base"], "main");
    assert_eq!(created["draft"], false);
    assert_eq!(created["title"], format!("Fix {id}: panic in (*Ledger).Post"));
    let body = created["body"].as_str().unwrap();
    for expected in [
        "## The crash",
        "assignment to entry in nil map",
        "| Events | 1 |",
        "## Root cause",
        "Evidence:",
        "## The change",
        "```diff",
        "## The proof: validation ladder",
        "The crash reproduces before the change, and the reproduction succeeds after it** — passed",
        "No test that passed before fails after** — passed",
        "Outcome: **fixed**",
        "## The reproduction",
        "go run . data/transfers.json",
        "## Alternatives considered",
        "## Reproduce it locally",
        &format!("crashloom investigate --workspace . --crash {id}"),
        "<!-- crashloom group=",
    ] {
        assert!(body.contains(expected), "the body lacks {expected:?}:\n{body}");
    }
    assert_eq!(requests[2].body, serde_json::json!({"labels": ["crashloom"]}));

    // The user's working tree and branch are as they were.
    assert_eq!(scenario.user_tree(), before);
    assert_eq!(git(&scenario.work, &["branch", "--format=%(refname:short)"]), "main");
    assert_eq!(git(&scenario.work, &["worktree", "list"]).lines().count(), 1, "the publishing worktree is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_opens_no_second_pull_request() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    open(&scenario, &forge, &tokens()).await.unwrap();
    let tip = git(&scenario.bare, &["rev-parse", &branch()]);

    let again = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(again, PullRequestOutcome::Unchanged { number: 1, .. }), "{again:?}");
    assert_eq!(forge.pulls().len(), 1);
    assert_eq!(git(&scenario.bare, &["rev-parse", &branch()]), tip, "nothing pushed again");
    let writes: Vec<String> = forge.writes().iter().map(|r| r.path.clone()).collect();
    assert_eq!(writes, ["/repos/acme/ledger/pulls", "/repos/acme/ledger/issues/1/labels"], "no new write");

    // Without the store's memory (another machine), the list still finds it, across pages.
    std::fs::remove_file(scenario.work.join(".crashloom/crashloom.db")).unwrap();
    forge.add_pull("crashloom/elsewhere", "open", "");
    forge.set_page_size(1);
    let found = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(found, PullRequestOutcome::Updated { number: 1, pushed: false, .. }), "{found:?}");
    assert_eq!(forge.pulls().len(), 2, "no pull request opened");
    let pulls = forge.pulls();
    assert_eq!(pulls[0].comments.len(), 1, "commented instead: {:?}", pulls[0].comments);
    assert!(pulls[0].comments[0].contains("has now been seen 1 times"), "{}", pulls[0].comments[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_read_page_by_page_until_the_open_pull_request_turns_up() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    // An older open pull request of the branch, and a newer one closed with another fix: the open
    // one is on the second page.
    git(&scenario.work, &["push", "-q", "origin", &format!("main:{}", branch())]);
    let open_number =
        forge.add_pull(&branch(), "open", "an earlier fix <!-- crashloom group=x fix=0000000000000000 -->");
    forge.add_pull(&branch(), "closed", "another fix <!-- crashloom group=x fix=1111111111111111 -->");
    forge.set_page_size(1);
    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(
        matches!(outcome, PullRequestOutcome::Updated { number, pushed: true, .. } if number == open_number),
        "{outcome:?}"
    );
    let lists: Vec<_> = forge.requests().into_iter().filter(|r| r.method == "GET").collect();
    assert_eq!(lists.len(), 2, "two pages");
    assert_eq!(lists[1].query.get("page").map(String::as_str), Some("2"));
    assert_eq!(forge.pulls().len(), 2, "no third pull request");
    assert_eq!(scenario.commits_on(&branch()).len(), 1, "the branch now carries the fix as one commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_closed_without_merging_is_not_opened_again_for_the_same_fix() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    open(&scenario, &forge, &tokens()).await.unwrap();
    forge.set_state(1, "closed");
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the pull request https://github.com/acme/ledger/pull/1 with this fix was closed without merging: Crashloom does not open it again for the same fix"
    );
    assert_eq!(forge.pulls().len(), 1);
    assert_eq!(forge.writes().len(), 2, "no write after the first pull request and its labels");

    // Merged, and the crash came back: that is a new pull request.
    forge.set_state(1, "merged");
    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Opened { number: 2, .. }), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_that_moved_gets_the_fix_replayed_on_it() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    scenario.advance_main("NOTES.md", |_| "Ledger notes\n".into());
    let main = git(&scenario.bare, &["rev-parse", "main"]);
    assert_ne!(main, git(&scenario.work, &["rev-parse", "HEAD"]), "the user's checkout is behind");
    open(&scenario, &forge, &tokens()).await.unwrap();
    assert_eq!(git(&scenario.bare, &["rev-parse", &format!("{}^", branch())]), main, "on top of the new main");
    assert_eq!(scenario.commits_on(&branch()).len(), 1);
    assert_eq!(git(&scenario.bare, &["show", &format!("{}:NOTES.md", branch())]), "Ledger notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_that_changed_the_touched_file_gets_the_fix_validated_again() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    scenario
        .advance_main("ledger.go", |text| text.replacen("// Package main is a tiny", "// Package main is a small", 1));
    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Opened { .. }), "{outcome:?}");
    let on_branch = git(&scenario.bare, &["show", &format!("{}:ledger.go", branch())]);
    assert!(on_branch.starts_with("// Package main is a small"), "the base's change is kept");
    assert_ne!(on_branch, git(&scenario.bare, &["show", "main:ledger.go"]), "and the fix is in");

    // A base on which the same change no longer fixes the crash: re-validation says so.
    let broken = publish_repo::scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, broken.bare.clone()).await;
    broken.advance_main("ledger.go", |text| {
        text.replacen("\tl.balances[t.From] -= t.Amount", "\tl.balances = nil\n\tl.balances[t.From] -= t.Amount", 1)
    });
    let error = open(&broken, &forge, &tokens()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the files the fix touches changed on main, and there the change does not fix the crash: investigate the crash again on the current code"
    );
    assert_eq!(broken.branches(), ["main"], "nothing pushed");
    assert!(forge.writes().is_empty());

    // A base that rewrote the lines the fix changes: the fix does not apply there.
    let conflicting = publish_repo::scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, conflicting.bare.clone()).await;
    let (_, investigation) = investigated("ledger-go");
    let diff = investigation.diff.clone().unwrap();
    let removed: Vec<String> =
        diff.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).map(|l| l[1..].to_owned()).collect();
    assert!(!removed.is_empty(), "{diff}");
    conflicting.advance_main("ledger.go", |text| {
        removed
            .iter()
            .fold(text.to_owned(), |text, line| text.replacen(line.as_str(), &format!("{line} // reviewed"), 1))
    });
    let error = open(&conflicting, &forge, &tokens()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the fix conflicts with the latest main: investigate the crash again on the current code"
    );
    assert_eq!(conflicting.branches(), ["main"], "nothing pushed");
    assert!(forge.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_nothing_is_pushed_or_asked() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let error = open(&scenario, &forge, &Tokens::default()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "no GitHub token: set GITHUB_TOKEN to a token that may push to and open pull requests in acme/ledger"
    );
    assert!(forge.requests().is_empty());
    assert_eq!(scenario.branches(), ["main"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refusals_are_one_sentence_without_the_token() {
    for (route, status, expected) in [
        (
            "list",
            401,
            "GitHub answered GET /repos/acme/ledger/pulls with HTTP 401 (Bad credentials): set GITHUB_TOKEN to a valid token",
        ),
        (
            "list",
            403,
            "GitHub answered GET /repos/acme/ledger/pulls with HTTP 403 (Resource not accessible by personal access token): give the token of GITHUB_TOKEN contents and pull requests write access to acme/ledger",
        ),
        (
            "list",
            404,
            "GitHub answered GET /repos/acme/ledger/pulls with HTTP 404 (Not Found): check [pull_request] repository (acme/ledger) and api_url",
        ),
    ] {
        let scenario = scenario("ledger-go");
        let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
        forge.fail(route, status);
        let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error}");
        assert!(!error.contains(GITHUB_TOKEN));
        assert_eq!(scenario.branches(), ["main"], "nothing pushed before the API answers");
    }
    // A wrong token: the real 401 of the stand-in.
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let wrong = Tokens { github: Some("ghp_wrongwrongwrongwrong".into()), gitlab: None };
    let error = open(&scenario, &forge, &wrong).await.unwrap_err().to_string();
    assert!(error.contains("HTTP 401 (Bad credentials)") && !error.contains("ghp_wrong"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_pull_request_keeps_the_pushed_branch_and_the_next_run_opens_it() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    forge.fail("create", 422);
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
    assert!(
        error.starts_with("GitHub answered POST /repos/acme/ledger/pulls with HTTP 422 (Validation Failed: invalid)"),
        "{error}"
    );
    assert_eq!(scenario.commits_on(&branch()).len(), 1, "the branch is pushed and kept");
    forge.heal();
    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Opened { number: 1, .. }), "{outcome:?}");
    assert_eq!(scenario.commits_on(&branch()).len(), 1, "still one commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_push_and_an_unreachable_remote_say_so() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let hook = scenario.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'branches crashloom/* need a review first' >&2\nexit 1\n").unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
    assert!(error.starts_with(&format!("the git remote origin rejected the push of {}: ", branch())), "{error}");
    assert!(error.contains("branches crashloom/* need a review first"), "{error}");
    assert!(forge.writes().is_empty(), "no pull request without the branch");

    let scenario = publish_repo::scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let gone = scenario.bare.with_file_name("moved-away.git");
    git(&scenario.work, &["remote", "set-url", "origin", gone.to_str().unwrap()]);
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
    assert!(error.starts_with(&format!("cannot reach the git remote origin ({})", gone.display())), "{error}");
    assert!(error.ends_with("check the remote's URL, its credentials and the network"), "{error}");
    assert!(forge.writes().is_empty());

    // The API itself unreachable.
    let scenario = publish_repo::scenario("ledger-go");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (id, investigation) = investigated("ledger-go");
    let config = scenario.config(PullRequestProvider::Github, &format!("http://{closed}"), REPOSITORY);
    let error = open_pull_request_with(&scenario.work, &config, &scenario.group(&id), &investigation, &tokens())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "cannot reach the GitHub API at http://{closed}/ (connection failed): check [pull_request] api_url and the network"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_work_stays_where_it_is() {
    // Changes elsewhere: the pull request is made from a clean worktree and carries none of them.
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let main_go = scenario.work.join("main.go");
    let edited = format!("{}\n// work in progress\n", std::fs::read_to_string(&main_go).unwrap());
    std::fs::write(&main_go, &edited).unwrap();
    std::fs::write(scenario.work.join("scratch.txt"), "notes\n").unwrap();
    let before = scenario.user_tree();
    open(&scenario, &forge, &tokens()).await.unwrap();
    assert_eq!(scenario.user_tree(), before);
    assert_eq!(std::fs::read_to_string(&main_go).unwrap(), edited);
    assert_eq!(git(&scenario.bare, &["diff", "--name-only", "main", &branch()]), "ledger.go");

    // Changes in the file the fix touches: refused, nothing pushed.
    let scenario = publish_repo::scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    let ledger = scenario.work.join("ledger.go");
    let text = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, format!("{text}\n// mine\n")).unwrap();
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
    // The investigation saw the file before the edit: it is stale before it is dirty.
    assert_eq!(
        error,
        format!(
            "the files the fix for {} touches changed since it was investigated: investigate the crash again",
            investigated("ledger-go").0
        )
    );
    git(&scenario.work, &["add", "ledger.go"]);
    std::fs::write(&ledger, &text).unwrap();
    let error = open(&scenario, &forge, &tokens()).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "the working tree has uncommitted changes in ledger.go, which the fix touches: commit or stash them first"
    );
    assert_eq!(scenario.branches(), ["main"]);
    assert!(forge.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_pull_request_the_list_misses_is_found_through_the_422() {
    let scenario = scenario("ledger-go");
    let forge = FakeForge::github(REPOSITORY, scenario.bare.clone()).await;
    git(&scenario.work, &["push", "-q", "origin", &format!("main:{}", branch())]);
    forge.add_unlisted_pull(&branch(), 1);
    let outcome = open(&scenario, &forge, &tokens()).await.unwrap();
    assert!(matches!(outcome, PullRequestOutcome::Updated { number: 1, pushed: true, .. }), "{outcome:?}");
    let summary: Vec<String> = forge.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        summary,
        [
            "GET /repos/acme/ledger/pulls",
            "POST /repos/acme/ledger/pulls",
            "GET /repos/acme/ledger/pulls",
            "POST /repos/acme/ledger/issues/1/comments"
        ]
    );
    assert_eq!(forge.pulls().len(), 1, "no second pull request");
}

/// The editor's command runs it on its own task: the future must be `Send`.
#[allow(dead_code)]
fn the_editor_can_spawn_it(
    root: &'static std::path::Path,
    config: &'static crashloom::config::Config,
    group: &'static crashloom::workspace::sites::CrashGroup,
    investigation: &'static crashloom::investigate::pipeline::Investigation,
) {
    tokio::spawn(crashloom::publish::open_pull_request(root, config, group, investigation));
}
