-- :checkhealth crashloom
local M = {}

function M.check()
  local health = vim.health
  health.start('Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Crashloom needs Neovim 0.11 or newer (vim.lsp.config)')
    return
  end

  health.start('Server')
  local config = vim.lsp.config.crashloom
  local cmd = config and config.cmd
  if type(cmd) ~= 'table' or not cmd[1] then
    health.error('no crashloom config: put editors/neovim on the runtimepath and vim.lsp.enable("crashloom")')
    return
  end
  local program = vim.fn.exepath(cmd[1])
  if program == '' then
    health.error(cmd[1] .. ' is not an executable', {
      'Build it with cargo build --release, put it on PATH,',
      "or vim.lsp.config('crashloom', { cmd = { '/path/to/crashloom', 'lsp' } })",
    })
    return
  end
  local version = vim.system({ program, '--version' }, { text = true }):wait(5000)
  if version.code == 0 then
    health.ok(program .. ': ' .. vim.trim(version.stdout))
  else
    health.error(program .. ' --version failed: ' .. vim.trim(version.stderr or ''))
  end
  if vim.lsp.is_enabled and not vim.lsp.is_enabled('crashloom') then
    health.warn('crashloom is configured but not enabled', { "vim.lsp.enable('crashloom')" })
  end

  health.start('Workspace')
  local root = vim.fs.root(0, config.root_markers or { 'crashloom.toml', '.crashloom' })
  if root then
    health.ok('workspace root: ' .. root)
  else
    health.info('the current buffer is not inside a folder with crashloom.toml or .crashloom/')
  end
  local clients = vim.lsp.get_clients({ name = 'crashloom' })
  if #clients > 0 then
    local crashes = 0
    for _, d in ipairs(vim.diagnostic.get(nil)) do
      if d.source == 'crashloom' then
        crashes = crashes + 1
      end
    end
    health.ok(string.format('%d crashloom server(s) running; %d crash diagnostics', #clients, crashes))
  else
    health.info('no crashloom server running (open a file of a workspace with crashes)')
  end
end

return M
