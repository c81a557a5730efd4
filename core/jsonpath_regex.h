/*
** jsonpath_regex.h: the regular expressions of JSONPath filters (=~), in
** the Java syntax AWS's Jayway JsonPath takes, matched without backtracking.
*/
#ifndef STEPFLOW_JSONPATH_REGEX_H
#define STEPFLOW_JSONPATH_REGEX_H

#include <stddef.h>

/* Flags of stepflow_re_compile. */
#define STEPFLOW_RE_ICASE  1   /* /.../i: ASCII letters match either case */

/*
** Bounds. A pattern compiles to a program of at most RE_MAXPROG
** instructions (counted repetitions expanded), so that matching takes at
** most (text length + 1) x program size steps and memory stays small; a
** longer pattern, a deeper nesting of groups or a bigger program is
** refused at compile time.
*/
#define STEPFLOW_RE_MAXPATTERN 1000   /* bytes of pattern text */
#define STEPFLOW_RE_MAXPROG    2000   /* instructions */
#define STEPFLOW_RE_MAXDEPTH   100    /* nested groups */

/* One instruction of a compiled program. */
typedef struct ReInst {
  unsigned char op, flags;
  int x, y;
} ReInst;

/*
** A compiled program. The instructions, the class ranges and the scratch
** space matching needs follow the header in one block of
** stepflow_re_size(nprog, nranges) bytes, so that the caller owns all of
** its memory (a Lua userdata, or malloc in a fuzzer).
*/
typedef struct Re {
  int nprog, nranges;
  ReInst *prog;
  unsigned long *ranges;  /* lo, hi pairs */
  int *scratch;           /* 3 x nprog: two thread lists, the marks */
} Re;

/* Scratch state of a compilation: a few tens of KB, owned by the caller. */
typedef struct ReBuild ReBuild;

/* Bytes of a ReBuild. */
size_t stepflow_re_buildsize (void);

/*
** Parses pat[0..len) with flags into b. Returns 0 and sets *nprog and
** *nranges on success; returns -1 and sets *err (static text) and *errpos
** (byte offset into pat) when the pattern is invalid, unsupported or too
** big.
*/
int stepflow_re_parse (ReBuild *b, const char *pat, size_t len, int flags,
                       int *nprog, int *nranges, const char **err,
                       size_t *errpos);

/* Bytes of the block a program of this size needs. */
size_t stepflow_re_size (int nprog, int nranges);

/* Emits the program parsed into b into mem (stepflow_re_size bytes). */
Re *stepflow_re_emit (const ReBuild *b, void *mem);

/*
** 1 when the whole of s[0..len) matches (Java's Matcher.matches), 0 when
** it does not, -1 when the match would take more than `budget` steps.
*/
int stepflow_re_match (const Re *re, const char *s, size_t len,
                       unsigned long budget);

#endif
