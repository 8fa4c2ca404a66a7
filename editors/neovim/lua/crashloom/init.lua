-- Crashloom for Neovim: commands on top of the language server.
--   :Crashloom crashes      every crash diagnostic of the workspace into the quickfix list
--   :Crashloom investigate  investigate the crash under the cursor (progress via LspProgress)
--   :Crashloom report       open the crash report of the crash under the cursor
--   :Crashloom fix          show the validated fix as a diff in a split, apply it when confirmed
--   :Crashloom showfix      open the fix (validated or not) as a diff file
local M = {}

M.name = 'crashloom'

--- Asks before a fix is applied; returns true to apply. Replaceable (tests, or a UI plugin).
function M.confirm(message)
  return vim.fn.confirm(message, '&Apply\n&Cancel', 2) == 1
end

--- How progress is shown; defaults to vim.notify.
function M.notify(message, level)
  vim.notify(message, level or vim.log.levels.INFO, { title = 'Crashloom' })
end

local function client_for(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = M.name })[1] or vim.lsp.get_clients({ name = M.name })[1]
end

--- Crash diagnostics (Neovim's, with the server's data) of every buffer, or one.
local function crash_diagnostics(bufnr)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == 'crashloom' then
      table.insert(out, d)
    end
  end
  return out
end

local function data_of(d)
  return vim.tbl_get(d, 'user_data', 'lsp', 'data') or {}
end

--- The crash group under the cursor: the crash diagnostic on the cursor line, errors first.
local function group_at_cursor()
  local bufnr = vim.api.nvim_get_current_buf()
  local line = vim.api.nvim_win_get_cursor(0)[1] - 1
  local best
  for _, d in ipairs(crash_diagnostics(bufnr)) do
    if d.lnum == line and (not best or d.severity < best.severity) then
      best = d
    end
  end
  if not best then
    return nil
  end
  local data = data_of(best)
  return data.group, data.shortId or best.code
end

function M.crashes()
  local items = {}
  for _, d in ipairs(crash_diagnostics(nil)) do
    local data = data_of(d)
    table.insert(items, {
      bufnr = d.bufnr,
      lnum = d.lnum + 1,
      col = d.col + 1,
      type = d.severity == vim.diagnostic.severity.ERROR and 'E' or 'I',
      text = string.format('[%s] %s', data.shortId or d.code or '?', vim.split(d.message, '\n')[1]),
    })
  end
  table.sort(items, function(a, b)
    if a.type ~= b.type then
      return a.type == 'E'
    end
    local fa, fb = vim.api.nvim_buf_get_name(a.bufnr), vim.api.nvim_buf_get_name(b.bufnr)
    if fa ~= fb then
      return fa < fb
    end
    return a.lnum < b.lnum
  end)
  vim.fn.setqflist({}, ' ', { title = 'Crashloom crashes', items = items })
  if #items == 0 then
    M.notify('Crashloom: no crashes in this workspace', vim.log.levels.WARN)
  else
    vim.cmd('copen')
  end
  return items
end

local function run(command, done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    M.notify('Crashloom: the server is not running for this buffer', vim.log.levels.ERROR)
    return
  end
  local group, short_id = group_at_cursor()
  if not group then
    M.notify('Crashloom: no crash on this line', vim.log.levels.WARN)
    return
  end
  client:request('workspace/executeCommand', { command = command, arguments = { group } }, function(err, result)
    if err then
      M.notify('Crashloom: ' .. err.message, vim.log.levels.ERROR)
    elseif done then
      done(result, short_id)
    end
  end, bufnr)
end

function M.investigate()
  -- The agents' steps and the verdict arrive as progress (see M.setup_progress); errors as
  -- window/showMessage.
  run('crashloom.investigate')
end

function M.report()
  run('crashloom.showReport')
end

function M.show_fix()
  run('crashloom.showFix')
end

function M.fix()
  run('crashloom.applyFix', function(result)
    if type(result) == 'table' and result.applied == false and result.reason ~= vim.NIL then
      M.notify('Crashloom: the fix was not applied (' .. tostring(result.reason) .. ')', vim.log.levels.WARN)
    end
  end)
end

--- workspace/applyEdit for Crashloom: each changed file opens in a new tab as a diff against the
--- text with the fix, then M.confirm decides.
function M.apply_edit(_, params, ctx)
  local client = assert(vim.lsp.get_client_by_id(ctx.client_id))
  local tabs = {}
  local files = {}
  for uri, edits in pairs(params.edit.changes or {}) do
    local bufnr = vim.uri_to_bufnr(uri)
    vim.fn.bufload(bufnr)
    local scratch = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(scratch, 0, -1, false, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
    vim.lsp.util.apply_text_edits(edits, scratch, client.offset_encoding)
    vim.bo[scratch].filetype = vim.bo[bufnr].filetype
    local name = vim.fn.fnamemodify(vim.uri_to_fname(uri), ':~:.')
    pcall(vim.api.nvim_buf_set_name, scratch, 'crashloom-fix://' .. name)
    vim.cmd('tab sbuffer ' .. bufnr)
    vim.cmd('diffthis')
    vim.cmd('vertical rightbelow sbuffer ' .. scratch)
    vim.cmd('diffthis')
    table.insert(tabs, vim.api.nvim_get_current_tabpage())
    table.insert(files, name)
  end
  vim.cmd('redraw')
  local apply = M.confirm(string.format('Apply %s to %s?', params.label or 'the validated fix', table.concat(files, ', ')))
  for _, tab in ipairs(tabs) do
    if vim.api.nvim_tabpage_is_valid(tab) then
      for _, win in ipairs(vim.api.nvim_tabpage_list_wins(tab)) do
        vim.api.nvim_win_call(win, function()
          vim.cmd('diffoff')
        end)
      end
      vim.cmd('tabclose ' .. vim.api.nvim_tabpage_get_number(tab))
    end
  end
  if not apply then
    return { applied = false, failureReason = 'the user declined the fix in the preview' }
  end
  vim.lsp.util.apply_workspace_edit(params.edit, client.offset_encoding)
  return { applied = true }
end

local progress_group = vim.api.nvim_create_augroup('crashloom-progress', { clear = true })
local titles = {}

--- Server progress (an investigation's agent steps) shown with vim.notify.
function M.setup_progress()
  vim.api.nvim_clear_autocmds({ group = progress_group })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = progress_group,
    callback = function(event)
      local client = vim.lsp.get_client_by_id(event.data.client_id)
      if not client or client.name ~= M.name then
        return
      end
      local token = tostring(event.data.params.token)
      local value = event.data.params.value
      if value.kind == 'begin' then
        titles[token] = value.title
        M.notify(string.format('%s: %s', value.title, value.message or ''))
      elseif value.kind == 'report' then
        local percentage = value.percentage and string.format(' (%d%%)', value.percentage) or ''
        M.notify(string.format('%s%s: %s', titles[token] or 'Crashloom', percentage, value.message or ''))
      elseif value.kind == 'end' then
        M.notify(value.message or ((titles[token] or 'Crashloom') .. ': done'))
        titles[token] = nil
      end
    end,
  })
end

local subcommands = {
  crashes = M.crashes,
  investigate = M.investigate,
  report = M.report,
  fix = M.fix,
  showfix = M.show_fix,
}

function M.command(args)
  local sub = subcommands[args.fargs[1] or '']
  if not sub then
    M.notify('Crashloom: :Crashloom ' .. table.concat(vim.tbl_keys(subcommands), '|'), vim.log.levels.ERROR)
    return
  end
  sub()
end

function M.complete(lead)
  return vim.tbl_filter(function(name)
    return name:find(lead, 1, true) == 1
  end, vim.tbl_keys(subcommands))
end

return M
