-- Crashloom for Neovim 0.11+: production crashes as diagnostics, hover and code lenses.
--
-- Put this folder on the runtime path and enable the server:
--   vim.opt.runtimepath:append('/path/to/crashloom/editors/neovim')
--   vim.lsp.enable('crashloom')
-- Override anything with vim.lsp.config('crashloom', { cmd = { '/path/to/crashloom', 'lsp' } }).

---@type vim.lsp.Config
return {
  cmd = { 'crashloom', 'lsp' },
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'rust', 'go',
    'java', 'kotlin', 'scala', 'cs', 'ruby', 'php',
  },
  root_markers = { 'crashloom.toml', '.crashloom', '.git' },
  -- Same keys as crashloom.toml, e.g. { diagnostics = { frames = false } }.
  init_options = vim.empty_dict(),
  handlers = {
    -- "Apply validated fix" shows the change as a diff in a split and asks first.
    ['workspace/applyEdit'] = function(err, params, ctx)
      return require('crashloom').apply_edit(err, params, ctx)
    end,
  },
}
