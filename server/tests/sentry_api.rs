//! The Sentry Web API source against a local server that speaks Sentry's documented wire format:
//! a team's issues become crash events with their Sentry facts, later refreshes fetch only what
//! changed, the store shows the last refresh at start, and every failure reads as one sentence
//! saying what to do.

#[path = "support/fake_sentry.rs"]
mod fake_sentry;

use std::time::{Duration, Instant, UNIX_EPOCH};

use crashloom::config::SentrySourceConfig;
use crashloom::crash::sentry::parse_event;
use crashloom::crash::{CrashEvent, Language};
use crashloom::source::sentry_api::{RetryPolicy, SentryClient, SentryError, SentrySource};
use crashloom::source::store::GroupStatus;
use fake_sentry::{Endpoint, FIXTURES, FakeSentry, Fault, ORG, TOKEN, epoch};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BACKEND: (&str, &str) = ("11", "backend");
const FRONTEND: (&str, &str) = ("12", "frontend");

fn config(url: &str, projects: &[&str]) -> SentrySourceConfig {
    SentrySourceConfig {
        url: url.to_owned(),
        org: ORG.to_owned(),
        project: projects.iter().map(|p| (*p).to_owned()).collect(),
        environment: None,
        query: None,
        period: None,
        refresh_secs: 60,
    }
}

fn client(config: &SentrySourceConfig) -> SentryClient {
    SentryClient::new(config, TOKEN.to_owned()).expect("a client")
}

/// Retries quick enough for a test.
fn quick_retries() -> RetryPolicy {
    RetryPolicy { first_backoff: Duration::from_millis(20), ..RetryPolicy::default() }
}

fn event_of<'a>(events: &'a [CrashEvent], issue_id: &str) -> Option<&'a CrashEvent> {
    events.iter().find(|e| e.issue.as_ref().is_some_and(|i| i.id == issue_id))
}

fn issue_ids(events: &[CrashEvent]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().filter_map(|e| e.issue.as_ref()).map(|i| i.id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn two_hundred_fifty_issues_are_listed_over_three_pages() -> TestResult {
    let sentry = FakeSentry::start(&[FRONTEND, BACKEND]).await;
    sentry.add_issues("12", 7);
    let ids = sentry.add_issues("11", 250);
    let mut settings = config(&sentry.url, &["backend"]);
    settings.environment = Some("production".into());
    settings.period = Some("14d".into());

    let issues = client(&settings).list_issues("backend").await?;

    assert_eq!(issues.len(), 250);
    let mut listed: Vec<String> = issues.iter().map(|i| i.id.clone()).collect();
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected, "every issue once, none of the other project");
    assert_eq!(sentry.count(Endpoint::Projects), 1, "the slug is looked up once");
    let pages: Vec<_> = sentry.requests().into_iter().filter(|r| r.endpoint == Endpoint::Issues).collect();
    let cursors: Vec<Option<String>> =
        pages.iter().map(|r| r.query.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.clone())).collect();
    assert_eq!(cursors, [None, Some("0:100:0".into()), Some("0:200:0".into())]);
    for page in &pages {
        let param = |key: &str| page.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(param("project"), Some("11"), "the issues endpoint takes the numeric id");
        assert_eq!(param("query"), Some("is:unresolved"));
        assert_eq!(param("environment"), Some("production"));
        assert_eq!(param("statsPeriod"), Some("14d"));
        assert_eq!(param("limit"), Some("100"));
        assert_eq!(page.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
        assert!(page.user_agent.as_deref().is_some_and(|ua| ua.starts_with("crashloom/")), "{:?}", page.user_agent);
    }
    Ok(())
}

#[tokio::test]
async fn a_numeric_project_is_used_without_a_look_up_and_an_unknown_slug_says_so() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 3);
    let settings = config(&sentry.url, &["11"]);
    assert_eq!(client(&settings).list_issues("11").await?.len(), 3);
    assert_eq!(sentry.count(Endpoint::Projects), 0);

    let error = client(&settings).list_issues("mobile").await.expect_err("no such project");
    assert!(matches!(error, SentryError::UnknownProject { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "Sentry organization acme has no project mobile this token can see: check `org` and `project` of the sentry source"
    );
    Ok(())
}

#[tokio::test]
async fn an_issue_becomes_a_crash_event_with_its_sentry_facts() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    let ids = sentry.add_issues("11", FIXTURES.len());
    let store = tempfile::tempdir()?;
    let settings = config(&sentry.url, &["backend"]);
    let mut source = SentrySource::load_cached(&store.path().join(".crashloom/crashloom.db"), &settings)?;

    let events = source.refresh(&client(&settings)).await?;

    assert_eq!(events.len(), FIXTURES.len());
    // The first issue is built from the sentry-python KeyError fixture.
    let key_error = event_of(&events, &ids[0]).expect("the KeyError issue");
    let fake = sentry.issue(&ids[0]);
    assert_eq!(key_error.title(), "KeyError: 'banana'");
    assert_eq!(key_error.language, Some(Language::Python));
    assert_eq!(key_error.release.as_deref(), Some("shop@1.4.2"));
    assert_eq!(key_error.environment.as_deref(), Some("production"));
    assert!(key_error.tags.contains(&("customer_tier".to_owned(), "gold".to_owned())), "{:?}", key_error.tags);
    assert_eq!(key_error.event_id.as_deref(), Some("00000000000000010000000000000001"));
    let crash_site = key_error.outermost().and_then(|e| e.frames.last()).expect("frames");
    assert_eq!((crash_site.filename.as_deref(), crash_site.line), (Some("shop/orders.py"), Some(5)));

    let issue = key_error.issue.as_ref().expect("issue facts");
    let permalink = format!("{}/organizations/acme/issues/{}/", sentry.url, ids[0]);
    assert_eq!(issue.id, ids[0]);
    assert_eq!(issue.short_id.as_deref(), Some("BACKEND-1"));
    assert_eq!(issue.count, Some(fake.count));
    assert_eq!(issue.user_count, Some(fake.user_count));
    assert_eq!(issue.first_seen, Some(fake.first_seen));
    assert_eq!(issue.last_seen, Some(epoch()));
    assert_eq!(issue.status.as_deref(), Some("unresolved"));
    assert_eq!(issue.permalink.as_deref(), Some(permalink.as_str()));
    assert_eq!(key_error.origin.as_ref().map(|o| o.location.as_str()), Some(permalink.as_str()));

    // Same crash as parsing the fixture itself: the source adds only the issue and the origin.
    for id in &ids {
        let mut expected = parse_event(&sentry.event_json(id))?;
        let got = event_of(&events, id).expect("every issue has its event");
        expected.issue = got.issue.clone();
        expected.origin = got.origin.clone();
        assert_eq!(got, &expected, "issue {id}");
    }
    let node = event_of(&events, &ids[5]).expect("the node issue");
    assert_eq!((node.language, node.release.as_deref()), (Some(Language::JavaScript), Some("cart@2.0.1")));
    Ok(())
}

#[tokio::test]
async fn a_second_refresh_fetches_events_only_of_the_issues_seen_again() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND, FRONTEND]).await;
    let backend = sentry.add_issues("11", 30);
    let frontend = sentry.add_issues("12", 5);
    let store = tempfile::tempdir()?;
    let settings = config(&sentry.url, &["backend", "frontend"]);
    let client = client(&settings);
    let mut source = SentrySource::load_cached(&store.path().join("crashloom.db"), &settings)?;

    let first = source.refresh(&client).await?;
    assert_eq!(first.len(), 35);
    assert_eq!(sentry.events_fetched_for().len(), 35);

    sentry.touch(&backend[3]);
    sentry.touch(&frontend[1]);
    let second = source.refresh(&client).await?;

    let refetched = sentry.events_fetched_for().split_off(35);
    let mut expected = vec![backend[3].clone(), frontend[1].clone()];
    expected.sort();
    let mut refetched_sorted = refetched.clone();
    refetched_sorted.sort();
    assert_eq!(refetched_sorted, expected);
    assert_eq!(second.len(), 35);
    let touched = event_of(&second, &backend[3]).expect("still listed");
    assert_eq!(touched.event_id.as_deref(), Some("00000000000000040000000000000002"), "the new event");
    assert_eq!(touched.issue.as_ref().and_then(|i| i.count), Some(sentry.issue(&backend[3]).count));

    source.refresh(&client).await?;
    assert_eq!(sentry.events_fetched_for().len(), 37, "nothing changed, nothing fetched");
    Ok(())
}

#[tokio::test]
async fn an_issue_resolved_in_sentry_drops_out_here_and_in_the_store() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    let ids = sentry.add_issues("11", 4);
    let store = tempfile::tempdir()?;
    let store_path = store.path().join("crashloom.db");
    let settings = config(&sentry.url, &["backend"]);
    let client = client(&settings);
    let mut source = SentrySource::load_cached(&store_path, &settings)?;
    source.refresh(&client).await?;

    sentry.set_status(&ids[1], "resolved");
    sentry.set_status(&ids[2], "ignored");
    let events = source.refresh(&client).await?;

    let expected = vec![ids[0].clone(), ids[3].clone()];
    assert_eq!(issue_ids(&events), expected);
    assert_eq!(issue_ids(&SentrySource::load_cached(&store_path, &settings)?.events()), expected);
    Ok(())
}

#[tokio::test]
async fn the_store_shows_the_last_refresh_without_the_network() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 12);
    let store = tempfile::tempdir()?;
    let store_path = store.path().join(".crashloom/crashloom.db");
    let settings = config(&sentry.url, &["backend"]);
    let refreshed = SentrySource::load_cached(&store_path, &settings)?.refresh(&client(&settings)).await?;
    let requests_so_far = sentry.requests().len();

    // The editor restarts: the store alone gives the same events, the network is not touched.
    let restarted = SentrySource::load_cached(&store_path, &settings)?;
    assert_eq!(restarted.events(), refreshed);
    assert_eq!(sentry.requests().len(), requests_so_far);

    // Its first refresh lists issues but fetches no event: nothing changed meanwhile.
    let mut restarted = restarted;
    let events = restarted.refresh(&client(&settings)).await?;
    assert_eq!(events, refreshed);
    assert_eq!(sentry.count(Endpoint::LatestEvent), 12);

    // Another organization's source does not see these rows.
    let mut elsewhere = settings.clone();
    elsewhere.org = "other".into();
    assert!(SentrySource::load_cached(&store_path, &elsewhere)?.events().is_empty());
    // A store that does not exist yet is an empty source.
    assert!(SentrySource::load_cached(&store.path().join("none/crashloom.db"), &settings)?.events().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_rejected_token_says_to_set_sentry_auth_token_with_its_scope() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 2);
    let settings = config(&sentry.url, &["backend"]);
    let wrong = SentryClient::new(&settings, "sntryu_revoked".into())?;

    let error = wrong.list_issues("backend").await.expect_err("rejected");

    assert!(matches!(error, SentryError::Unauthorized { status: 401, .. }), "{error:?}");
    let message = error.to_string();
    assert_eq!(
        message,
        "Sentry rejected the token (HTTP 401 on GET /api/0/organizations/acme/projects/): set SENTRY_AUTH_TOKEN to a \
         token with the event:read and org:read scopes (event:write to resolve or ignore)"
    );
    assert_eq!(sentry.count(Endpoint::Projects), 1, "a rejected token is not retried");

    let missing = SentryClient::new(&settings, "  ".into()).expect_err("no token");
    assert!(missing.to_string().contains("SENTRY_AUTH_TOKEN"), "{missing}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_sentry_is_a_clear_error() -> TestResult {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let settings = config(&format!("http://127.0.0.1:{port}"), &["11"]);
    let client = client(&settings).with_retry_policy(quick_retries());
    let store = tempfile::tempdir()?;
    let mut source = SentrySource::load_cached(&store.path().join("crashloom.db"), &settings)?;

    let error = source.refresh(&client).await.expect_err("nothing listens");

    assert!(matches!(error, SentryError::Unreachable { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot reach Sentry at http://127.0.0.1:{port}/ (connection failed): check `url` of the sentry source and the network"
        )
    );
    assert!(source.events().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_rate_limited_request_is_retried_after_retry_after() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 3);
    sentry.fail_next(Endpoint::Issues, Fault::Status { status: 429, retry_after: Some("1") });
    let settings = config(&sentry.url, &["11"]);

    let issues = client(&settings).list_issues("11").await?;

    assert_eq!(issues.len(), 3);
    let tries: Vec<Instant> =
        sentry.requests().into_iter().filter(|r| r.endpoint == Endpoint::Issues).map(|r| r.at).collect();
    assert_eq!(tries.len(), 2);
    let waited = tries[1] - tries[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(3), "retried after {waited:?}");

    // Sentry keeps answering 429: the error says how long to wait.
    for _ in 0..4 {
        sentry.fail_next(Endpoint::Issues, Fault::Status { status: 429, retry_after: Some("120") });
    }
    let error = client(&settings).list_issues("11").await.expect_err("rate limited");
    assert!(matches!(error, SentryError::RateLimited { retry_after } if retry_after == Duration::from_secs(120)));
    assert_eq!(error.to_string(), "Sentry is rate limiting Crashloom: the next refresh waits 120 s");
    Ok(())
}

#[tokio::test]
async fn an_exhausted_rate_limit_waits_for_its_reset() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 150);
    sentry.fail_next(Endpoint::Issues, Fault::ExhaustedLimit { reset_in_secs: 1 });
    let settings = config(&sentry.url, &["11"]);

    let issues = client(&settings).list_issues("11").await?;

    assert_eq!(issues.len(), 150);
    let pages: Vec<_> = sentry.requests().into_iter().filter(|r| r.endpoint == Endpoint::Issues).collect();
    assert_eq!(pages.len(), 2);
    let first = pages[0].wall.duration_since(UNIX_EPOCH)?.as_secs();
    let second = pages[1].wall.duration_since(UNIX_EPOCH)?;
    assert!(second >= Duration::from_secs(first + 1), "the second page came before the reset: {first} {second:?}");
    Ok(())
}

#[tokio::test]
async fn a_server_error_is_retried_with_backoff() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    let ids = sentry.add_issues("11", 2);
    sentry.fail_next(Endpoint::LatestEvent, Fault::Status { status: 502, retry_after: None });
    sentry.fail_next(Endpoint::LatestEvent, Fault::Status { status: 503, retry_after: None });
    let settings = config(&sentry.url, &["11"]);
    let client = client(&settings).with_retry_policy(quick_retries());
    let issues = client.list_issues("11").await?;

    let event = client.latest_event(&issues[0]).await?;
    assert_eq!(event.issue.as_ref().map(|i| i.id.as_str()), Some(ids[0].as_str()));
    assert_eq!(sentry.count(Endpoint::LatestEvent), 3);

    for _ in 0..4 {
        sentry.fail_next(Endpoint::LatestEvent, Fault::Status { status: 500, retry_after: None });
    }
    let error = client.latest_event(&issues[0]).await.expect_err("still failing");
    assert_eq!(
        error.to_string(),
        format!(
            "Sentry answered GET /api/0/organizations/acme/issues/{}/events/latest/ with HTTP 500 (fault injected by the \
             test): Sentry is having trouble, Crashloom tries again at the next refresh",
            ids[0]
        )
    );
    Ok(())
}

#[tokio::test]
async fn malformed_answers_are_errors_naming_the_endpoint() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    sentry.add_issues("11", 3);
    let settings = config(&sentry.url, &["11"]);
    let client = client(&settings);

    sentry.fail_next(Endpoint::Issues, Fault::Body(r#"[{"id": "1", "count": "#));
    let error = client.list_issues("11").await.expect_err("broken JSON");
    assert!(matches!(error, SentryError::Malformed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "Sentry's answer to GET /api/0/organizations/acme/issues/ is not what Sentry sends (invalid JSON"
        ),
        "{message}"
    );
    assert!(message.ends_with("check that `url` of the sentry source points at Sentry"), "{message}");

    sentry.fail_next(Endpoint::Issues, Fault::Body("<html>Sign in</html>"));
    assert!(matches!(client.list_issues("11").await, Err(SentryError::Malformed { .. })));
    sentry.fail_next(Endpoint::Issues, Fault::Body(r#"{"detail": "not a list"}"#));
    let error = client.list_issues("11").await.expect_err("an object");
    assert!(error.to_string().contains("expected a JSON list, found an object"), "{error}");

    // Items that are not issues are skipped; the real ones still come through.
    sentry.fail_next(
        Endpoint::Issues,
        Fault::Body(r#"[1, null, "x", {"shortId": "NO-ID"}, {"id": "77", "count": {"deep": []}, "lastSeen": 5}]"#),
    );
    let issues = client.list_issues("11").await?;
    assert_eq!(issues.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["77"]);

    let issue = client.list_issues("11").await?.remove(0);
    sentry.fail_next(Endpoint::LatestEvent, Fault::Body("{\"entries\": [}"));
    let error = client.latest_event(&issue).await.expect_err("broken event");
    assert!(
        error.to_string().contains(&format!("GET /api/0/organizations/acme/issues/{}/events/latest/", issue.id)),
        "{error}"
    );
    sentry.fail_next(Endpoint::LatestEvent, Fault::Body(r#"{"message": "just a message", "entries": []}"#));
    let error = client.latest_event(&issue).await.expect_err("not a crash");
    assert!(matches!(error, SentryError::NotACrash { .. }), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn an_issue_whose_event_is_broken_is_skipped_and_the_rest_shown() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    let ids = sentry.add_issues("11", 3);
    sentry.forget_latest_event(&ids[2]);
    let settings = config(&sentry.url, &["11"]);
    let client = client(&settings);
    let store = tempfile::tempdir()?;
    let mut source = SentrySource::load_cached(&store.path().join("crashloom.db"), &settings)?;
    sentry.make_message_only(&ids[0]);

    let events = source.refresh(&client).await?;

    assert_eq!(issue_ids(&events), [ids[1].clone(), ids[2].clone()], "a message is not a crash");
    assert!(event_of(&events, &ids[2]).is_some(), "the recommended event stands in for a gone latest one");
    let fetched = sentry.events_fetched_for().len();
    source.refresh(&client).await?;
    assert_eq!(sentry.events_fetched_for().len(), fetched, "the skipped issue is not fetched again until it changes");
    Ok(())
}

#[tokio::test]
async fn resolving_sends_a_put_and_the_issue_leaves_the_editor() -> TestResult {
    let sentry = FakeSentry::start(&[BACKEND]).await;
    let ids = sentry.add_issues("11", 3);
    let settings = config(&sentry.url, &["11"]);
    let client = client(&settings);
    let store = tempfile::tempdir()?;
    let store_path = store.path().join("crashloom.db");
    let mut source = SentrySource::load_cached(&store_path, &settings)?;
    source.refresh(&client).await?;

    source.set_status(&client, &ids[1], GroupStatus::Resolved).await?;
    client.set_status(&ids[2], GroupStatus::Ignored).await?;
    client.set_status(&ids[2], GroupStatus::Unresolved).await?;

    let updates: Vec<_> = sentry.requests().into_iter().filter(|r| r.endpoint == Endpoint::UpdateIssue).collect();
    let sent: Vec<_> = updates.iter().map(|r| (r.issue.clone().unwrap_or_default(), r.body.clone())).collect();
    assert_eq!(
        sent,
        [
            (ids[1].clone(), Some(json!({"status": "resolved"}))),
            (ids[2].clone(), Some(json!({"status": "ignored"}))),
            (ids[2].clone(), Some(json!({"status": "unresolved"}))),
        ]
    );
    assert_eq!(sentry.issue(&ids[1]).status, "resolved");
    let expected = vec![ids[0].clone(), ids[2].clone()];
    assert_eq!(issue_ids(&source.events()), expected);
    assert_eq!(issue_ids(&SentrySource::load_cached(&store_path, &settings)?.events()), expected);
    assert_eq!(issue_ids(&source.refresh(&client).await?), expected);
    Ok(())
}
