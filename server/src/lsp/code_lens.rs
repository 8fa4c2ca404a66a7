//! A code lens above each function that holds a crash site: how many crashes, how many events.

use std::collections::BTreeMap;

use serde_json::json;
use tower_lsp_server::ls_types::{CodeLens, Command, Position, Range};

use super::command::ServerCommand;
use super::sites::placed_sites;
use crate::workspace::documents::Document;
use crate::workspace::sites::CrashPicture;
use crate::workspace::syntax::{FunctionSpan, enclosing_function};

pub fn code_lenses(
    picture: &CrashPicture,
    path: &str,
    document: &Document,
    functions: &[FunctionSpan],
    uri: &str,
) -> Vec<CodeLens> {
    // Lens line → (group ids, events).
    let mut by_line: BTreeMap<usize, (Vec<&str>, u64)> = BTreeMap::new();
    for placed in placed_sites(picture, path, Some(document)) {
        let line = enclosing_function(functions, placed.line).map_or(placed.line, |f| f.start_line);
        let entry = by_line.entry(line).or_default();
        if !entry.0.contains(&placed.group.id.as_str()) {
            entry.0.push(&placed.group.id);
            entry.1 += placed.group.count;
        }
    }
    by_line
        .into_iter()
        .map(|(line, (groups, events))| {
            let crashes = if groups.len() == 1 { "1 crash".to_owned() } else { format!("{} crashes", groups.len()) };
            let events = if events == 1 { "1 event".to_owned() } else { format!("{events} events") };
            let position = Position::new(line as u32, 0);
            CodeLens {
                range: Range::new(position, position),
                command: Some(Command {
                    title: format!("{crashes} · {events}"),
                    command: ServerCommand::ShowCrashes.name().to_owned(),
                    arguments: Some(vec![json!(uri), json!(line), json!(groups)]),
                }),
                data: None,
            }
        })
        .collect()
}
