/*
** jsonpath.c: JSONPath (Jayway dialect, as AWS Step Functions uses it),
** compiled once into a compact step array and evaluated on Lua tables.
** A reference path ($.a[0].b) evaluates as a loop of raw gets, no allocation.
*/
#define _POSIX_C_SOURCE 200809L

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "jsonpath.h"

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
  EX_REGEX                       /* i = id of "flags/pattern", l = slot */
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
** strings (names and string literals, by id), uservalue 2 the source text.
** The arrays follow the header in the same block.
*/
typedef struct JPath {
  int first;          /* first step of the main path, -1 for `$` */
  int definite, ref;
  int nsteps, nnodes, nints, nregex, ncompiled;
  Step *steps;
  Node *nodes;
  lua_Integer *ints;
  regex_t *regex;
} JPath;


/* ---------------------------------------------------------------- */
/* Compiler                                                          */
/* ---------------------------------------------------------------- */

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

static int fail (Parser *P, size_t pos, const char *what) {
  if (P->err == NULL) { P->err = what; P->errpos = pos; }
  return -1;
}

static int peek (Parser *P) {
  return P->pos < P->len ? (unsigned char)P->s[P->pos] : -1;
}

static int peekat (Parser *P, size_t k) {
  return P->pos + k < P->len ? (unsigned char)P->s[P->pos + k] : -1;
}

static void skipws (Parser *P) {
  int c;
  while ((c = peek(P)) == ' ' || c == '\t' || c == '\n' || c == '\r')
    P->pos++;
}

static int expect (Parser *P, int ch, const char *what) {
  skipws(P);
  if (peek(P) != ch) return fail(P, P->pos, what);
  P->pos++;
  return 0;
}

/* Interns the string on the stack top into the strings table: its id. */
static int addstr (Parser *P) {
  lua_rawseti(P->L, P->strtab, ++P->nstr);
  return P->nstr;
}

static int newstep (Parser *P, int kind) {
  Step *s;
  if (P->nsteps >= P->capsteps) return fail(P, P->pos, "path too complex");
  s = &P->steps[P->nsteps];
  memset(s, 0, sizeof(*s));
  s->kind = (unsigned char)kind;
  s->next = -1;
  return P->nsteps++;
}

static int newnode (Parser *P, int kind) {
  Node *n;
  if (P->nnodes >= P->capnodes) return fail(P, P->pos, "filter too complex");
  n = &P->nodes[P->nnodes];
  memset(n, 0, sizeof(*n));
  n->kind = (unsigned char)kind;
  n->l = n->r = -1;
  return P->nnodes++;
}

/* Reads 4 hex digits of a \\u escape; > 0x10FFFF when malformed. */
static unsigned long hex4 (Parser *P) {
  unsigned long v = 0;
  int k;
  for (k = 0; k < 4; k++) {
    int c = peek(P);
    if (c >= '0' && c <= '9') v = v * 16 + (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (unsigned long)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = v * 16 + (unsigned long)(c - 'A' + 10);
    else return 0x110000;
    P->pos++;
  }
  return v;
}

/* Reads a quoted string (opening quote at pos) and interns it: its id. */
static int quoted (Parser *P) {
  lua_State *L = P->L;
  luaL_Buffer b;
  int q = peek(P);
  size_t start = P->pos++;
  luaL_buffinit(L, &b);
  for (;;) {
    int c = peek(P);
    if (c < 0) {
      luaL_pushresult(&b); lua_pop(L, 1);
      return fail(P, start, "unterminated string");
    }
    P->pos++;
    if (c == q) break;
    if (c == '\\') {
      int e = peek(P);
      P->pos++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case '\\': case '/': c = e; break;
        case '\'': case '"':
          /* AWS keeps the backslash before the quote that does not end
          ** the string: $['a\"b'] names the key a\"b */
          if (e != q) luaL_addchar(&b, '\\');
          c = e;
          break;
        case 'u': {
          unsigned long cp = hex4(P);
          if (cp >= 0xD800 && cp < 0xDC00 && peek(P) == '\\' &&
              peekat(P, 1) == 'u') {
            unsigned long lo;
            P->pos += 2;
            lo = hex4(P);
            if (lo >= 0xDC00 && lo < 0xE000)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else cp = 0x110000;
          }
          if (cp > 0x10FFFF) { c = -1; break; }
          lua_pushfstring(L, "%U", (long)cp);
          luaL_addvalue(&b);
          continue;
        }
        default: c = -1;
      }
      if (c < 0) {
        luaL_pushresult(&b); lua_pop(L, 1);
        return fail(P, P->pos - 1, "invalid escape in string");
      }
    }
    luaL_addchar(&b, (char)c);
  }
  luaL_pushresult(&b);
  return addstr(P);
}

/* Reads an optionally signed integer at pos into *v; 0 if none there. */
static int integer (Parser *P, lua_Integer *v) {
  size_t start = P->pos;
  lua_Integer x = 0;
  int neg = 0;
  if (peek(P) == '-') { neg = 1; P->pos++; }
  if (peek(P) < '0' || peek(P) > '9') { P->pos = start; return 0; }
  while (peek(P) >= '0' && peek(P) <= '9') {
    if (x > (LUA_MAXINTEGER - 9) / 10) {
      fail(P, start, "index too large");
      return 0;
    }
    x = x * 10 + (peek(P) - '0');
    P->pos++;
  }
  *v = neg ? -x : x;
  return 1;
}

static int path (Parser *P, int infilter);
static int expr_or (Parser *P);

/* Characters that end a dot-notation name. */
static int nameend (int c, int infilter) {
  if (c < 0 || c == '.' || c == '[' || c == '(' || c == ' ' || c == '\t'
      || c == '\n' || c == '\r')
    return 1;
  if (infilter)
    return c == ')' || c == ']' || c == '<' || c == '>' || c == '='
        || c == '!' || c == '&' || c == '|' || c == ',';
  return 0;
}

/* .name or .name(): the dot is already consumed. */
static int dotname (Parser *P, int infilter) {
  size_t start = P->pos;
  int id, st;
  while (!nameend(peek(P), infilter)) P->pos++;
  if (P->pos == start) {
    if (peek(P) == ' ')
      return fail(P, P->pos, "unexpected space (use ['...'] for such names)");
    return fail(P, P->pos, "expected a name");
  }
  lua_pushlstring(P->L, P->s + start, P->pos - start);
  id = addstr(P);
  if (peek(P) == '(') {
    P->pos++;
    if (expect(P, ')', "expected ')'") < 0) return -1;
    st = newstep(P, ST_FUNC);
  }
  else {
    if (!infilter && peek(P) == ' ')
      return fail(P, P->pos, "unexpected space (use ['...'] for such names)");
    st = newstep(P, ST_NAME);
  }
  if (st < 0) return -1;
  P->steps[st].a = id;
  return st;
}

/* [ ... ]: pos is at '['. */
static int bracket (Parser *P) {
  int st, c;
  P->pos++;
  skipws(P);
  c = peek(P);
  if (c < 0) return fail(P, P->pos, "expected ']'");
  if (c == '*') {
    P->pos++;
    if (expect(P, ']', "expected ']'") < 0) return -1;
    return newstep(P, ST_WILD);
  }
  if (c == '\'' || c == '"') {
    int first = -1, n = 0;
    for (;;) {
      int id;
      skipws(P);
      if (peek(P) != '\'' && peek(P) != '"')
        return fail(P, P->pos, "expected a quoted name");
      if ((id = quoted(P)) < 0) return -1;
      if (first < 0) first = id;
      n++;
      skipws(P);
      if (peek(P) != ',') break;
      P->pos++;
    }
    if (expect(P, ']', "expected ',' or ']'") < 0) return -1;
    if ((st = newstep(P, n == 1 ? ST_NAME : ST_NAMES)) < 0) return -1;
    P->steps[st].a = first;
    P->steps[st].n = n;
    return st;
  }
  if (c == '?') {
    int e;
    P->pos++;
    if (expect(P, '(', "expected '(' after '?'") < 0) return -1;
    if ((e = expr_or(P)) < 0) return -1;
    if (expect(P, ')', "expected ')'") < 0) return -1;
    if (expect(P, ']', "expected ']'") < 0) return -1;
    if ((st = newstep(P, ST_FILTER)) < 0) return -1;
    P->steps[st].a = e;
    return st;
  }
  if (c == '-' || c == ':' || (c >= '0' && c <= '9')) {
    lua_Integer v[3] = { 0, 0, 1 };
    int has[3] = { 0, 0, 0 }, k = 0;
    size_t at = P->pos;
    has[0] = integer(P, &v[0]);
    skipws(P);
    if (peek(P) == ':') {      /* slice [from:to:step] */
      while (k < 2 && peek(P) == ':') {
        k++;
        P->pos++;
        skipws(P);
        at = P->pos;
        has[k] = integer(P, &v[k]);
        skipws(P);
      }
      if (P->err) return -1;
      if (has[2] && v[2] == 0) return fail(P, at, "slice step is 0");
      if (expect(P, ']', "expected ']'") < 0) return -1;
      if ((st = newstep(P, ST_SLICE)) < 0) return -1;
      P->steps[st].a = v[0];
      P->steps[st].b = v[1];
      P->steps[st].c = v[2];
      P->steps[st].flags = (unsigned char)((has[0] ? SF_HASFROM : 0) |
                                           (has[1] ? SF_HASTO : 0));
      return st;
    }
    if (!has[0]) return fail(P, P->pos, "expected an index");
    if (peek(P) == ',') {      /* index union [0,2] */
      int first = P->nints, n = 0;
      for (;;) {
        if (P->nints >= P->capints) return fail(P, P->pos, "too many indexes");
        P->ints[P->nints++] = v[0];
        n++;
        skipws(P);
        if (peek(P) != ',') break;
        P->pos++;
        skipws(P);
        if (!integer(P, &v[0])) return fail(P, P->pos, "expected an index");
      }
      if (expect(P, ']', "expected ',' or ']'") < 0) return -1;
      if ((st = newstep(P, ST_INDEXES)) < 0) return -1;
      P->steps[st].a = first;
      P->steps[st].n = n;
      return st;
    }
    if (expect(P, ']', "expected ']'") < 0) return -1;
    if ((st = newstep(P, ST_INDEX)) < 0) return -1;
    P->steps[st].a = v[0];
    return st;
  }
  return fail(P, P->pos, "expected a quoted name, index, slice, '*' or '?'");
}

/*
** The steps after `$` or `@`. Returns the first step of the chain, -1 for
** an empty chain; errors are left in P->err.
*/
static int path (Parser *P, int infilter) {
  int first = -1, last = -1;
  for (;;) {
    int st, c = peek(P), scan = 0;
    if (c == '.') {
      P->pos++;
      if (peek(P) == '.') { scan = 1; P->pos++; }
      c = peek(P);
      if (c == '[') st = bracket(P);
      else if (c == '*') { P->pos++; st = newstep(P, ST_WILD); }
      else if (!scan && c == '.') st = fail(P, P->pos, "unexpected '.'");
      else st = dotname(P, infilter);
    }
    else if (c == '[') st = bracket(P);
    else if (c < 0 || infilter) break;
    else st = fail(P, P->pos, "expected '.' or '['");
    if (st < 0 || P->err) return -1;
    if (scan) P->steps[st].flags |= SF_SCAN;
    if (last >= 0) P->steps[last].next = st;
    else first = st;
    last = st;
  }
  if (last >= 0 && P->steps[last].kind == ST_NAMES)
    P->steps[last].flags |= SF_MERGE;   /* Jayway: a leaf ['a','b'] merges */
  return first;
}

/* A path chain is a reference path: names and single indexes only. */
static int isref (const Step *steps, int st) {
  for (; st >= 0; st = steps[st].next)
    if ((steps[st].kind != ST_NAME && steps[st].kind != ST_INDEX) ||
        (steps[st].flags & SF_SCAN))
      return 0;
  return 1;
}

static int isdefinite (const Step *steps, int st) {
  for (; st >= 0; st = steps[st].next) {
    const Step *s = &steps[st];
    if (s->flags & SF_SCAN) return 0;
    if (s->kind == ST_NAMES && !(s->flags & SF_MERGE)) return 0;
    if (s->kind == ST_INDEXES || s->kind == ST_WILD || s->kind == ST_SLICE ||
        s->kind == ST_FILTER)
      return 0;
  }
  return 1;
}

/* A filter operand: @path, $path or a literal. */
static int operand (Parser *P) {
  int c, n;
  skipws(P);
  c = peek(P);
  if (c == '@' || c == '$') {
    int st;
    P->pos++;
    st = path(P, 1);
    if (P->err) return -1;
    if ((n = newnode(P, c == '@' ? EX_REL : EX_ABS)) < 0) return -1;
    P->nodes[n].l = st;
    P->nodes[n].r = isref(P->steps, st) ? 1 : isdefinite(P->steps, st) ? 0 : -1;
    return n;
  }
  if (c == '\'' || c == '"') {
    int id = quoted(P);
    if (id < 0) return -1;
    if ((n = newnode(P, EX_STR)) < 0) return -1;
    P->nodes[n].i = id;
    return n;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char buf[64];
    size_t start = P->pos, k;
    while ((c = peek(P)) == '-' || c == '+' || c == '.' || c == 'e' ||
           c == 'E' || (c >= '0' && c <= '9'))
      P->pos++;
    k = P->pos - start;
    if (k >= sizeof(buf)) return fail(P, start, "number too long");
    memcpy(buf, P->s + start, k);
    buf[k] = '\0';
    if (lua_stringtonumber(P->L, buf) != k + 1)
      return fail(P, start, "invalid number");
    if ((n = newnode(P, lua_isinteger(P->L, -1) ? EX_INT : EX_FLT)) < 0) {
      lua_pop(P->L, 1);
      return -1;
    }
    if (P->nodes[n].kind == EX_INT) P->nodes[n].i = lua_tointeger(P->L, -1);
    else P->nodes[n].d = lua_tonumber(P->L, -1);
    lua_pop(P->L, 1);
    return n;
  }
  if (c == '/') {
    size_t start = ++P->pos, end;
    luaL_Buffer b;
    while (peek(P) >= 0 && peek(P) != '/') {
      if (peek(P) == '\\' && peekat(P, 1) >= 0) P->pos++;
      P->pos++;
    }
    if (peek(P) != '/') return fail(P, start - 1, "unterminated regex");
    /* stored as "flags/pattern" so that the flags travel with it */
    end = P->pos++;
    luaL_buffinit(P->L, &b);
    while (peek(P) >= 'a' && peek(P) <= 'z') {
      luaL_addchar(&b, (char)peek(P));
      P->pos++;
    }
    luaL_addchar(&b, '/');
    luaL_addlstring(&b, P->s + start, end - start);
    luaL_pushresult(&b);
    if ((n = newnode(P, EX_REGEX)) < 0) { lua_pop(P->L, 1); return -1; }
    P->nodes[n].i = addstr(P);
    P->nodes[n].l = P->nregex++;
    return n;
  }
  if (P->len - P->pos >= 4 && memcmp(P->s + P->pos, "true", 4) == 0) {
    P->pos += 4; return newnode(P, EX_TRUE);
  }
  if (P->len - P->pos >= 5 && memcmp(P->s + P->pos, "false", 5) == 0) {
    P->pos += 5; return newnode(P, EX_FALSE);
  }
  if (P->len - P->pos >= 4 && memcmp(P->s + P->pos, "null", 4) == 0) {
    P->pos += 4; return newnode(P, EX_NULL);
  }
  return fail(P, P->pos, "expected a value, '@' or '$'");
}

static int compareop (Parser *P) {
  int c = peek(P), d = peekat(P, 1);
  if (c == '=' && d == '=') { P->pos += 2; return OP_EQ; }
  if (c == '!' && d == '=') { P->pos += 2; return OP_NE; }
  if (c == '=' && d == '~') { P->pos += 2; return OP_RE; }
  if (c == '<' || c == '>') {
    P->pos += (d == '=') ? 2 : 1;
    if (c == '<') return d == '=' ? OP_LE : OP_LT;
    return d == '=' ? OP_GE : OP_GT;
  }
  return -1;
}

static int comparison (Parser *P) {
  int l, r, op, n;
  size_t at;
  if ((l = operand(P)) < 0) return -1;
  skipws(P);
  at = P->pos;
  op = compareop(P);
  if (op < 0) {               /* existence test: [?(@.x)] */
    int k = P->nodes[l].kind;
    if (k != EX_REL && k != EX_ABS)
      return fail(P, at, "expected a comparison operator");
    if ((n = newnode(P, EX_EXISTS)) < 0) return -1;
    P->nodes[n].l = l;
    return n;
  }
  skipws(P);
  at = P->pos;
  if ((r = operand(P)) < 0) return -1;
  if (op == OP_RE && P->nodes[r].kind != EX_REGEX)
    return fail(P, at, "expected a /regex/ after '=~'");
  if (op != OP_RE && P->nodes[r].kind == EX_REGEX)
    return fail(P, at, "a /regex/ needs '=~'");
  if ((n = newnode(P, EX_CMP)) < 0) return -1;
  P->nodes[n].op = (unsigned char)op;
  P->nodes[n].l = l;
  P->nodes[n].r = r;
  return n;
}

static int unary (Parser *P) {
  int n, e;
  skipws(P);
  if (peek(P) == '!' && peekat(P, 1) != '=') {
    P->pos++;
    if ((e = unary(P)) < 0) return -1;
    if ((n = newnode(P, EX_NOT)) < 0) return -1;
    P->nodes[n].l = e;
    return n;
  }
  if (peek(P) == '(') {
    P->pos++;
    if ((e = expr_or(P)) < 0) return -1;
    if (expect(P, ')', "expected ')'") < 0) return -1;
    return e;
  }
  return comparison(P);
}

static int expr_and (Parser *P) {
  int l = unary(P);
  while (l >= 0) {
    int r, n;
    skipws(P);
    if (peek(P) != '&' || peekat(P, 1) != '&') break;
    P->pos += 2;
    if ((r = unary(P)) < 0 || (n = newnode(P, EX_AND)) < 0) return -1;
    P->nodes[n].l = l;
    P->nodes[n].r = r;
    l = n;
  }
  return l;
}

static int expr_or (Parser *P) {
  int l = expr_and(P);
  while (l >= 0) {
    int r, n;
    skipws(P);
    if (peek(P) != '|' || peekat(P, 1) != '|') break;
    P->pos += 2;
    if ((r = expr_and(P)) < 0 || (n = newnode(P, EX_OR)) < 0) return -1;
    P->nodes[n].l = l;
    P->nodes[n].r = r;
    l = n;
  }
  return l;
}


/* ---------------------------------------------------------------- */
/* Evaluator                                                         */
/* ---------------------------------------------------------------- */

typedef struct Eval {
  lua_State *L;
  const JPath *jp;
  int strs;           /* stack index: strings table */
  int root;           /* stack index: the root value ($ in filters) */
  int amt;            /* stack index: the array metatable */
  int out;            /* stack index: the results table */
  lua_Integer nout;
  int depth;          /* nesting of '..' and structural comparison */
} Eval;

/* Deeper than any decoded JSON (STEPFLOW_JSON_MAXDEPTH): a cycle. */
#define MAXDEPTH 2000

static void deeper (Eval *E) {
  if (++E->depth > MAXDEPTH)
    luaL_error(E->L, "JSONPath: value nested deeper than %d (a cycle?)",
               MAXDEPTH);
}

/*
** Follows a reference chain (names and indexes) from the value on the
** stack top, replacing it with the value reached. Returns 0 and pops it
** when the path leads nowhere. No allocation.
*/
static int walk (lua_State *L, const Step *steps, int st, int strs) {
  for (; st >= 0; st = steps[st].next) {
    const Step *s = &steps[st];
    if (lua_type(L, -1) != LUA_TTABLE) { lua_pop(L, 1); return 0; }
    if (s->kind == ST_NAME) {
      lua_rawgeti(L, strs, s->a);
      lua_rawget(L, -2);
    }
    else {
      lua_Integer i = s->a;
      if (i < 0 && (i += (lua_Integer)lua_rawlen(L, -1)) < 0) {
        lua_pop(L, 1);
        return 0;
      }
      lua_rawgeti(L, -1, i + 1);
    }
    lua_remove(L, -2);
  }
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
  return 1;
}

static int isarray (Eval *E, int idx) {
  int r;
  if (lua_rawlen(E->L, idx) > 0) return 1;
  if (!lua_getmetatable(E->L, idx)) return 0;
  r = lua_rawequal(E->L, -1, E->amt);
  lua_pop(E->L, 1);
  return r;
}

static void ev (Eval *E, int st, int cur);
static int test (Eval *E, int n, int cur);

/* Continues with step `st` on the value on the stack top, then pops it. */
static void child (Eval *E, int st) {
  if (!lua_isnil(E->L, -1)) ev(E, st, lua_gettop(E->L));
  lua_pop(E->L, 1);
}

typedef struct Key { const char *s; size_t l; } Key;

static int keycmp (const void *a, const void *b) {
  const Key *x = (const Key *)a, *y = (const Key *)b;
  int c = memcmp(x->s, y->s, x->l < y->l ? x->l : y->l);
  return c != 0 ? c : (x->l > y->l) - (x->l < y->l);
}

/*
** Calls fn for each value of the object at `cur` in key order (bytewise),
** so results never depend on Lua's hash order. The keys stay anchored by
** the object itself, which nothing modifies during an evaluation.
*/
static void eachvalue (Eval *E, int cur, int st, int scanning,
                       void (*fn) (Eval *E, int st, int idx, int scanning)) {
  lua_State *L = E->L;
  size_t n = 0, k;
  Key *keys;
  lua_pushnil(L);
  while (lua_next(L, cur)) {
    if (lua_type(L, -2) == LUA_TSTRING) n++;
    lua_pop(L, 1);
  }
  if (n == 0) return;
  keys = (Key *)lua_newuserdatauv(L, n * sizeof(Key), 0);
  k = 0;
  lua_pushnil(L);
  while (lua_next(L, cur)) {
    if (lua_type(L, -2) == LUA_TSTRING && k < n) {
      keys[k].s = lua_tolstring(L, -2, &keys[k].l);
      k++;
    }
    lua_pop(L, 1);
  }
  qsort(keys, k, sizeof(Key), keycmp);
  for (n = 0; n < k; n++) {
    lua_pushlstring(L, keys[n].s, keys[n].l);
    lua_rawget(L, cur);
    fn(E, st, lua_gettop(L), scanning);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* keys */
}

static void cont (Eval *E, int st, int idx, int scanning) {
  (void)scanning;
  ev(E, st, idx);
}

/* Python slice bounds over n elements; calls ev for each picked element. */
static void slice (Eval *E, const Step *s, int cur) {
  lua_Integer n = (lua_Integer)lua_rawlen(E->L, cur), from, to, i;
  lua_Integer step = s->c;
  if (step > 0) {
    from = (s->flags & SF_HASFROM) ? s->a : 0;
    to = (s->flags & SF_HASTO) ? s->b : n;
    if (from < 0 && (from += n) < 0) from = 0;
    if (to < 0 && (to += n) < 0) to = 0;
    if (to > n) to = n;
    for (i = from; i < to; i += step) {
      lua_rawgeti(E->L, cur, i + 1);
      child(E, s->next);
    }
  }
  else {
    from = (s->flags & SF_HASFROM) ? s->a : n - 1;
    to = (s->flags & SF_HASTO) ? s->b : -n - 1;
    if (from < 0) from += n;
    if (from >= n) from = n - 1;
    if (to < 0 && (to += n) < -1) to = -1;
    for (i = from; i > to && i >= 0; i += step) {
      lua_rawgeti(E->L, cur, i + 1);
      child(E, s->next);
    }
  }
}

/* Applies step s (ignoring '..') to the value at cur. */
static void apply (Eval *E, const Step *s, int cur, int scanning) {
  lua_State *L = E->L;
  lua_Integer i, n;
  int k;
  if (lua_type(L, cur) != LUA_TTABLE) return;
  luaL_checkstack(L, 8, "JSONPath evaluation too deep");
  switch (s->kind) {
    case ST_NAME:
      lua_rawgeti(L, E->strs, s->a);
      lua_rawget(L, cur);
      child(E, s->next);
      break;
    case ST_NAMES:
      if (isarray(E, cur)) break;
      if (s->flags & SF_MERGE) {   /* Jayway: {a = .., b = ..}, present keys */
        lua_createtable(L, 0, s->n);
        for (k = 0; k < s->n; k++) {
          lua_rawgeti(L, E->strs, s->a + k);
          lua_pushvalue(L, -1);
          if (lua_rawget(L, cur) == LUA_TNIL) lua_pop(L, 2);
          else lua_rawset(L, -3);
        }
        ev(E, s->next, lua_gettop(L));
        lua_pop(L, 1);
      }
      else
        for (k = 0; k < s->n; k++) {
          lua_rawgeti(L, E->strs, s->a + k);
          lua_rawget(L, cur);
          child(E, s->next);
        }
      break;
    case ST_INDEX: case ST_INDEXES:
      n = (lua_Integer)lua_rawlen(L, cur);
      for (k = 0; k < (s->kind == ST_INDEX ? 1 : s->n); k++) {
        i = s->kind == ST_INDEX ? s->a : E->jp->ints[s->a + k];
        if (i < 0) i += n;
        if (i < 0 || i >= n) continue;
        lua_rawgeti(L, cur, i + 1);
        child(E, s->next);
      }
      break;
    case ST_WILD:
      n = (lua_Integer)lua_rawlen(L, cur);
      if (n > 0)
        for (i = 1; i <= n; i++) { lua_rawgeti(L, cur, i); child(E, s->next); }
      else if (!isarray(E, cur))
        eachvalue(E, cur, s->next, scanning, cont);
      break;
    case ST_SLICE:
      slice(E, s, cur);
      break;
    case ST_FILTER:
      if (!isarray(E, cur)) {
        if (test(E, (int)s->a, cur)) ev(E, s->next, cur);
      }
      else if (!scanning) {   /* '..' visits the elements by itself */
        n = (lua_Integer)lua_rawlen(L, cur);
        for (i = 1; i <= n; i++) {
          /* AWS: '@' matches objects (and arrays) only, never scalars */
          if (lua_rawgeti(L, cur, i) == LUA_TTABLE &&
              test(E, (int)s->a, lua_gettop(L)))
            ev(E, s->next, lua_gettop(L));
          lua_pop(L, 1);
        }
      }
      break;
    default:   /* ST_FUNC: AWS evaluates no JSONPath functions */
      break;
  }
}

static void scan (Eval *E, int st, int idx, int scanning) {
  lua_State *L = E->L;
  lua_Integer i, n;
  (void)scanning;
  if (lua_type(L, idx) != LUA_TTABLE) return;
  deeper(E);
  apply(E, &E->jp->steps[st], idx, 1);
  n = (lua_Integer)lua_rawlen(L, idx);
  if (n > 0)
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      scan(E, st, lua_gettop(L), 1);
      lua_pop(L, 1);
    }
  else
    eachvalue(E, idx, st, 1, scan);
  E->depth--;
}

/* Evaluates the chain from step st on the value at cur into E->out. */
static void ev (Eval *E, int st, int cur) {
  const Step *s;
  if (st < 0) {
    lua_pushvalue(E->L, cur);
    lua_rawseti(E->L, E->out, ++E->nout);
    return;
  }
  s = &E->jp->steps[st];
  if (s->flags & SF_SCAN) scan(E, st, cur, 1);
  else apply(E, s, cur, 0);
}

/* Runs the chain from st on the value at cur into a new table (pushed). */
static void collect (Eval *E, int st, int cur) {
  int out = E->out;
  lua_Integer nout = E->nout;
  lua_newtable(E->L);
  E->out = lua_gettop(E->L);
  E->nout = 0;
  ev(E, st, cur);
  E->out = out;
  E->nout = nout;
}

/*
** Pushes the value of filter operand n with `@` at cur. Returns 0 and
** pushes nothing when a path operand finds nothing.
*/
static int operandvalue (Eval *E, int n, int cur) {
  lua_State *L = E->L;
  const Node *x = &E->jp->nodes[n];
  switch (x->kind) {
    case EX_REL: case EX_ABS:
      if (x->r == 1) {        /* reference path: walk, no allocation */
        lua_pushvalue(L, x->kind == EX_REL ? cur : E->root);
        return walk(L, E->jp->steps, x->l, E->strs);
      }
      collect(E, x->l, x->kind == EX_REL ? cur : E->root);
      if (x->r == 0) {        /* definite: the single value */
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
        if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
      }
      else {
        lua_pushvalue(L, E->amt);
        lua_setmetatable(L, -2);
      }
      return 1;
    case EX_INT: lua_pushinteger(L, x->i); return 1;
    case EX_FLT: lua_pushnumber(L, x->d); return 1;
    case EX_STR: lua_rawgeti(L, E->strs, x->i); return 1;
    case EX_TRUE: lua_pushboolean(L, 1); return 1;
    case EX_FALSE: lua_pushboolean(L, 0); return 1;
    case EX_NULL: lua_pushlightuserdata(L, NULL); return 1;
    default: return 0;
  }
}

static int equal (Eval *E, int a, int b);

static int tableequal (Eval *E, int a, int b) {
  lua_State *L = E->L;
  lua_Integer n = (lua_Integer)lua_rawlen(L, a), i;
  int arr = isarray(E, a), eq = 1;
  if (arr != isarray(E, b)) return 0;
  if (arr && (lua_Integer)lua_rawlen(L, b) != n) return 0;
  luaL_checkstack(L, 6, "JSONPath comparison too deep");
  deeper(E);
  if (arr) {
    for (i = 1; i <= n && eq; i++) {
      lua_rawgeti(L, a, i);
      lua_rawgeti(L, b, i);
      eq = equal(E, lua_gettop(L) - 1, lua_gettop(L));
      lua_pop(L, 2);
    }
    E->depth--;
    return eq;
  }
  n = 0;
  lua_pushnil(L);
  while (lua_next(L, a)) {      /* STACK: key, value */
    n++;
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    eq = !lua_isnil(L, -1) && equal(E, lua_gettop(L) - 1, lua_gettop(L));
    lua_pop(L, 2);
    if (!eq) { lua_pop(L, 1); E->depth--; return 0; }
  }
  lua_pushnil(L);
  while (lua_next(L, b)) { n--; lua_pop(L, 1); }
  E->depth--;
  return n == 0;
}

/* Jayway equality: numbers by value, a numeric string equals its number. */
static int equal (Eval *E, int a, int b) {
  lua_State *L = E->L;
  int ta = lua_type(L, a), tb = lua_type(L, b);
  if (ta == tb) {
    if (ta == LUA_TTABLE) return tableequal(E, a, b);
    return lua_rawequal(L, a, b);
  }
  if ((ta == LUA_TNUMBER && tb == LUA_TSTRING) ||
      (ta == LUA_TSTRING && tb == LUA_TNUMBER)) {
    int s = ta == LUA_TSTRING ? a : b, r;
    if (lua_stringtonumber(L, lua_tostring(L, s)) == 0) return 0;
    r = lua_rawequal(L, -1, ta == LUA_TNUMBER ? a : b);
    lua_pop(L, 1);
    return r;
  }
  return 0;
}

static int strcompare (lua_State *L, int a, int b) {
  size_t la, lb;
  const char *x = lua_tolstring(L, a, &la), *y = lua_tolstring(L, b, &lb);
  int c = memcmp(x, y, la < lb ? la : lb);
  return c != 0 ? c : (la > lb) - (la < lb);
}

static int compare (Eval *E, const Node *x, int cur) {
  lua_State *L = E->L;
  int top = lua_gettop(L), a, b, r = 0, ta, tb;
  int has_a = operandvalue(E, x->l, cur);
  a = lua_gettop(L);
  if (x->op == OP_RE) {
    if (has_a && lua_type(L, a) == LUA_TSTRING)
      r = regexec(&E->jp->regex[E->jp->nodes[x->r].l], lua_tostring(L, a),
                  0, NULL, 0) == 0;
    lua_settop(L, top);
    return r;
  }
  b = operandvalue(E, x->r, cur) ? lua_gettop(L) : 0;
  if (!has_a || !b) {           /* a missing path is Jayway's UNDEFINED */
    lua_settop(L, top);
    if (x->op == OP_EQ) return !has_a && !b;
    if (x->op == OP_NE) return has_a || b;
    return 0;
  }
  ta = lua_type(L, a);
  tb = lua_type(L, b);
  switch (x->op) {
    case OP_EQ: r = equal(E, a, b); break;
    case OP_NE: r = !equal(E, a, b); break;
    default:
      if (ta == LUA_TNUMBER && tb == LUA_TNUMBER) {
        switch (x->op) {
          case OP_LT: r = lua_compare(L, a, b, LUA_OPLT); break;
          case OP_LE: r = lua_compare(L, a, b, LUA_OPLE); break;
          case OP_GT: r = lua_compare(L, b, a, LUA_OPLT); break;
          default: r = lua_compare(L, b, a, LUA_OPLE); break;
        }
      }
      else if (ta == LUA_TSTRING && tb == LUA_TSTRING) {
        int c = strcompare(L, a, b);
        r = x->op == OP_LT ? c < 0 : x->op == OP_LE ? c <= 0 :
            x->op == OP_GT ? c > 0 : c >= 0;
      }
      break;
  }
  lua_settop(L, top);
  return r;
}

/* Evaluates filter expression n with `@` at cur. */
static int test (Eval *E, int n, int cur) {
  const Node *x = &E->jp->nodes[n];
  lua_State *L = E->L;
  int r;
  switch (x->kind) {
    case EX_OR: return test(E, x->l, cur) || test(E, x->r, cur);
    case EX_AND: return test(E, x->l, cur) && test(E, x->r, cur);
    case EX_NOT: return !test(E, x->l, cur);
    case EX_CMP: return compare(E, x, cur);
    case EX_EXISTS:
      if (!operandvalue(E, x->l, cur)) return 0;
      /* an indefinite path exists when it finds something */
      r = E->jp->nodes[x->l].r >= 0 || lua_rawlen(L, -1) > 0;
      lua_pop(L, 1);
      return r;
    default: return 0;
  }
}


/* ---------------------------------------------------------------- */
/* Lua interface                                                     */
/* ---------------------------------------------------------------- */

static JPath *checkpath (lua_State *L) {
  return (JPath *)luaL_checkudata(L, 1, PATH_MT);
}

/* Pushes the array metatable, creating it if the codec has not yet. */
static void pusharraymt (lua_State *L) {
  if (luaL_getmetatable(L, ARRAY_MT) == LUA_TNIL) {
    lua_pop(L, 1);
    luaL_newmetatable(L, ARRAY_MT);
  }
}

/* p:get(root) -> value | nil, or an array for an indefinite path [-0,+1,m] */
static int path_get (lua_State *L) {
  JPath *jp = checkpath(L);
  Eval E;
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);           /* STACK: p, root, strings */
  if (jp->ref) {                        /* the hot path: no allocation */
    lua_pushvalue(L, 2);
    if (!walk(L, jp->steps, jp->first, 3)) lua_pushnil(L);
    return 1;
  }
  pusharraymt(L);
  lua_newtable(L);                      /* STACK: p, root, strings, mt, out */
  E.L = L; E.jp = jp; E.strs = 3; E.root = 2; E.amt = 4; E.out = 5;
  E.nout = 0; E.depth = 0;
  ev(&E, jp->first, 2);
  if (jp->definite) {
    lua_rawgeti(L, 5, 1);
    return 1;
  }
  lua_pushvalue(L, 4);
  lua_setmetatable(L, 5);
  lua_settop(L, 5);
  return 1;
}

/* p:is_definite() -> boolean  [-0, +1, -] */
static int path_is_definite (lua_State *L) {
  lua_pushboolean(L, checkpath(L)->definite);
  return 1;
}

/* p:keys() -> { "name" | index0, ... } for a reference path, else nil */
static int path_keys (lua_State *L) {
  JPath *jp = checkpath(L);
  int st, k = 0;
  if (!jp->ref) { lua_pushnil(L); return 1; }
  lua_getiuservalue(L, 1, 1);
  lua_newtable(L);                      /* STACK: p, strings, keys */
  for (st = jp->first; st >= 0; st = jp->steps[st].next) {
    if (jp->steps[st].kind == ST_NAME) lua_rawgeti(L, -2, jp->steps[st].a);
    else lua_pushinteger(L, jp->steps[st].a);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* p:text() -> the source text  [-0, +1, -] */
static int path_text (lua_State *L) {
  checkpath(L);
  lua_getiuservalue(L, 1, 2);
  return 1;
}

/* __tostring: "stepflow.JSONPath: <text>"  [-0, +1, m] */
static int path_tostring (lua_State *L) {
  checkpath(L);
  lua_getiuservalue(L, 1, 2);
  lua_pushfstring(L, PATH_MT ": %s", lua_tostring(L, -1));
  return 1;
}

/* __gc: frees the compiled regexes; idempotent  [-0, +0, -] */
/* (no __close: a Path stays usable for as long as it is reachable) */
static int path_gc (lua_State *L) {
  JPath *jp = checkpath(L);
  while (jp->ncompiled > 0) regfree(&jp->regex[--jp->ncompiled]);
  return 0;
}

/*
** Compiles regex slot k from its stored "flags/pattern" text. Jayway
** matches the whole string (Matcher.matches), so the pattern is anchored.
** \d and \D, common in Java patterns, become POSIX classes.
*/
static int compileregex (lua_State *L, JPath *jp, int k, const char *src) {
  const char *slash = strchr(src, '/'), *p;
  int cflags = REG_EXTENDED | REG_NOSUB, r;
  luaL_Buffer b;
  for (p = src; p < slash; p++) if (*p == 'i') cflags |= REG_ICASE;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "^(");
  for (p = slash + 1; *p; p++) {
    if (p[0] == '\\' && p[1] == 'd') { luaL_addstring(&b, "[0-9]"); p++; }
    else if (p[0] == '\\' && p[1] == 'D') { luaL_addstring(&b, "[^0-9]"); p++; }
    else if (p[0] == '\\' && p[1] == '/') { luaL_addchar(&b, '/'); p++; }
    else luaL_addchar(&b, *p);
  }
  luaL_addstring(&b, ")$");
  luaL_pushresult(&b);
  r = regcomp(&jp->regex[k], lua_tostring(L, -1), cflags);
  lua_pop(L, 1);
  if (r != 0) return 0;
  jp->ncompiled++;
  return 1;
}

#define ALIGNED(n)  (((n) + 15u) & ~(size_t)15u)

/* core.path_compile(text) -> Path | nil, message  [-0, +1|2, m] */
static int path_compile (lua_State *L) {
  size_t len, cap, size;
  const char *s = luaL_checklstring(L, 1, &len);
  Parser P;
  JPath *jp;
  char *mem;
  int first = -1, k;
  lua_settop(L, 1);
  if (len >= 65536) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid JSONPath: text longer than 65535 bytes");
    return 2;
  }
  cap = len + 2;
  memset(&P, 0, sizeof(P));
  P.L = L; P.s = s; P.len = len;
  P.capsteps = P.capnodes = P.capints = (int)cap;
  mem = (char *)lua_newuserdatauv(L, cap * (sizeof(Step) + sizeof(Node) +
                                            sizeof(lua_Integer)), 0);
  P.steps = (Step *)mem;
  P.nodes = (Node *)(mem + cap * sizeof(Step));
  P.ints = (lua_Integer *)(mem + cap * (sizeof(Step) + sizeof(Node)));
  lua_newtable(L);                      /* STACK: text, scratch, strings */
  P.strtab = 3;
  if (len == 0 || s[0] != '$') fail(&P, 0, "expected '$'");
  else { P.pos = 1; first = path(&P, 0); }
  if (P.err) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSONPath '%s': %s at character %d", s, P.err,
                    (int)P.errpos + 1);
    return 2;
  }
  size = ALIGNED(sizeof(JPath)) + ALIGNED(P.nsteps * sizeof(Step)) +
         ALIGNED(P.nnodes * sizeof(Node)) +
         ALIGNED(P.nints * sizeof(lua_Integer)) + P.nregex * sizeof(regex_t);
  jp = (JPath *)lua_newuserdatauv(L, size, 2);
  memset(jp, 0, sizeof(*jp));           /* closed first: nothing to free */
  luaL_setmetatable(L, PATH_MT);
  mem = (char *)jp + ALIGNED(sizeof(JPath));
  jp->steps = (Step *)mem;
  mem += ALIGNED(P.nsteps * sizeof(Step));
  jp->nodes = (Node *)mem;
  mem += ALIGNED(P.nnodes * sizeof(Node));
  jp->ints = (lua_Integer *)mem;
  mem += ALIGNED(P.nints * sizeof(lua_Integer));
  jp->regex = (regex_t *)mem;
  if (P.nsteps) memcpy(jp->steps, P.steps, P.nsteps * sizeof(Step));
  if (P.nnodes) memcpy(jp->nodes, P.nodes, P.nnodes * sizeof(Node));
  if (P.nints) memcpy(jp->ints, P.ints, P.nints * sizeof(lua_Integer));
  jp->nsteps = P.nsteps; jp->nnodes = P.nnodes; jp->nints = P.nints;
  jp->nregex = P.nregex;
  jp->first = first;
  jp->ref = isref(jp->steps, first);
  jp->definite = isdefinite(jp->steps, first);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 4, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, 2);
  for (k = 0; k < jp->nnodes; k++)      /* regexes, in slot order */
    if (jp->nodes[k].kind == EX_REGEX) {
      lua_rawgeti(L, 3, jp->nodes[k].i);
      if (!compileregex(L, jp, jp->nodes[k].l, lua_tostring(L, -1))) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSONPath '%s': invalid regular "
                        "expression /%s/", s, strchr(lua_tostring(L, -2),
                                                     '/') + 1);
        return 2;
      }
      lua_pop(L, 1);
    }
  return 1;
}

static const luaL_Reg path_methods[] = {
  { "get", path_get },
  { "is_definite", path_is_definite },
  { "keys", path_keys },
  { "text", path_text },
  { NULL, NULL }
};

static const luaL_Reg path_meta[] = {
  { "__gc", path_gc },
  { "__tostring", path_tostring },
  { NULL, NULL }
};

int stepflow_jsonpath_open (lua_State *L) {
  if (luaL_newmetatable(L, PATH_MT)) {
    luaL_setfuncs(L, path_meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, path_methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, path_compile);
  lua_setfield(L, -2, "path_compile");
  return 0;
}
