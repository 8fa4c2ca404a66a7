" Crashloom for Vim with ALE: where a Crashloom workspace begins, and the linter definition.

" The nearest folder at or above the buffer's file with crashloom.toml or .crashloom/, or ''.
function! crashloom#Root(buffer) abort
  let l:dir = fnamemodify(bufname(a:buffer), ':p:h')
  let l:candidates = []
  let l:file = findfile('crashloom.toml', l:dir . ';')
  if !empty(l:file)
    call add(l:candidates, fnamemodify(l:file, ':p:h'))
  endif
  let l:folder = finddir('.crashloom', l:dir . ';')
  if !empty(l:folder)
    call add(l:candidates, fnamemodify(l:folder, ':p:h:h'))
  endif
  if empty(l:candidates)
    return ''
  endif
  " The innermost of the two.
  return sort(l:candidates, {a, b -> len(b) - len(a)})[0]
endfunction

function! crashloom#Executable(buffer) abort
  return get(g:, 'crashloom_program', 'crashloom')
endfunction

" Settings sent to the server: the keys of crashloom.toml, e.g. {'diagnostics': {'frames': v:false}}.
function! crashloom#InitializationOptions(buffer) abort
  return get(g:, 'crashloom_settings', {})
endfunction

" Defines the `crashloom` LSP linter for each filetype of g:crashloom_filetypes.
function! crashloom#DefineLinters() abort
  for l:filetype in get(g:, 'crashloom_filetypes', ['python', 'javascript', 'typescript', 'rust', 'go', 'java', 'kotlin', 'scala', 'cs', 'ruby', 'php'])
    call ale#linter#Define(l:filetype, {
    \   'name': 'crashloom',
    \   'lsp': 'stdio',
    \   'executable': function('crashloom#Executable'),
    \   'command': '%e lsp',
    \   'project_root': function('crashloom#Root'),
    \   'initialization_options': function('crashloom#InitializationOptions'),
    \})
  endfor
endfunction
