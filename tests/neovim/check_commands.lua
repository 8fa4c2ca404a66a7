-- Drives a real headless Neovim with the shipped plugin: :Crashloom crashes on the shop, its
-- TypeError investigated (the fix is NOT validated, so nothing offers to apply it); then the Go
-- ledger's panic investigated (with the progress it shows), report, fix (declined, then accepted,
-- with the diff split seen at the question); and :checkhealth crashloom with a working and a
-- missing server. Writes what it saw to $OUT as JSON.
local repo = assert(os.getenv('REPO'))
local workspace = assert(os.getenv('WORKSPACE'))
local ledger_dir = assert(os.getenv('LEDGER'))
local out = assert(os.getenv('OUT'))

vim.cmd('filetype on')
vim.opt.runtimepath:append(repo .. '/editors/neovim')
vim.cmd('runtime plugin/crashloom.lua')
vim.lsp.config('crashloom', { cmd = { assert(os.getenv('CRASHLOOM_BIN')), 'lsp' } })
vim.lsp.enable('crashloom')

local crashloom = require('crashloom')
local result = { notes = {}, errors = {}, questions = {} }
crashloom.notify = function(message)
  table.insert(result.notes, message)
end
local answers = {}
crashloom.confirm = function(message)
  local diff_windows, fixed = 0, nil
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.wo[win].diff then
      diff_windows = diff_windows + 1
      local buf = vim.api.nvim_win_get_buf(win)
      if vim.api.nvim_buf_get_name(buf):find('crashloom-fix://', 1, true) then
        fixed = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
      end
    end
  end
  table.insert(result.questions, { message = message, diff_windows = diff_windows, fixed = fixed })
  return table.remove(answers, 1)
end

local function finish()
  local file = assert(io.open(out, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd('qa!')
end

local function buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

--- The titles of the code actions the server offers on a (0-based) line of a buffer.
local function action_titles(buf, line)
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf, { lnum = line })) do
    if d.source == 'crashloom' then
      table.insert(diagnostics, d.user_data.lsp)
    end
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = line, character = 0 }, ['end'] = { line = line, character = 0 } },
    context = { diagnostics = diagnostics },
  }
  local titles = {}
  for _, response in pairs(vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, 10000) or {}) do
    for _, action in ipairs(response.result or {}) do
      table.insert(titles, action.title)
    end
  end
  return titles
end

local function health()
  vim.cmd('checkhealth crashloom')
  local text = buffer_text(0)
  vim.cmd('bwipeout!')
  return text
end

local ok, err = pcall(function()
  vim.cmd('edit ' .. vim.fn.fnameescape(workspace .. '/shop/orders.py'))
  local orders = vim.api.nvim_get_current_buf()
  assert(vim.wait(20000, function()
    return #vim.diagnostic.get(orders) >= 5
  end, 50), 'diagnostics did not arrive')

  -- Before an investigation: no report.
  vim.api.nvim_win_set_cursor(0, { 26, 4 })
  vim.cmd('Crashloom report')
  assert(vim.wait(5000, function()
    return #result.notes > 0
  end, 50), 'no answer to :Crashloom report')
  result.report_before = result.notes[#result.notes]

  vim.cmd('Crashloom crashes')
  result.quickfix = {}
  for _, item in ipairs(vim.fn.getqflist()) do
    table.insert(result.quickfix, {
      file = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(item.bufnr), ':t'),
      lnum = item.lnum,
      type = item.type,
      text = item.text,
    })
  end
  result.quickfix_open = vim.fn.getqflist({ winid = 0 }).winid ~= 0
  vim.cmd('cclose')

  vim.api.nvim_set_current_buf(orders)
  vim.api.nvim_win_set_cursor(0, { 4, 0 })
  local before = #result.notes
  vim.cmd('Crashloom investigate')
  result.investigate_elsewhere = result.notes[before + 1]

  -- The shop's TypeError: the offline fix turns it into OrderError, so it is NOT validated, and
  -- nothing offers to apply it.
  vim.api.nvim_win_set_cursor(0, { 26, 4 })
  vim.cmd('Crashloom investigate')
  assert(vim.wait(240000, function()
    return vim.iter(result.notes):any(function(n)
      return n:find('^Crash CL%-54E9F7: ') ~= nil
    end)
  end, 100), 'the shop investigation did not finish')
  assert(vim.wait(5000, function()
    return vim.api.nvim_buf_get_name(0):find('CL%-54E9F7%.md$') ~= nil
  end, 50), 'the shop report did not open')
  result.shop_report_first_line = vim.api.nvim_buf_get_lines(0, 0, 1, false)[1]
  vim.cmd('buffer ' .. orders)
  vim.api.nvim_win_set_cursor(0, { 26, 4 })
  result.shop_titles = action_titles(orders, 25)
  local before_fix = #result.notes
  vim.cmd('Crashloom fix')
  assert(vim.wait(10000, function()
    return #result.notes > before_fix
  end, 50), 'no answer to :Crashloom fix on the shop')
  result.shop_fix_note = result.notes[before_fix + 1]
  result.shop_questions = #result.questions
  result.shop_after_fix = buffer_text(orders)

  -- The Go ledger: its nil-map panic gets a validated fix.
  vim.cmd('edit ' .. vim.fn.fnameescape(ledger_dir .. '/ledger.go'))
  local ledger = vim.api.nvim_get_current_buf()
  assert(vim.wait(20000, function()
    return vim.iter(vim.diagnostic.get(ledger)):any(function(d)
      return d.source == 'crashloom' and d.lnum == 30
    end)
  end, 50), 'no crash diagnostic in ledger.go')
  local crash = vim.iter(vim.diagnostic.get(ledger)):find(function(d)
    return d.source == 'crashloom' and d.lnum == 30
  end)
  local short_id = crash.code
  result.ledger_crash = { lnum = crash.lnum, code = crash.code, message = crash.message }
  result.ledger_titles_before = action_titles(ledger, 30)
  vim.api.nvim_win_set_cursor(0, { 31, 1 })
  local ledger_notes = #result.notes
  vim.cmd('Crashloom investigate')
  local done = vim.wait(240000, function()
    return vim.iter(result.notes):any(function(n)
      return n:find('^Crash ' .. vim.pesc(short_id) .. ': ') ~= nil
    end)
  end, 100)
  assert(done, 'the ledger investigation did not finish')
  result.ledger_notes = vim.list_slice(result.notes, ledger_notes + 1)
  local report_name = short_id .. '.md'
  assert(vim.wait(5000, function()
    return vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':t') == report_name
  end, 50), 'the report did not open')
  result.report_opened = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':t')
  result.report_first_line = vim.api.nvim_buf_get_lines(0, 0, 1, false)[1]

  vim.cmd('enew')
  vim.cmd('buffer ' .. ledger)
  vim.api.nvim_win_set_cursor(0, { 31, 1 })
  vim.cmd('Crashloom report')
  assert(vim.wait(5000, function()
    return vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':t') == report_name
  end, 50), ':Crashloom report did not open the report')

  vim.cmd('buffer ' .. ledger)
  result.ledger_titles_after = action_titles(ledger, 30)
  vim.api.nvim_win_set_cursor(0, { 31, 1 })
  answers = { false }
  vim.cmd('Crashloom fix')
  assert(vim.wait(60000, function()
    return #result.questions == 1
  end, 50), 'no diff preview')
  vim.wait(500)
  result.after_decline = buffer_text(ledger)
  result.tabs_after_decline = #vim.api.nvim_list_tabpages()

  vim.api.nvim_set_current_buf(ledger)
  vim.api.nvim_win_set_cursor(0, { 31, 1 })
  answers = { true }
  vim.cmd('Crashloom fix')
  assert(vim.wait(60000, function()
    return buffer_text(ledger):find('balances: make(map[string]int64)', 1, true) ~= nil
  end, 50), 'the fix was not applied')
  result.after_accept = buffer_text(ledger)

  result.health_ok = health()
  vim.lsp.config('crashloom', { cmd = { workspace .. '/no-such-crashloom', 'lsp' } })
  result.health_missing = health()
end)
if not ok then
  table.insert(result.errors, tostring(err))
end
finish()
