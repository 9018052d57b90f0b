//! `ward lsp`: a language server over stdio. Diagnostics as `ward check`
//! gives them (same codes and spans) for the whole rule set of the
//! workspace as the user types, hover on fields, lists, macros and codes,
//! completion, go to definition, references, formatting and quick fixes.
//!
//! The protocol side is tower-lsp-server; the analysis is [`analysis`]
//! (the workspace as one rule set, positions in UTF-16) and [`query`]
//! (what is at a place, what may go there).

pub mod analysis;
pub mod query;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use analysis::{offset_at, path_of, uri, Analysis, Workspace};

/// How long the server waits after a change for the next one before it
/// checks the rule set again.
const DEBOUNCE: Duration = Duration::from_millis(30);

struct State {
    ws: Workspace,
    /// Bumped by every change; an analysis is current when it was made at
    /// the present generation.
    generation: u64,
    analysis: Option<(u64, Arc<Analysis>)>,
    /// What was last published per file, so that unchanged files are not
    /// sent again.
    published: BTreeMap<PathBuf, Vec<Diagnostic>>,
}

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
}

impl Backend {
    fn new(client: Client) -> Backend {
        Backend {
            client,
            state: Arc::new(Mutex::new(State {
                ws: Workspace::default(),
                generation: 0,
                analysis: None,
                published: BTreeMap::new(),
            })),
        }
    }

    /// The analysis of the present texts, made now if a change came since.
    fn fresh(state: &Mutex<State>) -> Arc<Analysis> {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, a)) = &st.analysis {
            if *g == st.generation {
                return a.clone();
            }
        }
        let a = Arc::new(st.ws.analyze());
        st.analysis = Some((st.generation, a.clone()));
        a
    }

    fn changed(&self) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.generation += 1;
        st.generation
    }

    /// Checks again after [`DEBOUNCE`] unless another change came, and
    /// publishes what changed.
    fn schedule(&self, generation: u64) {
        let state = self.state.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DEBOUNCE).await;
            let current = state.lock().map(|s| s.generation).unwrap_or(generation);
            if current != generation {
                return;
            }
            let st2 = state.clone();
            let Ok(a) = tokio::task::spawn_blocking(move || Backend::fresh(&st2)).await else {
                return;
            };
            publish(&client, &state, &a).await;
        });
    }

    fn with_doc<T>(
        &self,
        u: &Uri,
        f: impl FnOnce(&Analysis, ward_compiler::diagnostic::FileId) -> T,
    ) -> Option<T> {
        let path = path_of(u)?;
        let a = Backend::fresh(&self.state);
        let file = a.file(&path)?;
        Some(f(&a, file))
    }
}

async fn publish(client: &Client, state: &Mutex<State>, a: &Analysis) {
    let mut out = Vec::new();
    {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let all = a.diagnostics();
        for (path, diags) in all {
            if st.published.get(&path) == Some(&diags) {
                continue;
            }
            let version = st.ws.version(&path);
            st.published.insert(path.clone(), diags.clone());
            out.push((path, diags, version));
        }
    }
    for (path, diags, version) in out {
        if let Some(u) = uri(&path) {
            client.publish_diagnostics(u, diags, version).await;
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .unwrap_or_default()
            .iter()
            .filter_map(|f| path_of(&f.uri))
            .collect();
        #[allow(deprecated)]
        if roots.is_empty() {
            roots.extend(params.root_uri.as_ref().and_then(path_of));
        }
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.ws = Workspace::new(roots);
            st.generation += 1;
        }
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "ward".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::FULL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".to_string()]),
                    ..CompletionOptions::default()
                }),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: SemanticTokensLegend {
                                token_types: query::TOKEN_TYPES.to_vec(),
                                token_modifiers: Vec::new(),
                            },
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            ..SemanticTokensOptions::default()
                        },
                    ),
                ),
                ..ServerCapabilities::default()
            },
            ..InitializeResult::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let a = Backend::fresh(&self.state);
        publish(&self.client, &self.state, &a).await;
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let d = params.text_document;
        if let Some(path) = path_of(&d.uri) {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.ws.open(&path, d.text, d.version);
        }
        let g = self.changed();
        self.schedule(g);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let d = params.text_document;
        // Full sync: the last change holds the whole text.
        if let (Some(path), Some(change)) =
            (path_of(&d.uri), params.content_changes.into_iter().last())
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.ws.open(&path, change.text, d.version);
        }
        let g = self.changed();
        self.schedule(g);
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.ws.rescan();
        }
        let g = self.changed();
        self.schedule(g);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        if let Some(path) = path_of(&params.text_document.uri) {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.ws.close(&path);
        }
        let g = self.changed();
        self.schedule(g);
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        Ok(self
            .with_doc(&p.text_document.uri, |a, file| {
                let offset = offset_at(a.text(file), p.position);
                query::hover(a, file, offset).map(|(value, range)| Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value,
                    }),
                    range: Some(range),
                })
            })
            .flatten())
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        Ok(self.with_doc(&p.text_document.uri, |a, file| {
            let offset = offset_at(a.text(file), p.position);
            CompletionResponse::Array(query::completion(a, file, offset))
        }))
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        Ok(self
            .with_doc(&p.text_document.uri, |a, file| {
                let text = a.text(file);
                let offset = offset_at(text, p.position);
                // A macro's parameter: its place in the signature.
                if let Some(param) = query::param_at(a, file, offset) {
                    let decl = param.decl.params[param.index].span;
                    return a.location(file, decl).map(GotoDefinitionResponse::Scalar);
                }
                let name = query::name_at(text, offset)?;
                let (f, span, _, _) = query::definition_of(a, name)?;
                a.location(f, span).map(GotoDefinitionResponse::Scalar)
            })
            .flatten())
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        Ok(self
            .with_doc(&p.text_document.uri, |a, file| {
                let text = a.text(file);
                let offset = offset_at(text, p.position);
                if let Some(param) = query::param_at(a, file, offset) {
                    let places: Vec<_> = (query::param_places(&param).into_iter())
                        .map(|s| (file, s))
                        .collect();
                    return Some(query::locations(a, &places));
                }
                let name = query::name_at(text, offset)?;
                query::definition_of(a, name)?;
                Some(query::locations(a, &query::references(a, name)))
            })
            .flatten())
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        Ok(self
            .with_doc(&params.text_document.uri, |a, file| {
                let text = a.text(file);
                let new = ward_compiler::syntax::format::format(file, text).ok()?;
                if new == text {
                    return Some(Vec::new());
                }
                let end = analysis::position_at(text, text.len());
                Some(vec![TextEdit {
                    range: Range::new(Position::new(0, 0), end),
                    new_text: new,
                }])
            })
            .flatten())
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        Ok(self.with_doc(&params.text_document.uri, |a, file| {
            SemanticTokensResult::Tokens(SemanticTokens {
                result_id: None,
                data: query::semantic_tokens(a, file),
            })
        }))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let u = params.text_document.uri.clone();
        Ok(self.with_doc(&params.text_document.uri, |a, file| {
            query::code_actions(a, file, &u, params.range)
        }))
    }
}

/// Serves the protocol on stdin/stdout until the client exits.
pub fn run() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (stdin, stdout) = (tokio::io::stdin(), tokio::io::stdout());
        let (service, socket) = LspService::new(Backend::new);
        Server::new(stdin, stdout, socket).serve(service).await;
    });
    Ok(())
}
