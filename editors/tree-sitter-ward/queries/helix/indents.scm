; Ward indents for Helix (runtime/queries/ward/indents.scm).
[
  (rule_body)
  (sequence_clause)
  (list)
  (tag_list)
  (parenthesized_expression)
] @indent

[
  "}"
  "]"
  ")"
] @outdent
