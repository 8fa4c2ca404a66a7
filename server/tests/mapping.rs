//! A crash happened on a server; the developer opens the project. Each test is one frame of that
//! crash, and where (or why not) Crashloom finds its code in the workspace.

use crashloom::crash::Frame;
use crashloom::workspace::index::WorkspaceIndex;
use crashloom::workspace::mapping::{
    FrameMapping, MappingConfig, MatchKind, StackRoot, UnmappedReason, map_frame_to_workspace,
};
use tempfile::TempDir;

/// A shop: a Python backend, a JS front end, a JVM service, a Go worker, and a vendored package.
fn shop() -> (TempDir, WorkspaceIndex) {
    let dir = tempfile::tempdir().expect("tempdir");
    for file in [
        ".gitignore",
        "shop/__init__.py",
        "shop/orders.py",
        "shop/utils.py",
        "billing/utils.py",
        "billing/api.py",
        "web/src/cart.js",
        "web/vendor-copy/node_modules/left-pad/index.js",
        "service/src/main/java/com/acme/shop/OrderService.java",
        "service/src/main/java/com/acme/billing/OrderService.java",
        "service/src/main/kotlin/com/acme/shop/Prices.kt",
        "worker/orders/orders.go",
        "worker/main.go",
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
        std::fs::write(&path, "").expect("write");
    }
    std::fs::write(dir.path().join(".gitignore"), "*.log\n").expect("write");
    let index = WorkspaceIndex::build(dir.path()).expect("index the shop");
    (dir, index)
}

fn at(path: &str) -> Frame {
    Frame { abs_path: Some(path.to_owned()), line: Some(42), ..Frame::default() }
}

fn deployed_at_app() -> MappingConfig {
    MappingConfig { roots: vec![StackRoot { from: "/app/".into(), to: String::new() }], ..MappingConfig::default() }
}

fn mapped(mapping: FrameMapping) -> (String, bool, MatchKind) {
    match mapping {
        FrameMapping::Mapped { path, in_app, matched_by } => (path, in_app, matched_by),
        FrameMapping::Unmapped { reason } => panic!("expected a mapped frame, got: {reason}"),
    }
}

fn unmapped(mapping: FrameMapping) -> UnmappedReason {
    match mapping {
        FrameMapping::Mapped { path, .. } => panic!("expected an unmapped frame, got {path}"),
        FrameMapping::Unmapped { reason } => reason,
    }
}

#[test]
fn a_deployed_path_maps_through_the_stack_root() {
    let (_dir, index) = shop();
    let frame = at("/app/shop/orders.py");
    let (path, in_app, how) = mapped(map_frame_to_workspace(&frame, &index, &deployed_at_app()));
    assert_eq!(path, "shop/orders.py");
    assert!(in_app);
    assert_eq!(how, MatchKind::StackRoot { from: "/app/".into() });
}

#[test]
fn a_deployed_path_maps_by_its_suffix_without_configuration() {
    let (_dir, index) = shop();
    let mapping = map_frame_to_workspace(&at("/app/shop/orders.py"), &index, &MappingConfig::default());
    assert_eq!(mapped(mapping), ("shop/orders.py".into(), true, MatchKind::PathSuffix { components: 2 }));
}

#[test]
fn a_stack_root_can_point_into_a_subfolder() {
    let (_dir, index) = shop();
    let config = MappingConfig {
        roots: vec![StackRoot { from: "C:\\build\\worker\\".into(), to: "worker".into() }],
        ..MappingConfig::default()
    };
    let mapping = map_frame_to_workspace(&at("C:\\build\\worker\\orders\\orders.go"), &index, &config);
    assert_eq!(mapped(mapping).0, "worker/orders/orders.go");
}

#[test]
fn a_crash_on_this_machine_maps_by_its_absolute_path() {
    let (dir, index) = shop();
    let local = dir.path().join("shop/orders.py");
    let frame = at(local.to_str().expect("utf-8 tempdir"));
    let mapping = map_frame_to_workspace(&frame, &index, &MappingConfig::default());
    assert_eq!(mapped(mapping), ("shop/orders.py".into(), true, MatchKind::AbsoluteInRoot));

    let url = format!("file://{}", local.to_str().expect("utf-8 tempdir"));
    assert_eq!(
        mapped(map_frame_to_workspace(&at(&url), &index, &MappingConfig::default())).2,
        MatchKind::AbsoluteInRoot
    );
}

#[test]
fn a_relative_path_maps_exactly() {
    let (_dir, index) = shop();
    let frame = Frame { filename: Some("shop/utils.py".into()), ..Frame::default() };
    let mapping = map_frame_to_workspace(&frame, &index, &MappingConfig::default());
    assert_eq!(mapped(mapping), ("shop/utils.py".into(), true, MatchKind::Exact));
}

#[test]
fn bundler_urls_lose_their_scheme() {
    let (_dir, index) = shop();
    for url in ["webpack:///./web/src/cart.js", "app:///web/src/cart.js?v=3"] {
        let mapping = map_frame_to_workspace(&at(url), &index, &MappingConfig::default());
        assert_eq!(mapped(mapping), ("web/src/cart.js".into(), true, MatchKind::Exact), "{url}");
    }
    let mapping = map_frame_to_workspace(&at("https://cdn.example.com/src/cart.js"), &index, &MappingConfig::default());
    assert_eq!(mapped(mapping), ("web/src/cart.js".into(), true, MatchKind::PathSuffix { components: 2 }));
    let config = MappingConfig {
        roots: vec![StackRoot { from: "webpack://shop-web/".into(), to: "web".into() }],
        ..MappingConfig::default()
    };
    let mapping = map_frame_to_workspace(&at("webpack://shop-web/./src/cart.js"), &index, &config);
    assert_eq!(mapped(mapping).0, "web/src/cart.js");
}

#[test]
fn two_files_sharing_the_longest_suffix_are_reported_not_guessed() {
    let (_dir, index) = shop();
    let reason = unmapped(map_frame_to_workspace(&at("/srv/utils.py"), &index, &MappingConfig::default()));
    let UnmappedReason::Ambiguous { candidates, total, .. } = &reason else {
        panic!("expected ambiguity, got {reason}");
    };
    assert_eq!(candidates, &["billing/utils.py", "shop/utils.py"]);
    assert_eq!(*total, 2);
    assert!(reason.to_string().contains("billing/utils.py, shop/utils.py"), "{reason}");

    // One more folder of the path settles it.
    let (path, ..) = mapped(map_frame_to_workspace(&at("/srv/shop/utils.py"), &index, &MappingConfig::default()));
    assert_eq!(path, "shop/utils.py");
}

#[test]
fn runtime_frames_have_no_file() {
    let (_dir, index) = shop();
    for path in
        ["<frozen importlib._bootstrap>", "node:internal/process/task_queues", "<anonymous>", "internal/timers.js"]
    {
        let reason = unmapped(map_frame_to_workspace(&at(path), &index, &MappingConfig::default()));
        assert_eq!(reason, UnmappedReason::Runtime { path: path.into() });
        assert!(reason.to_string().contains("runtime code"));
    }
}

#[test]
fn a_frame_without_file_or_module_is_reported() {
    let (_dir, index) = shop();
    let frame = Frame { function: Some("lambda".into()), ..Frame::default() };
    assert_eq!(unmapped(map_frame_to_workspace(&frame, &index, &MappingConfig::default())), UnmappedReason::NoFile);
}

#[test]
fn dependency_frames_never_land_on_a_same_named_workspace_file() {
    let (_dir, index) = shop();
    let cases = [
        ("/usr/lib/python3.11/site-packages/requests/api.py", "site-packages"),
        ("/app/.venv/lib/python3.11/site-packages/billing/api.py", ".venv"),
        ("/usr/lib/python3.11/json/api.py", "lib/python"),
        ("/home/ci/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.40.0/src/orders.py", ".cargo/registry"),
        ("/rustc/3f5fd8dd41153bc5fdca9427e9e05be2c767ba23/library/core/src/panicking.rs", "rustc"),
        ("/go/pkg/mod/github.com/acme/orders@v1.2.0/orders/orders.go", "pkg/mod"),
        ("/srv/web/node_modules/lodash/cart.js", "node_modules"),
    ];
    for (path, folder) in cases {
        let reason = unmapped(map_frame_to_workspace(&at(path), &index, &deployed_at_app()));
        assert_eq!(reason, UnmappedReason::Dependency { path: path.into(), folder: Some(folder.into()) }, "{path}");
    }
}

#[test]
fn a_configured_dependency_folder_counts_as_a_dependency() {
    let (_dir, index) = shop();
    let config = MappingConfig { dependency_folders: vec!["third_party/py".into()], ..MappingConfig::default() };
    let reason = unmapped(map_frame_to_workspace(&at("/srv/third_party/py/shop/orders.py"), &index, &config));
    assert!(matches!(reason, UnmappedReason::Dependency { folder: Some(ref f), .. } if f == "third_party/py"));
}

#[test]
fn a_vendored_package_in_the_workspace_maps_but_is_not_in_app() {
    let (_dir, index) = shop();
    let frame = at("/app/web/vendor-copy/node_modules/left-pad/index.js");
    let (path, in_app, _) = mapped(map_frame_to_workspace(&frame, &index, &deployed_at_app()));
    assert_eq!(path, "web/vendor-copy/node_modules/left-pad/index.js");
    assert!(!in_app);
}

#[test]
fn the_source_saying_not_in_app_is_respected() {
    let (_dir, index) = shop();
    let library = Frame { in_app: Some(false), ..at("/app/shop/orders.py") };
    let (path, in_app, _) = mapped(map_frame_to_workspace(&library, &index, &deployed_at_app()));
    assert_eq!((path.as_str(), in_app), ("shop/orders.py", false));

    // Without a literal match it is not guessed onto a workspace file either.
    let reason = unmapped(map_frame_to_workspace(&library, &index, &MappingConfig::default()));
    assert_eq!(reason, UnmappedReason::Dependency { path: "/app/shop/orders.py".into(), folder: None });

    let app = Frame { in_app: Some(true), ..at("/app/shop/orders.py") };
    assert!(map_frame_to_workspace(&app, &index, &MappingConfig::default()).is_in_app());
}

#[test]
fn a_file_the_workspace_does_not_have_is_not_found() {
    let (_dir, index) = shop();
    let reason = unmapped(map_frame_to_workspace(&at("/app/shop/refunds.py"), &index, &deployed_at_app()));
    assert_eq!(reason, UnmappedReason::NotFound { path: Some("/app/shop/refunds.py".into()), module: None });
    assert!(reason.to_string().contains("stack root"), "says what to do: {reason}");
}

#[test]
fn nothing_maps_outside_the_workspace() {
    let (dir, index) = shop();
    let root = dir.path().to_str().expect("utf-8 tempdir");
    let escaping = [
        "../../etc/orders.py".to_owned(),
        format!("{root}/shop/../../orders.py"),
        "/app/../../shop/orders.py".to_owned(),
    ];
    for path in &escaping {
        let mapping = map_frame_to_workspace(&at(path), &index, &MappingConfig::default());
        let expected = UnmappedReason::OutsideWorkspace { path: path.clone() };
        assert_eq!(mapping, FrameMapping::Unmapped { reason: expected }, "{path}");
    }

    let config = MappingConfig {
        roots: vec![StackRoot { from: "/app/".into(), to: "../elsewhere".into() }],
        ..MappingConfig::default()
    };
    let reason = unmapped(map_frame_to_workspace(&at("/app/orders.py"), &index, &config));
    assert!(matches!(reason, UnmappedReason::OutsideWorkspace { .. }), "{reason}");

    // `..` that stays inside is fine.
    let (path, ..) = mapped(map_frame_to_workspace(&at("shop/../billing/api.py"), &index, &MappingConfig::default()));
    assert_eq!(path, "billing/api.py");
}

#[test]
fn a_python_module_maps_when_the_path_does_not() {
    let (_dir, index) = shop();
    let frame = Frame { module: Some("shop.orders".into()), ..Frame::default() };
    let mapping = map_frame_to_workspace(&frame, &index, &MappingConfig::default());
    assert_eq!(mapped(mapping), ("shop/orders.py".into(), true, MatchKind::Module { module: "shop.orders".into() }));

    let package = Frame { module: Some("shop".into()), ..Frame::default() };
    assert_eq!(mapped(map_frame_to_workspace(&package, &index, &MappingConfig::default())).0, "shop/__init__.py");

    let missing = Frame { module: Some("shop.refunds".into()), ..Frame::default() };
    let reason = unmapped(map_frame_to_workspace(&missing, &index, &MappingConfig::default()));
    assert_eq!(reason, UnmappedReason::NotFound { path: None, module: Some("shop.refunds".into()) });
}

#[test]
fn a_jvm_class_picks_the_file_of_its_package() {
    let (_dir, index) = shop();
    let frame = Frame {
        module: Some("com.acme.shop.OrderService$LineItem".into()),
        filename: Some("OrderService.java".into()),
        ..Frame::default()
    };
    let mapping = map_frame_to_workspace(&frame, &index, &MappingConfig::default());
    assert_eq!(mapped(mapping).0, "service/src/main/java/com/acme/shop/OrderService.java");

    let kotlin =
        Frame { module: Some("com.acme.shop.PricesKt".into()), filename: Some("Prices.kt".into()), ..Frame::default() };
    assert_eq!(
        mapped(map_frame_to_workspace(&kotlin, &index, &MappingConfig::default())).0,
        "service/src/main/kotlin/com/acme/shop/Prices.kt"
    );

    let no_file = Frame { module: Some("com.acme.billing.OrderService".into()), ..Frame::default() };
    assert_eq!(
        mapped(map_frame_to_workspace(&no_file, &index, &MappingConfig::default())).0,
        "service/src/main/java/com/acme/billing/OrderService.java"
    );
}

#[test]
fn a_go_package_and_file_name_map_under_the_module() {
    let (_dir, index) = shop();
    let frame = Frame {
        module: Some("github.com/acme/shop/worker/orders".into()),
        filename: Some("orders.go".into()),
        ..Frame::default()
    };
    let (path, _, how) = mapped(map_frame_to_workspace(&frame, &index, &MappingConfig::default()));
    assert_eq!(path, "worker/orders/orders.go");
    assert!(matches!(how, MatchKind::PathSuffix { .. } | MatchKind::Module { .. }));

    let main = Frame { module: Some("main".into()), filename: Some("/build/main.go".into()), ..Frame::default() };
    assert_eq!(mapped(map_frame_to_workspace(&main, &index, &MappingConfig::default())).0, "worker/main.go");
}

#[test]
fn the_index_follows_files_created_and_deleted() {
    let (dir, mut index) = shop();
    let refunds = dir.path().join("shop/refunds.py");
    std::fs::write(&refunds, "").expect("write");
    assert!(index.insert_created(&refunds));
    let frame = at("/app/shop/refunds.py");
    assert_eq!(mapped(map_frame_to_workspace(&frame, &index, &deployed_at_app())).0, "shop/refunds.py");
    assert_eq!(index.remove_deleted(&refunds), 1);
    assert!(matches!(map_frame_to_workspace(&frame, &index, &deployed_at_app()), FrameMapping::Unmapped { .. }));
}

#[test]
fn mapping_settings_read_from_toml() {
    let config: MappingConfig = toml::from_str(
        r#"
        dependency_folders = ["third_party"]
        [[roots]]
        from = "/app/"
        to = ""
        "#,
    )
    .expect("valid settings");
    assert_eq!(config.roots, vec![StackRoot { from: "/app/".into(), to: String::new() }]);
    assert_eq!(config.dependency_folders, ["third_party"]);
}

#[test]
fn a_librarys_own_crash_reported_from_site_packages_is_in_app_through_its_stack_root() {
    // The workspace is the library itself; its users' crashes come from their site-packages.
    let (_dir, index) = shop();
    let root = "/venv/lib/python3.11/site-packages/";
    let config =
        MappingConfig { roots: vec![StackRoot { from: root.into(), to: String::new() }], ..MappingConfig::default() };
    let (path, in_app, matched_by) =
        mapped(map_frame_to_workspace(&at("/venv/lib/python3.11/site-packages/shop/orders.py"), &index, &config));
    assert_eq!(path, "shop/orders.py");
    assert!(in_app, "a configured root says it is the application");
    assert_eq!(matched_by, MatchKind::StackRoot { from: root.into() });
    // Without the root, the same path is a dependency's.
    let mapping = map_frame_to_workspace(
        &at("/venv/lib/python3.11/site-packages/shop/orders.py"),
        &index,
        &MappingConfig::default(),
    );
    assert!(!mapping.is_in_app(), "{mapping:?}");
}
