//! The tools `crashloom mcp` offers: their names, descriptions and input schemas, and the typed
//! arguments each call is checked against. A call with arguments that do not fit gets one
//! sentence that names the argument; it never reaches the crash logic.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Every tool, in the order `tools/list` shows them.
pub const TOOL_NAMES: [&str; 5] = ["list_crashes", "get_crash", "investigate", "get_fix", "apply_fix"];

/// One tool as `tools/list` describes it: name, description, JSON Schema of its arguments.
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Map<String, Value>,
}

const CRASH: &str = "The crash group's short id as list_crashes shows it (`CL-XXXXXX`), or its full id.";

fn object(properties: Value, required: &[&str]) -> Map<String, Value> {
    let schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The tools with their schemas.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "list_crashes",
            description: "The crash groups of the workspace as `crashloom crashes` reads them (crash files and logs \
                          under .crashloom/crashes and the configured paths, the collector's inbox), most events first: short id, title, event count, last seen, \
                          releases, environments and the in-app file:line where it crashed. Optional filters.",
            input_schema: object(
                json!({
                    "environment": {"type": "string", "description": "Only groups seen in this environment."},
                    "release": {"type": "string", "description": "Only groups seen in this release."},
                    "file": {
                        "type": "string",
                        "description": "Only groups with a crash site or frame in this workspace file (relative path, or its end)."
                    },
                    "limit": {"type": "integer", "minimum": 1, "description": "At most this many groups (default 50)."}
                }),
                &[],
            ),
        },
        ToolSpec {
            name: "get_crash",
            description: "One crash group: its exception chain (root cause first) and every stack frame (oldest \
                          first) with the workspace file and line it maps to, or the reason it is not mapped.",
            input_schema: object(json!({"crash": {"type": "string", "description": CRASH}}), &["crash"]),
        },
        ToolSpec {
            name: "investigate",
            description: "Investigates a crash group as `crashloom investigate` does: explains it, finds the root \
                          cause, proposes changes and proves each in a sandbox copy of the workspace (build, a \
                          reproduction that must crash before and succeed after, the tests). Returns the verdict, \
                          the fix as a unified diff and its proof. Reports progress when the request carries a \
                          progressToken. Does not change the workspace; apply_fix does.",
            input_schema: object(
                json!({
                    "crash": {"type": "string", "description": CRASH},
                    "offline": {
                        "type": "boolean",
                        "description": "Use the offline engine only, even when crashloom.toml sets [model]."
                    }
                }),
                &["crash"],
            ),
        },
        ToolSpec {
            name: "get_fix",
            description: "The last investigation's fix for a crash group, with its proof (the validation rungs and \
                          the outcome: fixed, converted or not fixed) and the other candidates tried.",
            input_schema: object(json!({"crash": {"type": "string", "description": CRASH}}), &["crash"]),
        },
        ToolSpec {
            name: "apply_fix",
            description: "Writes the last investigation's fix into the workspace files, only when it was validated; \
                          a fix whose files changed since is judged again first. An unvalidated fix is refused.",
            input_schema: object(
                json!({
                    "crash": {"type": "string", "description": CRASH},
                    "candidate": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Another validated candidate of the investigation, numbered as get_fix lists them (1, the default, is the fix)."
                    }
                }),
                &["crash"],
            ),
        },
    ]
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListCrashesArgs {
    pub environment: Option<String>,
    pub release: Option<String>,
    pub file: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrashArgs {
    pub crash: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InvestigateArgs {
    pub crash: String,
    #[serde(default)]
    pub offline: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApplyFixArgs {
    pub crash: String,
    pub candidate: Option<usize>,
}

/// A tool call, its arguments checked.
#[derive(Debug, PartialEq)]
pub enum Call {
    ListCrashes(ListCrashesArgs),
    GetCrash(CrashArgs),
    Investigate(InvestigateArgs),
    GetFix(CrashArgs),
    ApplyFix(ApplyFixArgs),
}

/// Why a call was not made.
#[derive(Debug, PartialEq)]
pub enum CallError {
    /// No tool has this name (a protocol error: the request cannot be routed).
    UnknownTool(String),
    /// The arguments do not fit the tool's schema (a tool error the caller can correct).
    BadArguments(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::UnknownTool(name) => {
                write!(f, "there is no tool named {name:?}; the tools are {}", TOOL_NAMES.join(", "))
            }
            CallError::BadArguments(message) => f.write_str(message),
        }
    }
}

/// Checks a call's name and arguments.
pub fn parse_call(name: &str, arguments: Option<Map<String, Value>>) -> Result<Call, CallError> {
    let arguments = arguments.unwrap_or_default();
    let call = match name {
        "list_crashes" => Call::ListCrashes(args(name, arguments)?),
        "get_crash" => Call::GetCrash(crash_args(name, arguments)?),
        "investigate" => {
            let parsed: InvestigateArgs = args(name, arguments)?;
            check_crash(name, &parsed.crash)?;
            Call::Investigate(parsed)
        }
        "get_fix" => Call::GetFix(crash_args(name, arguments)?),
        "apply_fix" => {
            let parsed: ApplyFixArgs = args(name, arguments)?;
            check_crash(name, &parsed.crash)?;
            if parsed.candidate == Some(0) {
                return Err(CallError::BadArguments("apply_fix: `candidate` counts from 1 (1 is the fix)".to_owned()));
            }
            Call::ApplyFix(parsed)
        }
        other => return Err(CallError::UnknownTool(other.to_owned())),
    };
    if let Call::ListCrashes(ListCrashesArgs { limit: Some(0), .. }) = call {
        return Err(CallError::BadArguments("list_crashes: `limit` must be at least 1".to_owned()));
    }
    Ok(call)
}

fn crash_args(tool: &str, arguments: Map<String, Value>) -> Result<CrashArgs, CallError> {
    let parsed: CrashArgs = args(tool, arguments)?;
    check_crash(tool, &parsed.crash)?;
    Ok(parsed)
}

fn check_crash(tool: &str, crash: &str) -> Result<(), CallError> {
    if crash.trim().is_empty() {
        return Err(CallError::BadArguments(format!(
            "{tool}: `crash` is empty; pass a short id such as CL-EB20E1 (list_crashes shows them)"
        )));
    }
    Ok(())
}

fn args<T: DeserializeOwned>(tool: &str, arguments: Map<String, Value>) -> Result<T, CallError> {
    serde_json::from_value(Value::Object(arguments))
        .map_err(|e| CallError::BadArguments(format!("{tool}: the arguments do not fit: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: Value) -> Result<Call, CallError> {
        let Value::Object(map) = arguments else { panic!("arguments are an object") };
        parse_call(name, Some(map))
    }

    #[test]
    fn every_tool_is_listed_with_an_object_schema() {
        let specs = specs();
        assert_eq!(specs.iter().map(|s| s.name).collect::<Vec<_>>(), TOOL_NAMES);
        for spec in &specs {
            assert_eq!(spec.input_schema.get("type"), Some(&json!("object")), "{}", spec.name);
            assert_eq!(spec.input_schema.get("additionalProperties"), Some(&json!(false)), "{}", spec.name);
        }
    }

    #[test]
    fn good_arguments_become_typed_calls() {
        assert_eq!(parse_call("list_crashes", None), Ok(Call::ListCrashes(ListCrashesArgs::default())));
        assert_eq!(
            call("list_crashes", json!({"environment": "production", "limit": 3})),
            Ok(Call::ListCrashes(ListCrashesArgs {
                environment: Some("production".into()),
                limit: Some(3),
                ..ListCrashesArgs::default()
            }))
        );
        assert_eq!(
            call("investigate", json!({"crash": "CL-EB20E1"})),
            Ok(Call::Investigate(InvestigateArgs { crash: "CL-EB20E1".into(), offline: false }))
        );
        assert_eq!(
            call("apply_fix", json!({"crash": "CL-54E9F7", "candidate": 2})),
            Ok(Call::ApplyFix(ApplyFixArgs { crash: "CL-54E9F7".into(), candidate: Some(2) }))
        );
    }

    #[test]
    fn an_unknown_tool_is_named_with_the_tools_there_are() {
        let error = call("delete_everything", json!({})).expect_err("refused");
        assert_eq!(error, CallError::UnknownTool("delete_everything".into()));
        let message = error.to_string();
        assert!(message.contains("\"delete_everything\""), "{message}");
        assert!(message.contains("list_crashes, get_crash, investigate, get_fix, apply_fix"), "{message}");
    }

    #[test]
    fn bad_arguments_name_the_tool_and_the_argument() {
        let missing = call("get_crash", json!({})).expect_err("refused").to_string();
        assert!(missing.starts_with("get_crash: ") && missing.contains("missing field `crash`"), "{missing}");
        let wrong_type = call("get_fix", json!({"crash": 7})).expect_err("refused").to_string();
        assert!(wrong_type.contains("invalid type: integer `7`, expected a string"), "{wrong_type}");
        let unknown = call("investigate", json!({"crash": "CL-1", "force": true})).expect_err("refused").to_string();
        assert!(unknown.contains("unknown field `force`"), "{unknown}");
        let empty = call("apply_fix", json!({"crash": "  "})).expect_err("refused").to_string();
        assert!(empty.contains("`crash` is empty"), "{empty}");
        let zero = call("apply_fix", json!({"crash": "CL-1", "candidate": 0})).expect_err("refused").to_string();
        assert!(zero.contains("counts from 1"), "{zero}");
        let negative = call("apply_fix", json!({"crash": "CL-1", "candidate": -1})).expect_err("refused").to_string();
        assert!(negative.contains("invalid value: integer `-1`"), "{negative}");
        let limit = call("list_crashes", json!({"limit": 0})).expect_err("refused").to_string();
        assert!(limit.contains("at least 1"), "{limit}");
    }
}
