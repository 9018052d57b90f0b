// External scanner for Ward: `number` and `duration`.
//
// pest ends both with `!ident_char`, so `5x`, `10min` and `1.5s` are not a
// literal followed by a name but no literal at all. A regular expression
// cannot look ahead, so the two are lexed here:
//
//   duration = @{ ASCII_DIGIT+ ~ ("ms" | "s" | "m" | "h" | "d") ~ !ident_char }
//   number   = @{ "-"? ~ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)? ~ !ident_char }
//
// Where both are allowed (a literal), duration is tried first, as pest's
// ordered choice does.

#include "tree_sitter/parser.h"

#include <stdbool.h>

enum TokenType { NUMBER, DURATION };

void *tree_sitter_ward_external_scanner_create(void) { return NULL; }
void tree_sitter_ward_external_scanner_destroy(void *payload) { (void)payload; }
unsigned tree_sitter_ward_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}
void tree_sitter_ward_external_scanner_deserialize(void *payload, const char *buffer,
                                                   unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_digit(int32_t c) { return c >= '0' && c <= '9'; }

static bool is_ident_char(int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static bool is_space(int32_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool tree_sitter_ward_external_scanner_scan(void *payload, TSLexer *lexer,
                                            const bool *valid_symbols) {
  (void)payload;
  bool want_number = valid_symbols[NUMBER];
  bool want_duration = valid_symbols[DURATION];
  if (!want_number && !want_duration) return false;

  while (is_space(lexer->lookahead)) lexer->advance(lexer, true);

  bool negative = false;
  if (lexer->lookahead == '-') {
    if (!want_number) return false;
    negative = true;
    lexer->advance(lexer, false);
  }
  if (!is_digit(lexer->lookahead)) return false;
  while (is_digit(lexer->lookahead)) lexer->advance(lexer, false);
  lexer->mark_end(lexer);

  // Duration: digits, then "ms" | "s" | "m" | "h" | "d", then no ident char.
  if (!negative && want_duration) {
    int32_t c = lexer->lookahead;
    if (c == 'm' || c == 's' || c == 'h' || c == 'd') {
      lexer->advance(lexer, false);
      if (c == 'm' && lexer->lookahead == 's') lexer->advance(lexer, false);
      if (is_ident_char(lexer->lookahead)) return false;
      lexer->mark_end(lexer);
      lexer->result_symbol = DURATION;
      return true;
    }
  }
  if (!want_number) return false;

  // Number: an optional fraction, then no ident char.
  if (lexer->lookahead == '.') {
    lexer->advance(lexer, false);
    if (is_digit(lexer->lookahead)) {
      while (is_digit(lexer->lookahead)) lexer->advance(lexer, false);
      lexer->mark_end(lexer);
    } else {
      // `1.` is the number 1 and a stray dot, as in pest.
      lexer->result_symbol = NUMBER;
      return true;
    }
  }
  if (is_ident_char(lexer->lookahead)) return false;
  lexer->result_symbol = NUMBER;
  return true;
}
