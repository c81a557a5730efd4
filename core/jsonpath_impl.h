/*
** jsonpath_impl.h: what the files of JSONPath share (parse, evaluate, the
** Lua interface in jsonpath.c): the compiled form. Not part of any API.
*/
#ifndef STEPFLOW_JSONPATH_IMPL_H
#define STEPFLOW_JSONPATH_IMPL_H

#include <stddef.h>

#include "lua.h"

#include "jsonpath_regex.h"

#define PATH_MT   "stepflow.JSONPath"
#define ARRAY_MT  "stepflow.array"

/* Step kinds. A path is a chain of steps linked by `next` (-1 ends it). */
enum {
  ST_NAME,      /* .name / ['name']: a = string id */
  ST_INDEX,     /* [n]: a = index (negative counts from the end) */
  ST_NAMES,     /* ['a','b']: a = first string id, n = count */
  ST_INDEXES,   /* [0,2]: a = first ints slot, n = count */
  ST_WILD,      /* [*] / .* */
  ST_SLICE,     /* [a:b:c]: a, b, c; flags say which were given */
  ST_FILTER,    /* [?(...)]: a = expression node */
  ST_FUNC       /* .name(): AWS supports no functions; matches nothing */
};

#define SF_SCAN    1   /* step is preceded by '..' */
#define SF_MERGE   2   /* ST_NAMES as the last step: one object (Jayway) */
#define SF_HASFROM 4
#define SF_HASTO   8

typedef struct Step {
  lua_Integer a, b, c;
  int next;
  int n;
  unsigned char kind, flags;
} Step;

/* Filter expression nodes. */
enum {
  EX_OR, EX_AND, EX_NOT, EX_CMP, EX_EXISTS,
  EX_REL, EX_ABS,                /* @... / $...: l = first step (-1: none),
                                    r = 1 reference, 0 definite, -1 not */
  EX_INT, EX_FLT, EX_STR, EX_TRUE, EX_FALSE, EX_NULL,
  EX_REGEX                       /* i = id of the pattern, l = slot,
                                    r = its offset in the path text,
                                    op = STEPFLOW_RE_ flags */
};

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_RE };

typedef struct Node {
  lua_Integer i;     /* EX_INT value; EX_STR, EX_REGEX string id */
  lua_Number d;      /* EX_FLT value */
  int l, r;          /* operands / children (see the kinds above) */
  unsigned char kind, op;
} Node;

/*
** The compiled path: one full userdata. Uservalue 1 is the table of
** strings (names and string literals, by id), uservalue 2 the source
** text, uservalue 3 the table that keeps the compiled regexes alive.
** The arrays follow the header in the same block.
*/
typedef struct JPath {
  int first;          /* first step of the main path, -1 for `$` */
  int definite, ref;
  int nsteps, nnodes, nints, nregex;
  Step *steps;
  Node *nodes;
  lua_Integer *ints;
  Re **regex;         /* by slot; the blocks live in uservalue 3 */
} JPath;

/* The state of one compilation (jsonpath_parse.c). */
typedef struct Parser {
  lua_State *L;
  const char *s;
  size_t len, pos;
  int strtab;                /* stack index of the strings table */
  int nstr;
  Step *steps; int nsteps, capsteps;
  Node *nodes; int nnodes, capnodes;
  lua_Integer *ints; int nints, capints;
  int nregex;
  const char *err;           /* static text; NULL while all is well */
  size_t errpos;
} Parser;

/*
** Parses the steps after `$` (P->pos at the byte after it) into P's
** arrays. Returns the first step of the main path (-1 for `$` alone);
** on a syntax error sets P->err and P->errpos and returns -1.
*/
int stepflow_jsonpath_parse (Parser *P);

/* A step chain of names and single indexes only (a reference path). */
int stepflow_jsonpath_isref (const Step *steps, int st);

/* A step chain that selects at most one value. */
int stepflow_jsonpath_isdefinite (const Step *steps, int st);

/* The state of one evaluation (jsonpath_eval.c). */
typedef struct Eval {
  lua_State *L;
  const JPath *jp;
  int strs;           /* stack index: strings table */
  int root;           /* stack index: the root value ($ in filters) */
  int amt;            /* stack index: the array metatable */
  int out;            /* stack index: the results table */
  lua_Integer nout;
  int depth;          /* nesting of '..' and structural comparison */
  unsigned long steps;  /* work done, against STEP_BUDGET (jsonpath_eval.c) */
} Eval;

/*
** Evaluates the chain from step st on the value at stack index cur,
** appending each match to the table at E->out.
*/
void stepflow_jsonpath_eval (Eval *E, int st, int cur);

/*
** Follows a reference chain (names and indexes) from the value on the
** stack top, replacing it with the value reached. Returns 0 and pops it
** when the path leads nowhere. No allocation.
*/
int stepflow_jsonpath_walk (lua_State *L, const Step *steps, int st,
                            int strs);

#endif
