; Ward folds (nvim-treesitter).
[
  (rule_body)
  (sequence_clause)
  (list)
  (tag_list)
] @fold
