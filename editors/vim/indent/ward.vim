" Vim indent file
" Language: Ward detection rules (*.ward)
" One level inside `{ }` and `[ ]`; other lines keep the indent of the line
" above (continuation lines of a condition are aligned by hand).

if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent nosmartindent nocindent
setlocal indentexpr=WardIndent(v:lnum)
setlocal indentkeys=0},0],!^F,o,O

let b:undo_indent = 'setlocal autoindent< smartindent< cindent< indentexpr< indentkeys<'

if exists('*WardIndent')
  finish
endif

" The line without a trailing comment or string contents, for brace counting.
function! s:Code(lnum) abort
  let line = getline(a:lnum)
  let line = substitute(line, 'r"[^"]*"', '""', 'g')
  let line = substitute(line, '"\%([^"\\]\|\\.\)*"', '""', 'g')
  return substitute(line, '#.*$', '', '')
endfunction

function! WardIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let ind = indent(prev)
  let code = s:Code(prev)
  let opened = len(substitute(code, '[^{[]', '', 'g'))
  let closed = len(substitute(code, '[^]}]', '', 'g'))
  " Closing brackets that start the line already dedented it.
  let closed -= len(matchstr(code, '^\s*\zs[]}]*'))
  if opened > closed
    let ind += shiftwidth()
  elseif opened < closed
    let ind -= shiftwidth()
  endif
  if getline(a:lnum) =~# '^\s*[]}]'
    let ind -= shiftwidth()
  endif
  return ind < 0 ? 0 : ind
endfunction
