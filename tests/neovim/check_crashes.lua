-- Drives a real headless Neovim with the shipped Crashloom config: opens a file of the example
-- workspace, waits for the crash diagnostics, asks for a hover, and writes what Neovim holds to
-- $OUT as JSON for the test to check.
local repo = assert(os.getenv('REPO'))
local workspace = assert(os.getenv('WORKSPACE'))
local out = assert(os.getenv('OUT'))

vim.opt.runtimepath:append(repo .. '/editors/neovim')
vim.lsp.config('crashloom', { cmd = { assert(os.getenv('CRASHLOOM_BIN')), 'lsp' } })
vim.lsp.enable('crashloom')

local result = { diagnostics = {}, hover = nil, errors = {} }
local function finish()
  local file = assert(io.open(out, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  vim.cmd('edit ' .. vim.fn.fnameescape(workspace .. '/shop/orders.py'))
  local buf = vim.api.nvim_get_current_buf()
  local attached = vim.wait(20000, function()
    return #vim.lsp.get_clients({ bufnr = buf, name = 'crashloom' }) > 0
  end, 50)
  if not attached then
    table.insert(result.errors, 'crashloom never attached')
    return
  end
  local got = vim.wait(20000, function()
    return #vim.diagnostic.get(buf) >= 5
  end, 50)
  if not got then
    table.insert(result.errors, 'diagnostics did not arrive')
  end
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(result.diagnostics, { lnum = d.lnum, col = d.col, severity = d.severity, message = d.message, source = d.source })
  end
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'crashloom' })[1]
  local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 25, character = 10 } }
  local response = client:request_sync('textDocument/hover', params, 10000, buf)
  if response and response.result then
    result.hover = response.result.contents.value
  else
    table.insert(result.errors, 'no hover: ' .. vim.inspect(response))
  end
end)
if not ok then
  table.insert(result.errors, tostring(err))
end
finish()
