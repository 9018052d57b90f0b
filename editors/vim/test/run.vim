" Headless test of the Ward Vim files; run by editors/vim/test.sh as
"   vim -Nu NONE -i NONE -es --cmd 'set rtp^=editors/vim' -S test/run.vim
" Environment:
"   WARD_VIM_DIR    editors/vim (the plugin under test)
"   WARD_VIM_FILES  a file listing real .ward files to check, one per line
"   WARD_VIM_OUT    where to write the report
" Exits 0 when every check passes, 1 otherwise.

let s:dir = $WARD_VIM_DIR
let s:failures = []
let s:report = []
" Groups that mark text the checker rejects, and metadata keys it does not
" know (in a real rule file that means the highlighter misread a line).
let s:unexpected = ['wardEscapeError', 'wardSeverityError', 'wardUnclosedBrace',
      \ 'wardBadOperator', 'wardMetaKeyUnknown']
" Regions whose own group, on a non-blank character, means nothing inside
" claimed it.
let s:containers = ['wardRuleBody', 'wardCount', 'wardSequence', 'wardTagList',
      \ 'wardInterpolation', 'wardRawInterpolation']

function! s:Fail(msg) abort
  call add(s:failures, a:msg)
endfunction

function! s:GroupAt(lnum, col) abort
  return synIDattr(synID(a:lnum, a:col, 1), 'name')
endfunction

filetype plugin indent on
syntax on

" ---- file type, plugin, syntax ------------------------------------------------
execute 'edit' fnameescape(s:dir . '/test/syntax.ward')
if &filetype !=# 'ward'
  call s:Fail('filetype of syntax.ward is "' . &filetype . '", not "ward"')
endif
if get(b:, 'current_syntax', '') !=# 'ward'
  call s:Fail('syntax/ward.vim was not loaded')
endif
if &commentstring !=# '# %s'
  call s:Fail('commentstring is "' . &commentstring . '"')
endif
if &comments !=# ':#'
  call s:Fail('comments is "' . &comments . '"')
endif
if &indentexpr !~# 'WardIndent'
  call s:Fail('indentexpr is "' . &indentexpr . '"')
endif

" ---- scope assertions in test/syntax.ward -------------------------------------
let s:asserted = 0
let s:groups = {}
let s:code = 0
for s:lnum in range(1, line('$'))
  let s:line = getline(s:lnum)
  let s:up = matchlist(s:line, '^#\(\s*\)\(\^\+\)\s\+\(\S\+\)\s*$')
  let s:left = matchlist(s:line, '^# <\(-\+\)\s\+\(\S\+\)\s*$')
  if empty(s:up) && empty(s:left)
    if s:line =~# '^#\s*\^\|^#\s*<-'
      call s:Fail('syntax.ward:' . s:lnum . ': malformed assertion')
    endif
    let s:code = s:lnum
    continue
  endif
  if empty(s:up)
    let [s:from, s:to, s:want] = [1, len(s:left[1]), s:left[2]]
  else
    let s:from = 2 + len(s:up[1])
    let [s:to, s:want] = [s:from + len(s:up[2]) - 1, s:up[3]]
  endif
  let s:groups[s:want] = 1
  for s:col in range(s:from, s:to)
    let s:asserted += 1
    let s:got = s:GroupAt(s:code, s:col)
    if s:got !=# (s:want ==# 'NONE' ? '' : s:want)
      call s:Fail(printf('syntax.ward:%d:%d: %s expected, got %s  (%s)', s:code, s:col,
            \ s:want, s:got ==# '' ? 'no group' : s:got, getline(s:code)))
    endif
  endfor
endfor
call add(s:report, printf('syntax.ward: %d characters asserted, %d groups', s:asserted, len(s:groups)))

" Every group the syntax file defines is asserted somewhere.
let s:defined = {}
for s:l in readfile(s:dir . '/syntax/ward.vim')
  for s:g in [matchstr(s:l, '^\s*\%(execute\s\+''\)\=syn\s\+\%(keyword\|match\|region\)\s\+\zsward\w\+'),
        \ matchstr(s:l, 'matchgroup=\zsward\w\+')]
    if s:g !=# ''
      let s:defined[s:g] = 1
    endif
  endfor
endfor
for s:g in sort(keys(s:defined))
  if !has_key(s:groups, s:g) && index(s:unexpected, s:g) < 0
    call s:Fail('group ' . s:g . ' is defined but never asserted in test/syntax.ward')
  endif
endfor

" ---- indent -------------------------------------------------------------------
execute 'edit' fnameescape(s:dir . '/test/indent.ward')
let s:expected = getline(1, '$')
silent %s/^\s\+//e
silent normal! gg=G
let s:got = getline(1, '$')
for s:i in range(len(s:expected))
  if s:got[s:i] !=# s:expected[s:i]
    call s:Fail(printf('indent.ward:%d: expected %s, got %s', s:i + 1,
          \ string(s:expected[s:i]), string(s:got[s:i])))
  endif
endfor
call add(s:report, printf('indent.ward: %d lines re-indented', len(s:expected)))
bwipeout!

" ---- real rule files: nothing unhighlighted or unexpected ----------------------
let s:checked = 0
let s:lines = 0
for s:file in readfile($WARD_VIM_FILES)
  if s:file ==# ''
    continue
  endif
  execute 'edit' fnameescape(s:file)
  if &filetype !=# 'ward' || get(b:, 'current_syntax', '') !=# 'ward'
    call s:Fail(s:file . ': not detected as ward')
  endif
  let s:checked += 1
  for s:lnum in range(1, line('$'))
    let s:lines += 1
    let s:text = getline(s:lnum)
    for s:col in range(1, len(s:text))
      if s:text[s:col - 1] =~# '\s'
        continue
      endif
      let s:got = s:GroupAt(s:lnum, s:col)
      if s:got ==# '' || index(s:containers, s:got) >= 0
        call s:Fail(printf('%s:%d:%d: not highlighted (%s)  %s', s:file, s:lnum, s:col,
              \ s:got ==# '' ? 'no group' : s:got, s:text))
        break
      elseif index(s:unexpected, s:got) >= 0
        call s:Fail(printf('%s:%d:%d: %s  %s', s:file, s:lnum, s:col, s:got, s:text))
        break
      endif
    endfor
  endfor
  bwipeout!
endfor
call add(s:report, printf('ward files (rules/ and markdown blocks): %d files, %d lines checked', s:checked, s:lines))
if s:checked == 0
  call s:Fail('no rule files were checked')
endif

call writefile(s:report + s:failures + [len(s:failures) . ' failures'], $WARD_VIM_OUT)
if empty(s:failures)
  qall!
endif
cquit!
