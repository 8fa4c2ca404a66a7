//! The JVM, JavaScript, .NET and Ruby parsers on traces captured from real programs
//! (`tests/fixtures/traces/generate-jvm-js-dotnet-ruby.sh`): what a user would see of each crash.

use crashloom::crash::{
    CrashEvent, Exception, ExceptionLink, Frame, Language, LinkKind, dotnet, javascript, jvm, ruby,
};

type Parser = fn(&[&str]) -> Option<(CrashEvent, usize)>;

fn fixture(path: &str) -> String {
    let full = format!("{}/../tests/fixtures/traces/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"))
}

/// The first trace in a fixture, found the way a log scanner would: trying each line in turn.
/// Returns the event, the index of its first line and the lines it used.
fn first_trace(path: &str, parse: Parser) -> (CrashEvent, usize, usize) {
    let text = fixture(path);
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .find_map(|start| parse(&lines[start..]).map(|(event, used)| (event, start, used)))
        .unwrap_or_else(|| panic!("no trace found in {path}"))
}

fn outermost(event: &CrashEvent) -> &Exception {
    event.outermost().expect("an exception")
}

/// (filename, line, function) of the frame that raised.
fn crash_site(exception: &Exception) -> (Option<&str>, Option<u32>, Option<&str>) {
    let frame: &Frame = exception.frames.last().expect("a frame");
    (frame.filename.as_deref(), frame.line, frame.function.as_deref())
}

fn types(event: &CrashEvent) -> Vec<&str> {
    event.exceptions.iter().map(|e| e.ty.as_str()).collect()
}

// ---------------------------------------------------------------- JVM

#[test]
fn java_helpful_null_pointer_exception() {
    let (event, start, used) = first_trace("jvm/helpful_npe.txt", jvm::parse);
    assert_eq!((start, used), (0, 3));
    assert_eq!(event.language, Some(Language::Java));
    assert_eq!(event.thread.as_deref(), Some("main"));
    let npe = outermost(&event);
    assert_eq!(npe.ty, "java.lang.NullPointerException");
    assert_eq!(npe.module.as_deref(), Some("java.lang"));
    assert_eq!(npe.value, "Cannot invoke \"String.length()\" because \"customer.email\" is null");
    assert_eq!(crash_site(npe), (Some("HelpfulNpe.java"), Some(8), Some("emailLength")));
    assert_eq!(npe.frames.last().and_then(|f| f.module.as_deref()), Some("HelpfulNpe"));
    assert_eq!(npe.frames.len(), 2);
}

#[test]
fn java_caused_by_chain_gets_the_shared_frames_back() {
    let (event, _, used) = first_trace("jvm/caused_by_chain.txt", jvm::parse);
    assert_eq!(used, 17);
    assert_eq!(
        types(&event),
        [
            "java.lang.NumberFormatException",
            "java.io.IOException",
            "java.io.UncheckedIOException",
            "CausedByChain$ConfigException"
        ]
    );
    for (index, exception) in event.exceptions.iter().enumerate().take(3) {
        assert_eq!(exception.link, Some(ExceptionLink { parent: index + 1, kind: LinkKind::Cause }));
    }
    let root = &event.exceptions[0];
    assert_eq!(root.value, "For input string: \"80a\"");
    assert_eq!(root.frames_omitted, Some(3));
    // 4 printed frames plus the 3 shared with the IOException's (already completed) stack.
    let functions: Vec<_> = root.frames.iter().filter_map(|f| f.function.as_deref()).collect();
    assert_eq!(functions, ["main", "start", "loadConfig", "readPort", "parseInt", "parseInt", "forInputString"]);
    assert_eq!(crash_site(root), (Some("NumberFormatException.java"), Some(67), Some("forInputString")));
    assert_eq!(root.frames.last().and_then(|f| f.in_app), Some(false));
    let outer = outermost(&event);
    assert_eq!(outer.value, "server failed to start");
    assert_eq!(crash_site(outer), (Some("CausedByChain.java"), Some(32), Some("start")));
    assert_eq!(event.exceptions[2].value, "java.io.IOException: bad port in config: 80a");
}

#[test]
fn java_suppressed_exception_from_try_with_resources() {
    let (event, _, used) = first_trace("jvm/suppressed_close.txt", jvm::parse);
    assert_eq!(used, 8);
    assert_eq!(types(&event), ["java.lang.IllegalArgumentException", "java.lang.IllegalStateException"]);
    let suppressed = &event.exceptions[0];
    assert_eq!(suppressed.link, Some(ExceptionLink { parent: 1, kind: LinkKind::Suppressed }));
    assert_eq!(crash_site(suppressed), (Some("SuppressedClose.java"), Some(10), Some("close")));
    assert_eq!(suppressed.frames.len(), 3);
    let outer = outermost(&event);
    assert_eq!(outer.title(), "java.lang.IllegalStateException: query failed: select * from orders");
    assert_eq!(crash_site(outer), (Some("SuppressedClose.java"), Some(5), Some("query")));
    assert_eq!(outer.frames.last().and_then(|f| f.module.as_deref()), Some("SuppressedClose$Connection"));
    // Only the outermost exception is the "root cause" chain end; suppressed ones are not causes.
    assert_eq!(event.root_causes().count(), 0);
}

#[test]
fn java_reflection_native_method_and_module_prefixed_frames() {
    let (event, _, used) = first_trace("jvm/reflection_and_streams.txt", jvm::parse);
    assert_eq!(used, 20);
    let [cause, wrapper] = event.exceptions.as_slice() else { panic!("two exceptions") };
    assert_eq!(wrapper.ty, "java.lang.reflect.InvocationTargetException");
    assert_eq!(wrapper.value, "");
    let native = wrapper.frames.last().expect("frame");
    assert_eq!((native.function.as_deref(), native.filename.as_deref(), native.line), (Some("invoke0"), None, None));
    assert_eq!(native.module.as_deref(), Some("jdk.internal.reflect.NativeMethodAccessorImpl"));
    assert_eq!(cause.ty, "java.lang.StringIndexOutOfBoundsException");
    assert_eq!(cause.frames.len(), 12 + 5);
    let lambda =
        cause.frames.iter().find(|f| f.function.as_deref() == Some("lambda$sumLengths$0")).expect("lambda frame");
    assert_eq!(
        (lambda.filename.as_deref(), lambda.line, lambda.in_app),
        (Some("ReflectionAndStreams.java"), Some(8), None)
    );
}

#[test]
fn java_util_logging_record_with_a_bare_exception_line() {
    let (event, start, used) = first_trace("jvm/logged_failure.txt", jvm::parse);
    // The logger's date and `SEVERE:` lines are not part of the trace.
    assert_eq!((start, used), (2, 6));
    assert_eq!(event.thread, None);
    let error = outermost(&event);
    assert_eq!(error.title(), "java.lang.NumberFormatException: For input string: \"12.50\"");
    assert_eq!(crash_site(error), (Some("NumberFormatException.java"), Some(67), Some("forInputString")));
}

#[test]
fn java_custom_exception_with_multi_line_message_on_a_named_thread() {
    let (event, _, used) = first_trace("jvm/order_worker_thread.txt", jvm::parse);
    assert_eq!(used, 5);
    assert_eq!(event.thread.as_deref(), Some("order-worker-1"));
    let error = outermost(&event);
    assert_eq!(error.ty, "com.acme.orders.OrderWorker$OrderRejectedException");
    assert_eq!(error.module.as_deref(), Some("com.acme.orders"));
    assert_eq!(error.value, "order 7 rejected\nquantity must be positive, got -2");
    assert_eq!(crash_site(error), (Some("OrderWorker.java"), Some(13), Some("validate")));
    assert_eq!(error.frames.last().and_then(|f| f.module.as_deref()), Some("com.acme.orders.OrderWorker"));
}

// ---------------------------------------------------------------- JavaScript

#[test]
fn node_type_error_with_source_preamble() {
    let (event, start, used) = first_trace("javascript/type_error.txt", javascript::parse);
    assert_eq!((start, used), (0, 14));
    assert_eq!(event.language, Some(Language::JavaScript));
    let error = outermost(&event);
    assert_eq!(error.title(), "TypeError: Cannot read properties of undefined (reading 'items')");
    assert_eq!(crash_site(error), (Some("/app/javascript/type_error.js"), Some(3), Some("total")));
    let raising = error.frames.last().expect("frame");
    assert_eq!(raising.column, Some(16));
    assert_eq!(raising.abs_path.as_deref(), Some("/app/javascript/type_error.js"));
    assert_eq!(raising.context.as_ref().map(|c| c.line.as_str()), Some("  return order.items.length;"));
    assert_eq!(error.frames.len(), 9);
    assert_eq!(error.frames[0].in_app, Some(false), "node:internal frames are not application code");
}

#[test]
fn node_async_function_frames() {
    let (event, _, used) = first_trace("javascript/async_error.txt", javascript::parse);
    assert_eq!(used, 8);
    let error = outermost(&event);
    assert_eq!(error.title(), "Error: user 42 not found");
    let functions: Vec<_> = error.frames.iter().filter_map(|f| f.function.as_deref()).collect();
    assert_eq!(functions, ["main", "loadProfile", "fetchUser"]);
    assert_eq!(crash_site(error), (Some("/app/javascript/async_error.js"), Some(4), Some("fetchUser")));
}

#[test]
fn node_es_module_file_urls() {
    let (event, _, used) = first_trace("javascript/esm_throw.txt", javascript::parse);
    assert_eq!(used, 10);
    let error = outermost(&event);
    assert_eq!(error.ty, "TypeError");
    let raising = error.frames.last().expect("frame");
    assert_eq!(raising.abs_path.as_deref(), Some("/app/javascript/esm_throw.mjs"));
    assert_eq!(
        (raising.line, raising.column, raising.function.as_deref()),
        (Some(8), Some(26), Some("Cart.firstItemName"))
    );
    assert_eq!(raising.context.as_ref().map(|c| c.line.as_str()), Some("    return this.items[0].name;"));
    let module_body = &error.frames[error.frames.len() - 2];
    assert_eq!((module_body.function.as_deref(), module_body.line), (None, Some(13)));

    // JSON.parse raised: the builtin frame has no file, and Node's preamble (`<anonymous_script>`)
    // does not match it, so no context is attached.
    let (event, _, _) = first_trace("javascript/esm_module.txt", javascript::parse);
    let error = outermost(&event);
    assert_eq!(error.ty, "SyntaxError");
    assert_eq!(crash_site(error), (None, None, Some("JSON.parse")));
    assert!(error.frames.iter().all(|f| f.context.is_none()));
    assert_eq!(error.frames[error.frames.len() - 2].abs_path.as_deref(), Some("/app/javascript/esm_module.mjs"));
}

#[test]
fn node_class_constructor_and_builtin_frames() {
    let (event, _, used) = first_trace("javascript/class_constructor.txt", javascript::parse);
    assert_eq!(used, 15);
    let error = outermost(&event);
    assert_eq!(error.title(), "RangeError: an invoice needs at least one line");
    assert_eq!(crash_site(error), (Some("/app/javascript/class_constructor.js"), Some(5), Some("Invoice")));
    let for_each = error.frames.iter().find(|f| f.function.as_deref() == Some("Array.forEach")).expect("builtin frame");
    assert_eq!((for_each.filename.as_deref(), for_each.in_app), (None, Some(false)));
}

#[test]
fn node_eval_frames_point_at_the_eval_call() {
    let (event, _, used) = first_trace("javascript/eval_error.txt", javascript::parse);
    assert_eq!(used, 15);
    let error = outermost(&event);
    assert_eq!(error.title(), "ReferenceError: price is not defined");
    let raising = error.frames.last().expect("frame");
    assert_eq!(
        (raising.function.as_deref(), raising.filename.as_deref(), raising.line, raising.column),
        (Some("eval"), Some("/app/javascript/eval_error.js"), Some(3), Some(10))
    );
}

#[test]
fn node_error_cause_chain() {
    let (event, _, used) = first_trace("javascript/error_cause.txt", javascript::parse);
    assert_eq!(used, 20);
    let [cause, outer] = event.exceptions.as_slice() else { panic!("two exceptions: {:?}", types(&event)) };
    assert_eq!(outer.title(), "Error: database unavailable");
    assert_eq!(cause.title(), "Error: connect ECONNREFUSED 127.0.0.1:5432");
    assert_eq!(cause.link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
    assert_eq!(crash_site(cause), (Some("/app/javascript/error_cause.js"), Some(3), Some("connect")));
    assert_eq!(crash_site(outer), (Some("/app/javascript/error_cause.js"), Some(10), Some("openDatabase")));
    // `... 5 lines matching cause stack trace ...` is filled back in from the cause.
    assert_eq!(outer.frames_omitted, Some(5));
    assert_eq!(outer.frames.len(), 8);
    assert_eq!(cause.frames.len(), 9);
}

#[test]
fn node_aggregate_error_members() {
    let (event, start, used) = first_trace("javascript/aggregate_error.txt", javascript::parse);
    assert_eq!((start, used), (0, 28));
    assert_eq!(types(&event), ["Error", "Error", "AggregateError"]);
    assert_eq!(outermost(&event).value, "All promises were rejected");
    for (index, member) in ["mirror eu timed out", "mirror us timed out"].iter().enumerate() {
        let exception = &event.exceptions[index];
        assert_eq!(&exception.value, member);
        assert_eq!(exception.link, Some(ExceptionLink { parent: 2, kind: LinkKind::GroupMember }));
        assert_eq!(crash_site(exception), (Some("/app/javascript/aggregate_error.js"), Some(3), Some("fromMirror")));
        assert_eq!(exception.frames.len(), 9);
    }
}

#[test]
fn node_system_error_properties_are_read_past() {
    let (event, _, used) = first_trace("javascript/fs_error.txt", javascript::parse);
    assert_eq!(used, 19);
    let error = outermost(&event);
    assert_eq!(error.title(), "Error: ENOENT: no such file or directory, open 'templates/receipt.html'");
    let raising = error.frames.last().expect("frame");
    assert_eq!((raising.filename.as_deref(), raising.line, raising.in_app), (Some("node:fs"), Some(448), Some(false)));
    assert_eq!(
        raising.context.as_ref().map(|c| c.line.as_str()),
        Some("    return binding.readFileUtf8(path, stringToFlags(options.flag));")
    );
}

// ---------------------------------------------------------------- .NET (Mono)

#[test]
fn mono_null_reference_exception() {
    let (event, start, used) = first_trace("dotnet/mono_null_reference.txt", dotnet::parse);
    assert_eq!((start, used), (1, 5));
    assert_eq!(event.language, Some(Language::DotNet));
    let error = outermost(&event);
    assert_eq!(error.title(), "System.NullReferenceException: Object reference not set to an instance of an object");
    assert_eq!(crash_site(error), (Some("/app/dotnet/NullReference.cs"), Some(16), Some("DomainLength")));
    assert_eq!(error.frames.last().and_then(|f| f.module.as_deref()), Some("Acme.Shop.Mailer"));
    assert_eq!(error.frames.len(), 3);
}

#[test]
fn mono_inner_exception_chain() {
    let (event, _, used) = first_trace("dotnet/mono_inner_exceptions.txt", dotnet::parse);
    assert_eq!(used, 13);
    assert_eq!(
        types(&event),
        ["System.FormatException", "System.IO.InvalidDataException", "Acme.Billing.InvoiceException"]
    );
    assert_eq!(event.exceptions[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Inner }));
    assert_eq!(event.exceptions[1].link, Some(ExceptionLink { parent: 2, kind: LinkKind::Inner }));
    let root = &event.exceptions[0];
    assert_eq!(root.value, "Input string was not in a correct format.");
    // The framework frames have no symbols (`<mvid>:0`): no file, not application code.
    assert_eq!(crash_site(root), (None, None, Some("ThrowOverflowOrFormatException")));
    assert_eq!(root.frames.last().and_then(|f| f.in_app), Some(false));
    assert_eq!(root.frames.len(), 5);
    assert_eq!(
        crash_site(&event.exceptions[1]),
        (Some("/app/dotnet/InnerExceptions.cs"), Some(28), Some("LoadInvoice"))
    );
    let outer = outermost(&event);
    assert_eq!(outer.value, "could not process invoice");
    assert_eq!(crash_site(outer), (Some("/app/dotnet/InnerExceptions.cs"), Some(41), Some("ProcessAsync")));
    assert_eq!(event.root_causes().map(|(i, _)| i).collect::<Vec<_>>(), [0]);
}

#[test]
fn mono_aggregate_exception_members() {
    let (event, _, used) = first_trace("dotnet/mono_aggregate_failure.txt", dotnet::parse);
    // Mono prints the trace twice; the second copy (`[ERROR] FATAL UNHANDLED EXCEPTION`) is a
    // separate trace.
    assert_eq!(used, 22);
    assert_eq!(types(&event), ["System.TimeoutException", "System.TimeoutException", "System.AggregateException"]);
    for (index, mirror) in ["eu", "us"].iter().enumerate() {
        let member = &event.exceptions[index];
        assert_eq!(member.value, format!("mirror {mirror} timed out"));
        assert_eq!(member.link, Some(ExceptionLink { parent: 2, kind: LinkKind::GroupMember }));
        assert_eq!(crash_site(member), (Some("/app/dotnet/AggregateFailure.cs"), Some(11), Some("Upload")));
        assert_eq!(member.frames.len(), 4);
    }
    let aggregate = outermost(&event);
    assert_eq!(crash_site(aggregate), (None, None, Some("WaitAll")));
    assert_eq!(aggregate.frames.len(), 4);
}

// ---------------------------------------------------------------- Ruby

#[test]
fn ruby_no_method_error_on_nil_with_error_highlight() {
    let (event, start, used) = first_trace("ruby/no_method_on_nil.txt", ruby::parse);
    assert_eq!((start, used), (0, 8));
    assert_eq!(event.language, Some(Language::Ruby));
    let error = outermost(&event);
    assert_eq!(error.title(), "NoMethodError: undefined method `sum' for nil:NilClass");
    assert_eq!(error.value, "undefined method `sum' for nil:NilClass");
    assert_eq!(crash_site(error), (Some("no_method_on_nil.rb"), Some(11), Some("total")));
    assert_eq!(
        error.frames.last().and_then(|f| f.context.as_ref()).map(|c| c.line.as_str()),
        Some("  order.items.sum")
    );
    assert_eq!(error.frames.len(), 5);
    assert_eq!(error.frames[2].function.as_deref(), Some("map"));
}

#[test]
fn ruby_raise_while_rescuing_is_a_cause_chain() {
    let (event, _, used) = first_trace("ruby/chained_raise.txt", ruby::parse);
    assert_eq!(used, 8);
    let [cause, outer] = event.exceptions.as_slice() else { panic!("two exceptions") };
    assert_eq!(outer.ty, "Billing::ChargeFailed");
    assert_eq!(outer.module.as_deref(), Some("Billing"));
    assert_eq!(outer.value, "could not charge \"12.50\"");
    assert_eq!(crash_site(outer), (Some("chained_raise.rb"), Some(9), Some("rescue in charge")));
    assert_eq!(cause.title(), "ArgumentError: invalid value for Integer(): \"12.50\"");
    assert_eq!(cause.link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
    assert_eq!(crash_site(cause), (Some("chained_raise.rb"), Some(7), Some("Integer")));
    assert_eq!(cause.frames.len(), 4);
}

#[test]
fn ruby_custom_error_with_multi_line_message() {
    let (event, _, used) = first_trace("ruby/custom_error.txt", ruby::parse);
    assert_eq!(used, 5);
    let error = outermost(&event);
    assert_eq!(error.ty, "Inventory::OutOfStock");
    assert_eq!(error.value, "sku A-100 is out of stock\nrequested 3, available 0");
    assert_eq!(crash_site(error), (Some("custom_error.rb"), Some(7), Some("block in reserve")));
    assert_eq!(error.frames.len(), 4);
}

// ---------------------------------------------------------------- all formats

#[test]
fn each_parser_declines_the_other_formats() {
    let parsers: [(&str, Parser); 4] =
        [("jvm", jvm::parse), ("javascript", javascript::parse), ("dotnet", dotnet::parse), ("ruby", ruby::parse)];
    let samples = [
        ("jvm", "jvm/caused_by_chain.txt"),
        ("javascript", "javascript/async_error.txt"),
        ("dotnet", "dotnet/mono_inner_exceptions.txt"),
        ("ruby", "ruby/chained_raise.txt"),
    ];
    for (owner, path) in samples {
        let text = fixture(path);
        let lines: Vec<&str> = text.lines().collect();
        for (name, parse) in parsers {
            if name == owner {
                continue;
            }
            for start in 0..lines.len() {
                assert!(parse(&lines[start..]).is_none(), "{name} parsed line {start} of {path}");
            }
        }
    }
}
