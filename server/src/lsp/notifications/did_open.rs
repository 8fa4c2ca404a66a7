//! `textDocument/didOpen`: the document is tracked against the current picture.

use tower_lsp_server::ls_types::DidOpenTextDocumentParams;

use crate::lsp::state::State;
use crate::workspace::documents::Document;

pub(crate) fn did_open(state: &State, params: &DidOpenTextDocumentParams) {
    let document = &params.text_document;
    let mut opened = Document::new(&document.text, document.version, state.relative(&document.uri));
    opened.track(state.picture(), 0);
    state.documents.insert(document.uri.as_str().to_owned(), opened);
}
