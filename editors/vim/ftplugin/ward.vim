" Vim filetype plugin
" Language: Ward detection rules (*.ward)

if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

setlocal comments=:#
setlocal commentstring=#\ %s
" Continue comments on <Enter> and `o`, wrap them at 'textwidth'.
setlocal formatoptions-=t formatoptions+=croql
" A word is a name: `w` stops at the `.` of a path and the `-` of a rule name.
setlocal iskeyword=a-z,A-Z,48-57,_
setlocal expandtab shiftwidth=2 softtabstop=2
setlocal suffixesadd=.ward
" `[I` and friends follow imports; `gf` on an import path opens the file.
setlocal include=^\\s*import\\s\\+\"

let b:undo_ftplugin = 'setlocal comments< commentstring< formatoptions< iskeyword<'
      \ . ' expandtab< shiftwidth< softtabstop< suffixesadd< include<'

let &cpo = s:cpo_save
unlet s:cpo_save
