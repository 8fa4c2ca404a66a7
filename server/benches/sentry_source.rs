//! Cold start of the Sentry source: a local Sentry stand-in holds 1,000 issues (10 pages) whose
//! latest events are the real SDK events of `tests/fixtures/sentry/web_api/`; the bench times an
//! empty-store `refresh()` (listing every page and fetching 1,000 latest events) followed by the
//! crash picture built against a workspace holding the programs those events came from. Then it
//! times a refresh where nothing changed and a start from the store.
//!
//!     cargo bench -p crashloom --bench sentry_source
//!
//! `SENTRY_SOURCE_ISSUES` (default 1,000) changes the number of issues. Target: cold refresh plus
//! picture within 2 s.

#![allow(clippy::print_stdout, reason = "a bench reports on stdout")]

#[path = "../tests/support/fake_sentry.rs"]
mod fake_sentry;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crashloom::config::SentrySourceConfig;
use crashloom::source::sentry_api::{SentryClient, SentrySource};
use crashloom::workspace::index::WorkspaceIndex;
use crashloom::workspace::mapping::MappingConfig;
use crashloom::workspace::sites::{PictureInputs, build_picture};
use fake_sentry::{Endpoint, FakeSentry, ORG, TOKEN, fixture_dir};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TARGET: Duration = Duration::from_secs(2);

fn main() -> BenchResult<()> {
    let issues = std::env::var("SENTRY_SOURCE_ISSUES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(issues))
}

async fn run(issue_count: usize) -> BenchResult<()> {
    let sentry = FakeSentry::start(&[("11", "backend")]).await;
    sentry.add_issues("11", issue_count);
    let dir = tempfile::tempdir()?;
    let workspace = dir.path().join("workspace");
    copy_folder(&fixture_dir().join("programs"), &workspace)?;
    let store_path = workspace.join(".crashloom/crashloom.db");
    let config = SentrySourceConfig {
        url: sentry.url.clone(),
        org: ORG.to_owned(),
        project: vec!["backend".to_owned()],
        environment: None,
        query: None,
        period: None,
        refresh_secs: 60,
    };
    let client = SentryClient::new(&config, TOKEN.to_owned())?;

    let started = Instant::now();
    let mut source = SentrySource::load_cached(&store_path, &config)?;
    let events = source.refresh(&client).await?;
    let refreshed = started.elapsed();
    let index = WorkspaceIndex::build(&workspace)?;
    let mapping = MappingConfig::default();
    let text_of = |path: &str| std::fs::read_to_string(workspace.join(path)).ok().map(Arc::<str>::from);
    let inputs = PictureInputs { index: &index, mapping: &mapping, include_frames: true, text_of: &text_of };
    let event_count = events.len();
    let picture = build_picture(events, &inputs);
    let total = started.elapsed();

    let placed = picture.groups.iter().filter(|g| !g.sites.is_empty()).count();
    println!(
        "cold refresh: {issue_count} issues in {} pages, {} latest events fetched, {event_count} crash events",
        sentry.count(Endpoint::Issues),
        sentry.count(Endpoint::LatestEvent)
    );
    println!("  refresh {:>8.1} ms", ms(refreshed));
    println!(
        "  picture {:>8.1} ms  ({} groups, {placed} placed in {} files)",
        ms(total - refreshed),
        picture.groups.len(),
        picture.files().count()
    );
    println!(
        "  total   {:>8.1} ms  (target {} ms: {})",
        ms(total),
        TARGET.as_millis(),
        if total <= TARGET { "met" } else { "MISSED" }
    );

    let fetched_before = sentry.count(Endpoint::LatestEvent);
    let warm_started = Instant::now();
    let warm = source.refresh(&client).await?;
    println!(
        "warm refresh (nothing changed): {:.1} ms, {} events fetched, {} crash events",
        ms(warm_started.elapsed()),
        sentry.count(Endpoint::LatestEvent) - fetched_before,
        warm.len()
    );

    let load_started = Instant::now();
    let cached = SentrySource::load_cached(&store_path, &config)?.events();
    println!("start from the store: {:.1} ms, {} crash events", ms(load_started.elapsed()), cached.len());
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
