/**
 * @file Tree-sitter grammar for Ward, the typed detection-rule language.
 *
 * The authoritative grammar is `compiler/src/syntax/ward.pest`; this file
 * mirrors it rule for rule (see README.md for the few known differences).
 * Whitespace and `#` comments may appear between any two tokens except
 * inside the pest atomic rules (names, paths, literals), which are tokens
 * or sequences of `token.immediate` pieces here.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// pest `str_op`.
const STRING_OPERATORS = [
  'icontains', 'contains', 'istartswith', 'startswith',
  'iendswith', 'endswith', 'iglob', 'glob', 'imatches', 'matches',
  'iequals', 'equals',
];

// pest `keyword`: never an `ident` (a list, macro, step or quantifier
// variable name, a metadata key, or the first segment of a path).
const KEYWORDS = [
  'and', 'or', 'not', 'in', 'is', 'null', 'true', 'false', 'any', 'all',
  'exists', 'cidr', ...STRING_OPERATORS,
];

const COMPARISON_OPERATORS = ['==', '!=', '<=', '>=', '<', '>'];

const PREC = {
  or: 1,
  and: 2,
  not: 3,
};

// ASCII only, as pest's ASCII_ALPHA / ASCII_ALPHANUMERIC.
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/;

/**
 * pest `meta_word` (`ident_start ~ (ident_char | "-" | ".")*`) as pest sees
 * it in `meta_value = { string | tag_list | bool_lit | meta_word }`:
 * `bool_lit` is tried first and ends at any non-ident char, so a word that
 * starts with `true` or `false` followed by `-` or `.` is the boolean and
 * then a syntax error, never a `meta_word`. Bare `true`/`false` are the
 * boolean. A regular expression has no lookahead, so this spells out the
 * words that remain, letter by letter.
 */
function metaWord() {
  const tail = '[A-Za-z0-9_.\\-]*';
  const identChar = '[A-Za-z0-9_]';
  // Any word char but `c` (so the word leaves the keyword's spelling).
  const not = c => {
    const lower = 'abcdefghijklmnopqrstuvwxyz'.replace(c, '');
    return `[A-Z${lower}0-9_.\\-]`;
  };
  const alternatives = ['[A-Zabcdeg-suvwxyz_]' + tail];
  for (const kw of ['true', 'false']) {
    for (let i = 1; i < kw.length; i++) {
      // A proper prefix, then the end or any other char.
      alternatives.push(`${kw.slice(0, i)}(${not(kw[i])}${tail})?`);
    }
    // The whole keyword, then at least one ident char.
    alternatives.push(`${kw}${identChar}${tail}`);
  }
  return new RegExp(alternatives.join('|'));
}

module.exports = grammar({
  name: 'ward',

  // pest WHITESPACE and COMMENT.
  extras: $ => [/[ \t\r\n]/, $.comment],

  // pest `number` and `duration` end with `!ident_char`, which a regular
  // expression cannot say; src/scanner.c lexes them.
  externals: $ => [$.number, $.duration],

  word: $ => $.identifier,

  // Both need two tokens of lookahead, so GLR (pest backtracks):
  // `a not in b` against `a` followed by a negated sequence step `not b:`,
  // and a step's `by` list against a next step named `by`.
  conflicts: $ => [
    [$._predicate, $.membership, $.cidr_test, $.string_test],
    [$.sequence_step],
  ],

  reserved: {
    global: _ => KEYWORDS,
  },

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice(
      $.source_declaration,
      $.import_declaration,
      $.list_declaration,
      $.extend_declaration,
      $.macro_declaration,
      $.rule_declaration,
      $.tune_declaration,
    ),

    source_declaration: $ => seq('source', field('name', $.source_name)),

    source_name: _ => token(/[A-Za-z_][A-Za-z0-9_.]*/),

    import_declaration: $ => seq('import', field('path', $.string)),

    // pest `fill_mark`: a list each site fills (rules that read it are
    // inactive while it is empty). `fill` and `extend` are not reserved: to
    // pest they are idents, so they stay usable as list and macro names.
    list_declaration: $ => seq(
      optional(field('fill', 'fill')),
      'list',
      field('name', $.identifier),
      '=',
      field('value', $.list),
    ),

    // Adds items to a list declared in any file of the rule set; no `=`.
    extend_declaration: $ => seq(
      'extend',
      'list',
      field('name', $.identifier),
      field('value', $.list),
    ),

    // pest `override_mark`: replaces a macro declared in another file.
    // `override` is not reserved either (an ident to pest).
    // `macro NAME(x, L) = ...`: pest `params`, called as `NAME(arg, ...)`.
    macro_declaration: $ => seq(
      optional(field('override', 'override')),
      'macro',
      field('name', $.identifier),
      optional(field('parameters', $.parameters)),
      '=',
      field('body', $._expression),
    ),

    parameters: $ => seq('(', $.identifier, repeat(seq(',', $.identifier)), ')'),

    rule_declaration: $ => seq(
      'rule',
      field('name', $.rule_name),
      field('body', $.rule_body),
    ),

    // `tune rule NAME { ... }`: more `except`s, `enabled` or `severity` for
    // a rule written in another file. The body parses as a rule's (pest
    // `tune_decl`); which entries a tune may hold is the checker's (E029).
    // `tune` is not reserved: a name elsewhere, as `fill` and `extend`.
    tune_declaration: $ => seq(
      'tune',
      'rule',
      field('name', $.rule_name),
      field('body', $.rule_body),
    ),

    rule_name: _ => token(/[A-Za-z_][A-Za-z0-9_.\-]*/),

    rule_body: $ => seq('{', repeat($._rule_item), '}'),

    // ---- rule body ---------------------------------------------------------

    _rule_item: $ => choice(
      $.when_clause,
      $.except_clause,
      $.output_clause,
      $.count_clause,
      $.sequence_clause,
      $.source_clause,
      $.metadata,
    ),

    when_clause: $ => seq('when', field('condition', $._expression)),

    except_clause: $ => seq('except', field('condition', $._expression)),

    output_clause: $ => seq(
      'output',
      field('template', alias($._template, $.string)),
    ),

    // pest reads an output template as a plain `string`; the `{field.path}`
    // pieces (compiler/src/syntax/template.rs) are only marked for
    // highlighting. Every character is still accepted, so no template is a
    // syntax error here that is not one to pest.
    _template: $ => choice(
      $.raw_string,
      seq('"', repeat($._template_piece), token.immediate('"')),
    ),

    _template_piece: $ => choice(
      alias($._template_text, $.string_content),
      $.escape_sequence,
      $.interpolation,
    ),

    _template_text: _ => choice(
      token.immediate(prec(1, /[^"\\\n{}]+/)),
      // `{{` and `}}` are literal braces; so is an unclosed `{`.
      token.immediate(prec(1, /\{\{|\}\}|\{|\}/)),
    ),

    interpolation: _ => token.immediate(prec(1, /\{[^{}"\\\n]*\}/)),

    source_clause: $ => seq('source', field('name', $.source_name)),

    // pest `meta_item`: the key is an `ident` that is not a clause keyword
    // (the clause keywords win in a rule body, as pest's ordered choice).
    metadata: $ => seq(
      field('key', $.identifier),
      field('value', choice(
        $.string,
        $.tag_list,
        $.boolean,
        $.meta_word,
      )),
    ),

    meta_word: _ => token(metaWord()),

    tag_list: $ => seq(
      '[',
      optional(seq(
        $._tag,
        repeat(seq(',', $._tag)),
        optional(','),
      )),
      ']',
    ),

    _tag: $ => choice($.string, $.tag),

    tag: _ => token(/[A-Za-z0-9_.:\/\-]+/),

    // ---- stateful clauses ----------------------------------------------------

    count_clause: $ => seq(
      'count',
      optional($.distinct),
      optional($.group_by),
      'within',
      field('window', $.duration),
      field('operator', $.comparison_operator),
      field('threshold', $.number),
    ),

    distinct: $ => seq('distinct', field('field', $.path)),

    group_by: $ => seq('by', $.path, repeat(seq(',', $.path))),

    sequence_clause: $ => seq(
      'sequence',
      optional($.group_by),
      'within',
      field('window', $.duration),
      '{',
      repeat(choice($.sequence_step, $.sequence_until)),
      '}',
    ),

    sequence_step: $ => seq(
      optional('not'),
      // `by` is an ident to pest; after a step's condition it may also
      // start the step's `by` list, which GLR settles on the next token.
      field('name', choice($.identifier, alias('by', $.identifier))),
      ':',
      field('condition', $._expression),
      optional($.group_by),
    ),

    sequence_until: $ => seq(
      'until',
      optional(':'),
      field('condition', $._expression),
    ),

    // ---- expressions -------------------------------------------------------

    _expression: $ => choice(
      $.binary_expression,
      $.not_expression,
      $.quantifier,
      $._predicate,
    ),

    binary_expression: $ => choice(
      prec.left(PREC.or, seq(
        field('left', $._expression),
        field('operator', 'or'),
        field('right', $._expression),
      )),
      prec.left(PREC.and, seq(
        field('left', $._expression),
        field('operator', 'and'),
        field('right', $._expression),
      )),
    ),

    not_expression: $ => prec(PREC.not, seq(
      'not',
      field('operand', $._expression),
    )),

    // A quantifier's body is one `not`-level term, as in pest: it binds
    // tighter than `and` and `or`.
    quantifier: $ => prec(PREC.not, seq(
      field('kind', choice('any', 'all')),
      field('variable', $.identifier),
      'in',
      field('collection', choice($.call, $.path)),
      ':',
      field('body', $._expression),
    )),

    _predicate: $ => choice(
      $._operand,
      $.comparison,
      $.membership,
      $.cidr_test,
      $.string_test,
      $.null_test,
      $.exists_test,
    ),

    comparison: $ => seq(
      field('left', $._operand),
      field('operator', $.comparison_operator),
      field('right', $._operand),
    ),

    comparison_operator: _ => choice(...COMPARISON_OPERATORS),

    membership: $ => seq(
      field('left', $._operand),
      optional('not'),
      'in',
      field('right', $._operand),
    ),

    cidr_test: $ => seq(
      field('left', $._operand),
      optional('not'),
      'in',
      'cidr',
      field('right', $._operand),
    ),

    string_test: $ => seq(
      field('left', $._operand),
      optional('not'),
      field('operator', choice(...STRING_OPERATORS)),
      field('right', $._operand),
    ),

    null_test: $ => seq(
      field('operand', $._operand),
      'is',
      optional('not'),
      'null',
    ),

    exists_test: $ => seq(field('operand', $._operand), 'exists'),

    _operand: $ => choice($._literal, $.call, $.path, $.parenthesized_expression),

    // pest `call`: a derived value. The function's name is an identifier
    // (not reserved) immediately followed by `(`: `len (x)` is no call.
    call: $ => seq(
      field('function', $.identifier),
      token.immediate('('),
      optional(seq(
        field('argument', $._operand),
        repeat(seq(',', field('argument', $._operand))),
      )),
      ')',
    ),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    // ---- literals ----------------------------------------------------------

    _literal: $ => choice(
      $.duration,
      $.number,
      $.string,
      $.boolean,
      $.null,
      $.list,
    ),

    list: $ => seq(
      '[',
      optional(seq(
        $._literal,
        repeat(seq(',', $._literal)),
        optional(','),
      )),
      ']',
    ),

    boolean: _ => choice('true', 'false'),

    null: _ => 'null',

    string: $ => choice(
      $.raw_string,
      seq('"', repeat($._string_piece), token.immediate('"')),
    ),

    raw_string: _ => token(seq('r"', /[^"]*/, '"')),

    _string_piece: $ => choice($.string_content, $.escape_sequence),

    // prec(1): inside a string, `#` starts no comment.
    string_content: _ => token.immediate(prec(1, /[^"\\\n]+/)),

    escape_sequence: _ => token.immediate(seq('\\', /(.|\n)/)),

    // ---- paths -------------------------------------------------------------

    // pest `path` is compound-atomic: no whitespace between segments.
    path: $ => seq(
      field('root', $.identifier),
      repeat(choice(
        seq(token.immediate('.'), choice(
          $.field,
          alias($._quoted_field, $.quoted_field),
        )),
        seq(token.immediate('['), $.index, token.immediate(']')),
      )),
    ),

    field: _ => token.immediate(/[A-Za-z_][A-Za-z0-9_]*/),

    _quoted_field: $ => seq(
      token.immediate('"'),
      repeat($._string_piece),
      token.immediate('"'),
    ),

    index: _ => token.immediate(/-?[0-9]+/),

    identifier: _ => IDENT,

    comment: _ => token(seq('#', /[^\n]*/)),
  },
});
