; Ward highlights, nvim-treesitter capture names.
; A Helix copy with Helix scope names is queries/helix/highlights.scm.

(comment) @comment

; Declarations and clauses
[
  "source"
  "list"
  "fill"
  "extend"
  "override"
  "macro"
  "tune"
  "rule"
  "when"
  "except"
  "output"
  "count"
  "distinct"
  "by"
  "within"
  "sequence"
  "until"
] @keyword

"import" @keyword.import

; Quantifiers
[
  "any"
  "all"
] @keyword.repeat

; Word operators
[
  "and"
  "or"
  "not"
  "in"
  "is"
  "cidr"
  "exists"
  "contains"
  "icontains"
  "startswith"
  "istartswith"
  "endswith"
  "iendswith"
  "glob"
  "iglob"
  "matches"
  "imatches"
  "equals"
  "iequals"
] @keyword.operator

(comparison_operator) @operator

"=" @operator

; Names at their definition
(rule_declaration
  name: (rule_name) @function)

(tune_declaration
  name: (rule_name) @function)

(macro_declaration
  name: (identifier) @function.macro)

(parameters
  (identifier) @variable.parameter)

(list_declaration
  name: (identifier) @constant)

(extend_declaration
  name: (identifier) @constant)

(source_name) @module

(sequence_step
  name: (identifier) @label)

(quantifier
  variable: (identifier) @variable)

; Metadata
(metadata
  key: (identifier) @property)

(meta_word) @constant

(tag) @string.special.symbol

; Paths
(path
  root: (identifier) @variable)

; Calls: the function's name (derived values)
(call
  function: (identifier) @function.builtin)

(field) @variable.member

(quoted_field) @variable.member

(index) @number

; Literals
(string) @string

(escape_sequence) @string.escape

; `{field.path}` in an output template
(interpolation) @string.special

(number) @number

(duration) @number

(boolean) @boolean

(null) @constant.builtin

(null_test
  "null" @constant.builtin)

; Punctuation
[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

[
  ","
  ":"
  "."
] @punctuation.delimiter
