//! `textDocument/codeLens`: the crash lenses of an open document; its outline is parsed once per
//! revision, without holding the document map's lock.

use std::sync::Arc;

use tower_lsp_server::ls_types::{CodeLens, CodeLensParams};

use crate::lsp::code_lens::code_lenses;
use crate::lsp::state::State;
use crate::workspace::syntax::{SourceLanguage, functions};

pub(crate) fn on_code_lens(state: &State, params: &CodeLensParams) -> Option<Vec<CodeLens>> {
    let uri = &params.text_document.uri;
    let path = state.relative(uri)?;
    let (outline, text, revision) = {
        let document = state.documents.get(uri.as_str())?;
        if document.tracked.is_empty() {
            return Some(Vec::new());
        }
        let text = document.outline.is_none().then(|| document.text.to_string());
        (document.outline.clone(), text, document.revision)
    };
    // Parsing runs without holding the document map's lock.
    let spans = match (outline, text) {
        (Some(spans), _) => spans,
        (None, text) => {
            let text = text.unwrap_or_default();
            let spans = Arc::new(SourceLanguage::from_path(&path).map(|l| functions(l, &text)).unwrap_or_default());
            if let Some(mut document) = state.documents.get_mut(uri.as_str())
                && document.revision == revision
            {
                document.outline = Some(spans.clone());
            }
            spans
        }
    };
    let document = state.documents.get(uri.as_str())?;
    if document.revision != revision {
        // Changed while parsing: the next request gets lenses for the new text.
        return Some(Vec::new());
    }
    Some(code_lenses(&document.picture, &path, &document, &spans, uri.as_str()))
}
