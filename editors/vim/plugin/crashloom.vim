" Crashloom for Vim 9 with ALE (Debian: apt install vim vim-ale). In your vimrc:
"   packadd! ale
"   set runtimepath+=/path/to/crashloom/editors/vim
"   let g:crashloom_program = '/path/to/crashloom'   " when not on PATH
"   let g:ale_linters = {'python': ['crashloom']}    " or add 'crashloom' to your list
" Crash sites show as ALE errors, calling frames as info; :ALEHover shows the crash and
" :ALECodeAction offers "Investigate crash" and the rest.
if exists('g:loaded_crashloom')
  finish
endif
let g:loaded_crashloom = 1

if exists('*ale#linter#Define') || !empty(globpath(&runtimepath, 'autoload/ale/linter.vim'))
  call crashloom#DefineLinters()
endif
