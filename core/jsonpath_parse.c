/*
** jsonpath_parse.c: the JSONPath compiler: path text (Jayway's dialect,
** as AWS Step Functions takes it) to the step and filter arrays.
*/

#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "jsonpath_impl.h"

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

int stepflow_jsonpath_isref (const Step *steps, int st) {
  for (; st >= 0; st = steps[st].next)
    if ((steps[st].kind != ST_NAME && steps[st].kind != ST_INDEX) ||
        (steps[st].flags & SF_SCAN))
      return 0;
  return 1;
}

int stepflow_jsonpath_isdefinite (const Step *steps, int st) {
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
    P->nodes[n].r = stepflow_jsonpath_isref(P->steps, st) ? 1 :
                     stepflow_jsonpath_isdefinite(P->steps, st) ? 0 : -1;
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
    int flags = 0;
    while (peek(P) >= 0 && peek(P) != '/') {
      if (peek(P) == '\\' && peekat(P, 1) >= 0) P->pos++;
      P->pos++;
    }
    if (peek(P) != '/') return fail(P, start - 1, "unterminated regex");
    end = P->pos++;
    /* Jayway reads one flag after the pattern: i */
    if (peek(P) == 'i') { flags = STEPFLOW_RE_ICASE; P->pos++; }
    if (peek(P) >= 'a' && peek(P) <= 'z')
      return fail(P, P->pos, "unsupported regex flag (only i)");
    lua_pushlstring(P->L, P->s + start, end - start);
    if ((n = newnode(P, EX_REGEX)) < 0) { lua_pop(P->L, 1); return -1; }
    P->nodes[n].i = addstr(P);
    P->nodes[n].l = P->nregex++;
    P->nodes[n].r = (int)start;
    P->nodes[n].op = (unsigned char)flags;
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


int stepflow_jsonpath_parse (Parser *P) {
  return path(P, 0);
}
