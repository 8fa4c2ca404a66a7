-- :Crashloom {crashes|investigate|report|fix|showfix}, and progress of the Crashloom server.
if vim.g.loaded_crashloom then
  return
end
vim.g.loaded_crashloom = true

vim.api.nvim_create_user_command('Crashloom', function(args)
  require('crashloom').command(args)
end, {
  nargs = 1,
  complete = function(lead)
    return require('crashloom').complete(lead)
  end,
  desc = 'Crashloom: crashes, investigate, report, fix, showfix',
})
require('crashloom').setup_progress()
