/*
** jsonpath.c: JSONPath (Jayway dialect, as AWS Step Functions uses it) for
** Lua: compile once into a userdata, get() on Lua tables. Part of
** stepflow.core.json; the compiler and the evaluator are in
** jsonpath_parse.c and jsonpath_eval.c.
*/

#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "jsonpath.h"
#include "jsonpath_impl.h"

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
    if (!stepflow_jsonpath_walk(L, jp->steps, jp->first, 3))
      lua_pushnil(L);
    return 1;
  }
  pusharraymt(L);
  lua_newtable(L);                      /* STACK: p, root, strings, mt, out */
  E.L = L; E.jp = jp; E.strs = 3; E.root = 2; E.amt = 4; E.out = 5;
  E.nout = 0; E.depth = 0; E.steps = 0;
  stepflow_jsonpath_eval(&E, jp->first, 2);
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

#define ALIGNED(n)  (((n) + 15u) & ~(size_t)15u)

/* Jayway trims the path text (Character.isWhitespace, ASCII part). */
static int isblank_ (int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

/*
** Compiles the regexes of jp (in node order) into the table at stack index
** tab, which keeps their blocks alive. Returns 0, or pushes the message
** and returns -1. text is the whole path, off the offset of the trimmed
** text in it.
*/
static int compileregexes (lua_State *L, JPath *jp, int strs, int tab,
                           const char *text, size_t off) {
  ReBuild *b = NULL;
  int k;
  for (k = 0; k < jp->nnodes; k++) {
    const Node *x = &jp->nodes[k];
    const char *pat, *err;
    size_t len, errpos;
    int nprog, nranges;
    if (x->kind != EX_REGEX) continue;
    if (b == NULL)   /* scratch, freed by the GC */
      b = (ReBuild *)lua_newuserdatauv(L, stepflow_re_buildsize(), 0);
    lua_rawgeti(L, strs, x->i);
    pat = lua_tolstring(L, -1, &len);
    if (stepflow_re_parse(b, pat, len, x->op, &nprog, &nranges, &err,
                          &errpos) < 0) {
      lua_pushfstring(L, "invalid JSONPath '%s': invalid regular expression "
                      "/%s/: %s at character %d", text, pat, err,
                      (int)(off + (size_t)x->r + errpos) + 1);
      return -1;
    }
    lua_pop(L, 1);
    jp->regex[x->l] = stepflow_re_emit(b, lua_newuserdatauv(
                                      L, stepflow_re_size(nprog, nranges), 0));
    lua_rawseti(L, tab, x->l + 1);
  }
  lua_settop(L, tab);
  return 0;
}

/* core.path_compile(text) -> Path | nil, message  [-0, +1|2, m] */
static int path_compile (lua_State *L) {
  size_t len, cap, size, lo = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  Parser P;
  JPath *jp;
  char *mem;
  int first = -1;
  lua_settop(L, 1);
  if (len >= 65536) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid JSONPath: text longer than 65535 bytes");
    return 2;
  }
  while (lo < len && isblank_((unsigned char)s[lo])) lo++;
  while (len > lo && isblank_((unsigned char)s[len - 1])) len--;
  len -= lo;
  cap = len + 2;
  memset(&P, 0, sizeof(P));
  P.L = L; P.s = s + lo; P.len = len;
  P.capsteps = P.capnodes = P.capints = (int)cap;
  mem = (char *)lua_newuserdatauv(L, cap * (sizeof(Step) + sizeof(Node) +
                                            sizeof(lua_Integer)), 0);
  P.steps = (Step *)mem;
  P.nodes = (Node *)(mem + cap * sizeof(Step));
  P.ints = (lua_Integer *)(mem + cap * (sizeof(Step) + sizeof(Node)));
  lua_newtable(L);                      /* STACK: text, scratch, strings */
  P.strtab = 3;
  if (len == 0 || P.s[0] != '$') {
    P.err = "expected '$'";
    P.errpos = 0;
  }
  else { P.pos = 1; first = stepflow_jsonpath_parse(&P); }
  if (P.err) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSONPath '%s': %s at character %d", s, P.err,
                    (int)(lo + P.errpos) + 1);
    return 2;
  }
  size = ALIGNED(sizeof(JPath)) + ALIGNED(P.nsteps * sizeof(Step)) +
         ALIGNED(P.nnodes * sizeof(Node)) +
         ALIGNED(P.nints * sizeof(lua_Integer)) + P.nregex * sizeof(Re *);
  jp = (JPath *)lua_newuserdatauv(L, size, 3);
  memset(jp, 0, sizeof(*jp));
  luaL_setmetatable(L, PATH_MT);
  mem = (char *)jp + ALIGNED(sizeof(JPath));
  jp->steps = (Step *)mem;
  mem += ALIGNED(P.nsteps * sizeof(Step));
  jp->nodes = (Node *)mem;
  mem += ALIGNED(P.nnodes * sizeof(Node));
  jp->ints = (lua_Integer *)mem;
  mem += ALIGNED(P.nints * sizeof(lua_Integer));
  jp->regex = (Re **)mem;
  if (P.nsteps) memcpy(jp->steps, P.steps, P.nsteps * sizeof(Step));
  if (P.nnodes) memcpy(jp->nodes, P.nodes, P.nnodes * sizeof(Node));
  if (P.nints) memcpy(jp->ints, P.ints, P.nints * sizeof(lua_Integer));
  jp->nsteps = P.nsteps; jp->nnodes = P.nnodes; jp->nints = P.nints;
  jp->nregex = P.nregex;
  jp->first = first;
  jp->ref = stepflow_jsonpath_isref(jp->steps, first);
  jp->definite = stepflow_jsonpath_isdefinite(jp->steps, first);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 4, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, 2);
  if (jp->nregex > 0) {
    lua_createtable(L, jp->nregex, 0);  /* STACK: ..., path, regexes */
    if (compileregexes(L, jp, 3, 5, s, lo) < 0) {
      lua_pushnil(L);
      lua_insert(L, -2);
      return 2;
    }
    lua_setiuservalue(L, 4, 3);
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
