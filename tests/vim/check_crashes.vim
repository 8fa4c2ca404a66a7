" Drives a real Vim with ALE and the shipped Crashloom config: opens a file of a copy of the
" example workspace, waits for ALE's crash diagnostics, and writes what ALE holds to $OUT as JSON.
set nocompatible
filetype plugin on
let &runtimepath = '/usr/share/vim-ale,' . &runtimepath . ',' . $REPO . '/editors/vim'
runtime plugin/ale.vim
runtime plugin/crashloom.vim
let g:crashloom_program = $CRASHLOOM_BIN
let g:ale_linters = {'python': ['crashloom']}
let g:ale_linters_explicit = 1
let g:ale_lint_on_enter = 1

let s:result = {'errors': [], 'root_elsewhere': crashloom#Root(bufnr($ELSEWHERE . '/x.py', 1))}
try
  execute 'edit ' . fnameescape($WORKSPACE . '/shop/orders.py')
  let s:result.root = crashloom#Root(bufnr('%'))
  ALELint
  let s:waited = 0
  while len(ale#engine#GetLoclist(bufnr('%'))) < 5 && s:waited < 200
    sleep 100m
    let s:waited += 1
  endwhile
  let s:result.diagnostics = map(copy(ale#engine#GetLoclist(bufnr('%'))),
  \ {_, d -> {'lnum': d.lnum, 'type': d.type, 'text': d.text, 'linter': d.linter_name}})
catch
  call add(s:result.errors, v:exception)
endtry
call writefile([json_encode(s:result)], $OUT)
qall!
