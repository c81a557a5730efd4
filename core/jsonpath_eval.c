/*
** jsonpath_eval.c: evaluates a compiled JSONPath directly on Lua tables;
** a reference path ($.a[0].b) is a loop of raw gets, no allocation.
*/

#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "jsonpath_impl.h"

/* Deeper than any decoded JSON (STEPFLOW_JSON_MAXDEPTH): a cycle. */
#define MAXDEPTH 2000

/*
** Steps one =~ match may take: far more than any pattern of
** STEPFLOW_RE_MAXPROG instructions needs on a 256 KiB payload string in
** practice, small enough to end in well under a second.
*/
#define REGEX_BUDGET (64ul * 1024 * 1024)

/*
** Work one get() may do: a step applied to a value, a filter test, an
** element compared, an object member visited, a match collected. Filters
** nest ($..[?($..[?(@ == $)])]) and each one may scan the whole document
** again, so the work of a path grows as the document's size to the power
** of its nesting: past this budget (about a tenth of a second; a filter
** over 10,000 items takes some 50,000 steps) the evaluation raises.
*/
#define STEP_BUDGET (1ul * 1024 * 1024)

static void count (Eval *E) {
  if (++E->steps > STEP_BUDGET)
    luaL_error(E->L, "JSONPath: evaluation took more than %d steps (nested "
               "filters over a large document?)", (int)STEP_BUDGET);
}

static void deeper (Eval *E) {
  if (++E->depth > MAXDEPTH)
    luaL_error(E->L, "JSONPath: value nested deeper than %d (a cycle?)",
               MAXDEPTH);
}

/* See jsonpath_impl.h. */
int stepflow_jsonpath_walk (lua_State *L, const Step *steps, int st,
                            int strs) {
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
    count(E);
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
  count(E);
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
    count(E);
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
        return stepflow_jsonpath_walk(L, E->jp->steps, x->l, E->strs);
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
      count(E);
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
    count(E);
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
    if (has_a && lua_type(L, a) == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, a, &len);
      r = stepflow_re_match(E->jp->regex[E->jp->nodes[x->r].l], s, len,
                            REGEX_BUDGET);
      if (r < 0)
        luaL_error(L, "JSONPath: a regular expression took more than %d "
                   "steps on a string of %d bytes", (int)REGEX_BUDGET,
                   (int)len);
    }
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
  count(E);
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

void stepflow_jsonpath_eval (Eval *E, int st, int cur) {
  ev(E, st, cur);
}
