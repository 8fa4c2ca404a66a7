//! `textDocument/hover`: over one snapshot (the open document's picture, or the current one).

use tower_lsp_server::ls_types::{Hover, HoverParams};

use crate::lsp::hover::{HoverFormat, hover};
use crate::lsp::state::State;

pub(crate) fn on_hover(state: &State, params: &HoverParams) -> Option<Hover> {
    let position = &params.text_document_position_params;
    let root = state.root()?;
    let path = state.relative(&position.text_document.uri)?;
    let document = state.documents.get(position.text_document.uri.as_str());
    let format = if state.client_support().markdown_hover { HoverFormat::Markdown } else { HoverFormat::PlainText };
    let line = position.position.line as usize;
    hover(&state.picture(), &root, &path, document.as_deref(), line, state.encoding(), format)
}
