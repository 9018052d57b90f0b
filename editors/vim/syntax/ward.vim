" Vim syntax file
" Language:    Ward detection rules (*.ward)
" Maintainer:  the Ward project
" The grammar of record is compiler/src/syntax/ward.pest; this file follows it
" line by line for highlighting. Group names are checked by editors/vim/test.sh.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword a-z,A-Z,48-57,_
" Rule files are small and regions (rule bodies, raw strings) span lines.
syn sync fromstart

" Reserved words: never a name, but may follow a `.` in a path.
let s:reserved = 'and\|or\|not\|in\|is\|null\|true\|false\|any\|all\|exists\|cidr\|'
      \ . 'icontains\|contains\|istartswith\|startswith\|iendswith\|endswith\|'
      \ . 'iglob\|glob\|imatches\|matches\|iequals\|equals'
let s:clause = 'when\|except\|output\|count\|sequence\|source'
let s:not_reserved = '\%(\%(' . s:reserved . '\)\>\)\@!'
" What may follow a metadata key: a string, a tag list or a word.
let s:value_ahead = '\ze\s\+\%(r\="\|\[\|\%(true\|false\)\>\|' . s:not_reserved . '\h\)'
" Not inside a name or after the `.` of a path.
let s:word_start = '\%([[:alnum:]_.]\)\@1<!'
" Right after a path: a name, a quoted segment or an index.
let s:after_path = '\%([[:alnum:]_"\]]\)\@1<='

" ---- comments ----------------------------------------------------------------
syn keyword wardTodo TODO FIXME XXX NOTE contained
syn match wardComment "#.*$" contains=wardTodo,@Spell

" ---- paths (lowest priority: defined first) ----------------------------------
execute 'syn match wardField "' . s:word_start . s:not_reserved . '\h\w*"'
execute 'syn match wardMember "' . s:after_path . '\.\h\w*"'
execute 'syn region wardQuotedSegment start=+' . s:after_path . '\."+ skip=+\\\\\|\\"+ end=+"\|$+ contains=wardEscape,wardEscapeError'
syn match wardDelimiter "[][(),:]"
" Not after an operator word: in `x in[1]` the `[` opens a list.
execute 'syn match wardIndex "' . s:after_path
      \ . '\%(\%(^\|[^[:alnum:]_.]\)\%(' . s:reserved . '\)\)\@<!\[-\=\d\+\]"'

" ---- calls -------------------------------------------------------------------
" A function's name right before `(` (spec/language.md, "Derived values");
" alone, the same word is a name.
execute 'syn match wardFunction "' . s:word_start
      \ . '\%(lower\|upper\|len\|registry\|repository\|tag\|digest\|query\|is_private\|is_loopback\|base64\|keys\|values\)\ze("'

" ---- literals ----------------------------------------------------------------
syn match wardEscapeError +\\.\=+ contained
syn match wardEscape +\\\%(["\\nrt]\|u{\x\{1,6}}\)+ contained
syn region wardString start=+"+ skip=+\\\\\|\\"+ end=+"\|$+ contains=wardEscape,wardEscapeError
execute 'syn region wardRawString start=+' . s:word_start . 'r"+ end=+"+'
execute 'syn match wardNumber "' . s:word_start . '-\=\d\+\%(\w\)\@!"'
execute 'syn match wardFloat "' . s:word_start . '-\=\d\+\.\d\+\%(\w\)\@!"'
execute 'syn match wardDuration "' . s:word_start . '\d\+\%(ms\|s\|m\|h\|d\)\%(\w\)\@!"'
syn keyword wardBoolean true false
syn keyword wardNull null

" ---- operators -----------------------------------------------------------------
syn match wardBadOperator "&&\|||\|=\|!"
syn match wardComparison "==\|!=\|<=\|>=\|<\|>"
syn keyword wardOperator and or not in is exists cidr
" `contains` is an argument of :syn keyword, so the string tests are a match.
execute 'syn match wardOperator "' . s:word_start
      \ . '\%(icontains\|contains\|istartswith\|startswith\|iendswith\|endswith\|iglob\|glob\|imatches\|matches\|iequals\|equals\)\>"'
syn keyword wardQuantifier any all nextgroup=wardBoundVariable skipwhite
execute 'syn match wardBoundVariable "' . s:not_reserved . '\h\w*" contained'

syn cluster wardPath contains=wardField,wardMember,wardQuotedSegment,wardIndex
syn cluster wardExpr contains=wardComment,@wardPath,wardFunction,wardDelimiter,wardString,wardRawString,
      \ wardNumber,wardFloat,wardDuration,wardBoolean,wardNull,wardBadOperator,
      \ wardComparison,wardOperator,wardQuantifier

" ---- items -------------------------------------------------------------------
syn keyword wardSourceKeyword source nextgroup=wardSourceName skipwhite
syn keyword wardImport import
syn keyword wardDeclaration list nextgroup=wardListName skipwhite
syn keyword wardDeclaration macro nextgroup=wardMacroName skipwhite
" `fill list NAME = [...]` and `extend list NAME [...]`: these two words make
" an item only before `list`; anywhere else they are names (`list fill = []`).
execute 'syn match wardDeclaration "' . s:word_start . '\%(fill\|extend\)\ze\s\+list\>"'
" `override macro NAME = ...` and `tune rule NAME { ... }` likewise: `override`
" only before `macro`, `tune` only before `rule`.
execute 'syn match wardDeclaration "' . s:word_start . 'override\ze\s\+macro\>"'
execute 'syn match wardDeclaration "' . s:word_start . 'tune\ze\s\+rule\>"'
syn keyword wardDeclaration rule nextgroup=wardRuleName skipwhite
execute 'syn match wardSourceName "' . s:not_reserved . '\h[[:alnum:]_.]*" contained'
execute 'syn match wardListName "' . s:not_reserved . '\h\w*" contained nextgroup=wardAssign skipwhite'
execute 'syn match wardMacroName "' . s:not_reserved . '\h\w*" contained nextgroup=wardMacroParams,wardAssign skipwhite'
" `macro NAME(x, L) = ...`: the parameters.
syn region wardMacroParams matchgroup=wardDelimiter start="(" end=")" contained oneline
      \ contains=wardParameter,wardDelimiter nextgroup=wardAssign skipwhite
syn match wardParameter "\h\w*" contained
syn match wardRuleName "\h[[:alnum:]_.-]*" contained
syn match wardAssign "=" contained

" ---- rule bodies ---------------------------------------------------------------
syn region wardRuleBody matchgroup=wardBrace start="{" end="}" fold
      \ contains=@wardExpr,wardClause,wardCount,wardSequence,wardMetaKey,wardMetaKeyUnknown

syn keyword wardClause when except contained
syn keyword wardClause source contained nextgroup=wardSourceName skipwhite
execute 'syn match wardClause ~' . s:word_start . 'output\ze\%(\s\+r\="\|\s*\%(#.*\)\=$\)~ contained'
      \ . ' nextgroup=wardTemplate,wardRawTemplate skipwhite skipnl'

" Metadata: `key value`. Known keys, then any other name (W005).
syn match wardTag "[[:alnum:]_./:-]\+" contained
syn match wardComma "," contained
syn region wardTagList matchgroup=wardDelimiter start="\[" end="\]" contained
      \ contains=wardComment,wardTag,wardComma,wardString,wardRawString
execute 'syn match wardMetaWord ~' . s:not_reserved . '\%(r"\)\@!\h[[:alnum:]_.-]*~ contained'
syn match wardSeverityError ~\%(r"\)\@!\h[[:alnum:]_.-]*~ contained
syn match wardSeverity "\%(info\|low\|medium\|high\|critical\)[[:alnum:]_.-]\@!" contained
execute 'syn match wardMetaKeyUnknown ~' . s:word_start . '\%(\%(' . s:clause . '\|' . s:reserved . '\)\>\)\@!\h\w*' . s:value_ahead . '~'
      \ . ' contained nextgroup=wardTagList,wardBoolean,wardMetaWord skipwhite'
execute 'syn match wardMetaKey ~' . s:word_start . '\%(title\|description\|tags\|references\|author\|enabled\|response\|id\|status\|date\|modified\|false_positives\)\>' . s:value_ahead . '~'
      \ . ' contained nextgroup=wardTagList,wardBoolean,wardMetaWord skipwhite'
execute 'syn match wardMetaKey ~' . s:word_start . 'severity\>' . s:value_ahead . '~'
      \ . ' contained nextgroup=wardSeverity,wardSeverityError skipwhite'

" Output templates: `{path}` fields, `{{` and `}}` literal braces.
syn match wardUnclosedBrace "{" contained
syn region wardTemplate start=+"+ skip=+\\\\\|\\"+ end=+"\|$+ contained
      \ contains=wardEscape,wardEscapeError,wardUnclosedBrace,wardInterpolation,wardBraceEscape
execute 'syn region wardRawTemplate start=+' . s:word_start . 'r"+ end=+"+ contained'
      \ . ' contains=wardUnclosedBrace,wardRawInterpolation,wardBraceEscape'
" A field runs from `{` to the first `}` (compiler/src/syntax/template.rs).
syn region wardInterpolation matchgroup=wardInterpolationDelimiter
      \ start=+{\%(\%([^}"\\]\|\\.\)*}\)\@=+ end=+}+ contained
      \ contains=wardField,wardMember,wardIndex,wardInterpolationSegment,wardEscape
syn region wardRawInterpolation matchgroup=wardInterpolationDelimiter
      \ start=+{\%([^}"]*}\)\@=+ end=+}+ contained contains=wardField,wardMember,wardIndex
" A quoted segment inside a template is written with escaped quotes: .\"a/b\"
syn match wardInterpolationSegment +\%([[:alnum:]_\]]\)\@1<=\.\\"\%([^"\\}]\|\\[^"]\)*\\"+ contained
syn match wardBraceEscape "{{\|}}" contained

" count [distinct F] [by K, ...] within D OP N
syn keyword wardStateful by within distinct until contained
execute 'syn region wardCount matchgroup=wardClause start="' . s:word_start . 'count\ze\%(\s\+\%(distinct\|by\|within\)\>\|\s*\%(#.*\)\=$\)"'
      \ . ' matchgroup=NONE end="\ze\%([=!<>]\|}\)" contained'
      \ . ' contains=wardComment,wardStateful,wardDuration,@wardPath,wardDelimiter'

" sequence [by K, ...] within D { NAME: COND  not NAME: COND  until: COND }
execute 'syn region wardSequence matchgroup=wardClause start="' . s:word_start . 'sequence\ze\%(\s\+\%(by\|within\)\>\|\s*\%(#.*\)\=$\)"'
      \ . ' matchgroup=wardBrace end="}" contained'
      \ . ' contains=@wardExpr,wardStateful,wardSequenceOpen,wardStepLabel'
syn match wardSequenceOpen "{" contained
execute 'syn match wardStepLabel "\%(^\s*\%(not\s\+\)\=\|{\s*\)\@<=\%(\%(until\|' . s:reserved . '\)\>\)\@!\h\w*\ze\s*:" contained'

" ---- links ---------------------------------------------------------------------
hi def link wardComment                Comment
hi def link wardTodo                   Todo
hi def link wardSourceKeyword          Keyword
hi def link wardImport                 Include
hi def link wardDeclaration            Structure
hi def link wardSourceName             Type
hi def link wardListName               Constant
hi def link wardMacroName              Function
hi def link wardParameter              Identifier
hi def link wardRuleName               Function
hi def link wardAssign                 Operator
hi def link wardBrace                  Delimiter
hi def link wardSequenceOpen           wardBrace
hi def link wardClause                 Statement
hi def link wardStateful               Statement
hi def link wardStepLabel              Label
hi def link wardMetaKey                PreProc
hi def link wardMetaKeyUnknown         Identifier
hi def link wardMetaWord               String
hi def link wardTag                    String
hi def link wardComma                  Delimiter
hi def link wardSeverity               Constant
hi def link wardSeverityError          Error
hi def link wardString                 String
hi def link wardRawString              String
hi def link wardTemplate               String
hi def link wardRawTemplate            String
hi def link wardEscape                 SpecialChar
hi def link wardEscapeError            Error
hi def link wardBraceEscape            SpecialChar
hi def link wardUnclosedBrace          Error
hi def link wardInterpolationDelimiter Delimiter
hi def link wardInterpolationSegment   Identifier
hi def link wardNumber                 Number
hi def link wardFloat                  Float
hi def link wardDuration               Number
hi def link wardBoolean                Boolean
hi def link wardNull                   Constant
hi def link wardOperator               Operator
hi def link wardQuantifier             Operator
hi def link wardComparison             Operator
hi def link wardBadOperator            Error
hi def link wardBoundVariable          Identifier
hi def link wardFunction               Function
hi def link wardField                  Identifier
hi def link wardMember                 Identifier
hi def link wardQuotedSegment          String
hi def link wardIndex                  Number
hi def link wardDelimiter              Delimiter

let b:current_syntax = 'ward'

let &cpo = s:cpo_save
unlet s:cpo_save
