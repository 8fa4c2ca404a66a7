//! `textDocument/didChange`: edits applied to the document, its crash sites moved with the code.

use tower_lsp_server::ls_types::DidChangeTextDocumentParams;

use crate::lsp::convert::char_position;
use crate::lsp::state::State;

pub(crate) fn did_change(state: &State, params: &DidChangeTextDocumentParams) {
    let encoding = state.encoding();
    let Some(mut document) = state.documents.get_mut(params.text_document.uri.as_str()) else {
        tracing::debug!("didChange for a document that is not open: {}", params.text_document.uri.as_str());
        return;
    };
    for change in &params.content_changes {
        match change.range {
            Some(range) => {
                let start =
                    char_position(range.start, document.line_text(range.start.line as usize).as_deref(), encoding);
                let end = char_position(range.end, document.line_text(range.end.line as usize).as_deref(), encoding);
                document.apply_change(start, end, &change.text);
            }
            None => document.replace_all(&change.text),
        }
    }
    document.version = params.text_document.version;
}
