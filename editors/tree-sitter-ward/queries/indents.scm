; Ward indents (nvim-treesitter).
[
  (rule_body)
  (sequence_clause)
  (list)
  (tag_list)
  (parenthesized_expression)
] @indent.begin

[
  "}"
  "]"
  ")"
] @indent.branch @indent.end

(comment) @indent.auto
